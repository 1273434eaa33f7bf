/**
 * The environment contract of the cutover Lambda functions: every variable name and every value of
 * `TRAFFIC_SWITCH_KIND`. The construct (lib/cutover) writes these and the handler (lambda/handlers/environment.ts) reads
 * them; both import them from here, so the names cannot drift apart. What each variable means is documented
 * in lambda/handlers/environment.ts.
 *
 * Runtime-dependency free on purpose (no AWS SDK, no CDK): the construct library imports this file.
 */
import type { CutoverDependency } from './steps';

/** Names of the environment variables, by meaning. */
export const CUTOVER_ENVIRONMENT = {
  sourceSecretArn: 'SOURCE_SECRET_ARN',
  targetSecretArn: 'TARGET_SECRET_ARN',
  tables: 'TABLES_JSON',
  replicationTaskArn: 'REPLICATION_TASK_ARN',
  replicationInstanceId: 'REPLICATION_INSTANCE_ID',
  replicationTaskId: 'REPLICATION_TASK_ID',
  stateTableName: 'STATE_TABLE_NAME',
  topicArn: 'TOPIC_ARN',
  lagAlarmNames: 'LAG_ALARM_NAMES',
  trafficSwitchKind: 'TRAFFIC_SWITCH_KIND',
  trafficSwitchTarget: 'TRAFFIC_SWITCH_TARGET',
  trafficSwitchTtlSeconds: 'TRAFFIC_SWITCH_TTL_SECONDS',
  reverseTaskArn: 'REVERSE_REPLICATION_TASK_ARN',
  reverseInstanceId: 'REVERSE_REPLICATION_INSTANCE_ID',
  reverseTaskId: 'REVERSE_REPLICATION_TASK_ID',
  reverseSlotName: 'REVERSE_SLOT_NAME',
  reverseSlotPlugin: 'REVERSE_SLOT_PLUGIN',
  reverseLagAlarmNames: 'REVERSE_LAG_ALARM_NAMES',
  readTrafficSwitchKind: 'READ_TRAFFIC_SWITCH_KIND',
  readTrafficSwitchTarget: 'READ_TRAFFIC_SWITCH_TARGET',
  defaults: 'DEFAULTS_JSON',
  rowsPerRange: 'ROWS_PER_RANGE',
  allowedSteps: 'ALLOWED_STEPS',
  // Read by lambda/engine/aws/database-secret.ts (connection settings). The construct sets the two modes and, for a
  // source verified against a private CA, the path of the source CA file (a layer: a PEM in the environment would
  // not fit Lambda's 4 KB); DB_SSL and DB_SECRET_CACHE_SECONDS stay at their defaults.
  sourceDbSslMode: 'SOURCE_DB_SSL_MODE',
  sourceDbSslCaPem: 'SOURCE_DB_SSL_CA_PEM',
  sourceDbSslCaFile: 'SOURCE_DB_SSL_CA_FILE',
  targetDbSslMode: 'TARGET_DB_SSL_MODE',
  // The database to connect to on each side, overriding the secret's `dbname` (a generated Aurora secret has none).
  sourceDbName: 'SOURCE_DB_NAME',
  targetDbName: 'TARGET_DB_NAME',
  targetDbSslCaPem: 'TARGET_DB_SSL_CA_PEM',
  targetDbSslCaFile: 'TARGET_DB_SSL_CA_FILE',
  dbSsl: 'DB_SSL',
  dbSecretCacheSeconds: 'DB_SECRET_CACHE_SECONDS',
} as const;

export type CutoverEnvironmentKey = keyof typeof CUTOVER_ENVIRONMENT;
export type CutoverEnvironmentVariable = (typeof CUTOVER_ENVIRONMENT)[CutoverEnvironmentKey];

/** Every variable name. */
export const ENVIRONMENT_VARIABLES: readonly CutoverEnvironmentVariable[] = Object.values(CUTOVER_ENVIRONMENT);

/** Values of `TRAFFIC_SWITCH_KIND`. */
export const TRAFFIC_SWITCH_KIND = {
  none: 'none',
  ssmParameter: 'ssm-parameter',
  secret: 'secret',
  route53Cname: 'route53-cname',
} as const;

export type TrafficSwitchKind = (typeof TRAFFIC_SWITCH_KIND)[keyof typeof TRAFFIC_SWITCH_KIND];

export const TRAFFIC_SWITCH_KINDS: readonly TrafficSwitchKind[] = Object.values(TRAFFIC_SWITCH_KIND);

/** `TRAFFIC_SWITCH_TARGET` of `route53-cname` is `<hostedZoneId>` + this + `<record name>`. */
export const ROUTE53_TARGET_SEPARATOR = '/';

/**
 * Variables each dependency reads when it is first used (optional ones included). A function needs exactly
 * the variables of the dependencies its steps use.
 */
export const DEPENDENCY_ENVIRONMENT: Readonly<Record<CutoverDependency, readonly CutoverEnvironmentVariable[]>> = {
  source: [
    CUTOVER_ENVIRONMENT.sourceSecretArn,
    CUTOVER_ENVIRONMENT.sourceDbName,
    CUTOVER_ENVIRONMENT.sourceDbSslMode,
    CUTOVER_ENVIRONMENT.sourceDbSslCaPem,
    CUTOVER_ENVIRONMENT.sourceDbSslCaFile,
    CUTOVER_ENVIRONMENT.dbSsl,
    CUTOVER_ENVIRONMENT.dbSecretCacheSeconds,
  ],
  target: [
    CUTOVER_ENVIRONMENT.targetSecretArn,
    CUTOVER_ENVIRONMENT.targetDbName,
    CUTOVER_ENVIRONMENT.targetDbSslMode,
    CUTOVER_ENVIRONMENT.targetDbSslCaPem,
    CUTOVER_ENVIRONMENT.targetDbSslCaFile,
    CUTOVER_ENVIRONMENT.dbSsl,
    CUTOVER_ENVIRONMENT.dbSecretCacheSeconds,
  ],
  tables: [CUTOVER_ENVIRONMENT.tables],
  replication: [
    CUTOVER_ENVIRONMENT.replicationTaskArn,
    CUTOVER_ENVIRONMENT.replicationInstanceId,
    CUTOVER_ENVIRONMENT.replicationTaskId,
  ],
  state: [CUTOVER_ENVIRONMENT.stateTableName],
  notifier: [CUTOVER_ENVIRONMENT.topicArn],
  alarms: [CUTOVER_ENVIRONMENT.lagAlarmNames],
  traffic: [
    CUTOVER_ENVIRONMENT.trafficSwitchKind,
    CUTOVER_ENVIRONMENT.trafficSwitchTarget,
    CUTOVER_ENVIRONMENT.trafficSwitchTtlSeconds,
  ],
  readTraffic: [
    CUTOVER_ENVIRONMENT.readTrafficSwitchKind,
    CUTOVER_ENVIRONMENT.readTrafficSwitchTarget,
    CUTOVER_ENVIRONMENT.trafficSwitchTtlSeconds,
  ],
  reverse: [
    CUTOVER_ENVIRONMENT.reverseTaskArn,
    CUTOVER_ENVIRONMENT.reverseInstanceId,
    CUTOVER_ENVIRONMENT.reverseTaskId,
    CUTOVER_ENVIRONMENT.reverseSlotName,
    CUTOVER_ENVIRONMENT.reverseSlotPlugin,
  ],
  reverseAlarms: [CUTOVER_ENVIRONMENT.reverseLagAlarmNames],
  defaults: [CUTOVER_ENVIRONMENT.defaults],
  rowsPerRange: [CUTOVER_ENVIRONMENT.rowsPerRange],
  // The namespace and dimensions are the contract's (contract/metrics.ts): nothing to configure.
  cutoverMetrics: [],
};
