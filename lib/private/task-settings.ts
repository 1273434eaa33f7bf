/** Inputs of the DMS replication task settings document. */
export interface TaskSettingsInput {
  readonly targetTablePrepMode: string;
  readonly lobMaxSizeKiB: number;
  readonly enableValidation: boolean;
  readonly maxFullLoadSubTasks: number;
}

const LOG_COMPONENTS = [
  'SOURCE_UNLOAD',
  'SOURCE_CAPTURE',
  'TARGET_LOAD',
  'TARGET_APPLY',
  'TASK_MANAGER',
  // DMS documents VALIDATOR_EXT only; a task with `VALIDATOR` is rejected ("Unsupported keys were found: VALIDATOR").
  'VALIDATOR_EXT',
];

/** DMS `ReplicationTaskSettings` for a PostgreSQL to Aurora PostgreSQL full-load-and-cdc task. */
export function replicationTaskSettings(input: TaskSettingsInput): Record<string, unknown> {
  return {
    TargetMetadata: {
      TargetSchema: '',
      SupportLobs: true,
      FullLobMode: false,
      LobChunkSize: 0,
      LimitedSizeLobMode: true,
      LobMaxSize: input.lobMaxSizeKiB,
      BatchApplyEnabled: false,
    },
    FullLoadSettings: {
      TargetTablePrepMode: input.targetTablePrepMode,
      CreatePkAfterFullLoad: false,
      StopTaskCachedChangesApplied: false,
      StopTaskCachedChangesNotApplied: false,
      MaxFullLoadSubTasks: input.maxFullLoadSubTasks,
      TransactionConsistencyTimeout: 600,
      CommitRate: 10000,
    },
    Logging: {
      EnableLogging: true,
      LogComponents: LOG_COMPONENTS.map((Id) => ({ Id, Severity: 'LOGGER_SEVERITY_DEFAULT' })),
    },
    ValidationSettings: {
      EnableValidation: input.enableValidation,
      ValidationMode: 'ROW_LEVEL',
      ThreadCount: 5,
      FailureMaxCount: 10000,
      TableFailureMaxCount: 1000,
      HandleCollationDiff: false,
      RecordFailureDelayLimitInMinutes: 0,
    },
    ChangeProcessingDdlHandlingPolicy: {
      HandleSourceTableDropped: true,
      HandleSourceTableTruncated: true,
      HandleSourceTableAltered: true,
    },
  };
}
