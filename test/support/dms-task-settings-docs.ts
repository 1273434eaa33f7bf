/**
 * DMS replication task settings as the DMS User Guide documents them: the keys of each section this library writes,
 * and the log component ids and severities. A task whose settings carry a key DMS does not know is rejected ("Unsupported
 * keys were found: VALIDATOR"), and CloudFormation types `ReplicationTaskSettings` as a plain string, so nothing else
 * checks these before a deploy.
 *
 * Sources (AWS Database Migration Service User Guide, "Specifying task settings for AWS Database Migration Service
 * tasks" and its sub-pages):
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.html (Task settings example)
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.TargetMetadata.html
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.FullLoad.html
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.Logging.html
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.DataValidation.html
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.DDLHandling.html
 * - https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.ErrorHandling.html
 */

/** Documented keys of each task settings section this library writes. */
export const DOCUMENTED_TASK_SETTINGS_KEYS: Readonly<Record<string, readonly string[]>> = {
  TargetMetadata: [
    'TargetSchema',
    'SupportLobs',
    'FullLobMode',
    'LobChunkSize',
    'LimitedSizeLobMode',
    'LobMaxSize',
    'InlineLobMaxSize',
    'LoadMaxFileSize',
    'ParallelLoadThreads',
    'ParallelLoadBufferSize',
    'ParallelLoadQueuesPerThread',
    'ParallelApplyThreads',
    'ParallelApplyBufferSize',
    'ParallelApplyQueuesPerThread',
    'BatchApplyEnabled',
    'TaskRecoveryTableEnabled',
  ],
  FullLoadSettings: [
    'TargetTablePrepMode',
    'CreatePkAfterFullLoad',
    'StopTaskCachedChangesApplied',
    'StopTaskCachedChangesNotApplied',
    'MaxFullLoadSubTasks',
    'TransactionConsistencyTimeout',
    'CommitRate',
  ],
  Logging: ['EnableLogging', 'EnableLogContext', 'LogComponents', 'CloudWatchLogGroup', 'CloudWatchLogStream'],
  ValidationSettings: [
    'EnableValidation',
    'ValidationMode',
    'ThreadCount',
    'PartitionSize',
    'FailureMaxCount',
    'RecordFailureDelayInMinutes',
    'RecordSuspendDelayInMinutes',
    'MaxKeyColumnSize',
    'TableFailureMaxCount',
    'ValidationOnly',
    'HandleCollationDiff',
    'RecordFailureDelayLimitInMinutes',
    'SkipLobColumns',
    'ValidationPartialLobSize',
    'ValidationQueryCdcDelaySeconds',
  ],
  ErrorBehavior: [
    'DataErrorPolicy',
    'DataTruncationErrorPolicy',
    'DataMaskingErrorPolicy',
    'DataErrorEscalationPolicy',
    'DataErrorEscalationCount',
    'EventErrorPolicy',
    'TableErrorPolicy',
    'TableErrorEscalationPolicy',
    'TableErrorEscalationCount',
    'RecoverableErrorCount',
    'RecoverableErrorInterval',
    'RecoverableErrorThrottling',
    'RecoverableErrorThrottlingMax',
    'RecoverableErrorStopRetryAfterThrottlingMax',
    'ApplyErrorDeletePolicy',
    'ApplyErrorInsertPolicy',
    'ApplyErrorUpdatePolicy',
    'ApplyErrorEscalationPolicy',
    'ApplyErrorEscalationCount',
    'ApplyErrorFailOnTruncationDdl',
    'FailOnNoTablesCaptured',
    'FailOnTransactionConsistencyBreached',
    'FullLoadIgnoreConflicts',
  ],
  ChangeProcessingDdlHandlingPolicy: [
    'HandleSourceTableDropped',
    'HandleSourceTableTruncated',
    'HandleSourceTableAltered',
  ],
};

/** Logging task settings: the documented component ids (`VALIDATOR_EXT`; there is no `VALIDATOR`). */
export const DOCUMENTED_LOG_COMPONENTS: readonly string[] = [
  'TRANSFORMATION',
  'SOURCE_UNLOAD',
  'IO',
  'TARGET_LOAD',
  'PERFORMANCE',
  'SOURCE_CAPTURE',
  'SORTER',
  'REST_SERVER',
  'VALIDATOR_EXT',
  'TARGET_APPLY',
  'TASK_MANAGER',
  'TABLES_MANAGER',
  'METADATA_MANAGER',
  'FILE_FACTORY',
  'COMMON',
  'ADDONS',
  'DATA_STRUCTURE',
  'COMMUNICATION',
  'FILE_TRANSFER',
];

/** Logging task settings: the documented severities. */
export const DOCUMENTED_LOG_SEVERITIES: readonly string[] = [
  'LOGGER_SEVERITY_DEFAULT',
  'LOGGER_SEVERITY_ERROR',
  'LOGGER_SEVERITY_WARNING',
  'LOGGER_SEVERITY_INFO',
  'LOGGER_SEVERITY_DEBUG',
  'LOGGER_SEVERITY_DETAILED_DEBUG',
];

/** Full-load task settings: the documented `TargetTablePrepMode` values. */
export const DOCUMENTED_TARGET_TABLE_PREP_MODES: readonly string[] = [
  'DO_NOTHING',
  'DROP_AND_CREATE',
  'TRUNCATE_BEFORE_LOAD',
];

/** Data validation task settings: "Currently, the default and only valid value is ROW_LEVEL." */
export const DOCUMENTED_VALIDATION_MODES: readonly string[] = ['ROW_LEVEL'];

/** Error handling: the apply-conflict policies' documented values (INSERT_RECORD / UPDATE_RECORD: the Insert/Update ones). */
export const DOCUMENTED_APPLY_ERROR_POLICIES: readonly string[] = [
  'IGNORE_RECORD',
  'LOG_ERROR',
  'SUSPEND_TABLE',
  'STOP_TASK',
  'INSERT_RECORD',
  'UPDATE_RECORD',
];
