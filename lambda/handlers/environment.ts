/**
 * Builds the cutover's dependencies from the Lambda environment, once per container.
 *
 * Environment variables (set by the construct; each is read only when a step needs it, so a function that
 * serves only some steps needs only their variables — a missing one fails with an error naming it). The names
 * and the `TRAFFIC_SWITCH_KIND` values are defined once in contract/environment.ts, which the construct imports:
 *
 * | variable | required | meaning |
 * |---|---|---|
 * | `SOURCE_SECRET_ARN` | yes | Secrets Manager secret `{host, port, username, password, dbname}` of the source |
 * | `TARGET_SECRET_ARN` | yes | the same for the Aurora target |
 * | `TABLES_JSON` | yes | the table selection, JSON `{"include":[{"schema":"public"}],"exclude":[...]}` |
 * | `REPLICATION_TASK_ARN` | yes | DMS replication task ARN |
 * | `REPLICATION_INSTANCE_ID` | yes | DMS replication instance identifier (metric dimension) |
 * | `REPLICATION_TASK_ID` | yes | DMS replication task identifier (metric dimension) |
 * | `STATE_TABLE_NAME` | yes | DynamoDB table, partition key `migrationId` (string) |
 * | `TOPIC_ARN` | yes | SNS topic for operator notices |
 * | `LAG_ALARM_NAMES` | no | JSON list of alarm names whose actions are off while replication is stopped on purpose. Default `[]` |
 * | `TRAFFIC_SWITCH_KIND` | no | `none` (default), `ssm-parameter`, `secret` or `route53-cname` |
 * | `TRAFFIC_SWITCH_TARGET` | with a kind | parameter name; secret ARN; `<hostedZoneId>/<record name>` |
 * | `REVERSE_REPLICATION_TASK_ARN` | no | the CDC-only DMS task Aurora → source (the way back); without it there is none |
 * | `REVERSE_REPLICATION_INSTANCE_ID`, `REVERSE_REPLICATION_TASK_ID` | with the task | its metric dimensions |
 * | `REVERSE_SLOT_NAME`, `REVERSE_SLOT_PLUGIN` | with the task | the slot its source endpoint reads, and its plugin |
 * | `REVERSE_LAG_ALARM_NAMES` | no | JSON list of the reverse task's lag alarms (actions on when it starts). Default `[]` |
 * | `READ_TRAFFIC_SWITCH_KIND`, `READ_TRAFFIC_SWITCH_TARGET` | no | the same for the read path (read-first switch). Default `none` |
 * | `TRAFFIC_SWITCH_TTL_SECONDS` | no | CNAME TTL for `route53-cname` (both switches). Default 60 |
 * | `DEFAULTS_JSON` | no | defaults for execution input fields (`CutoverDefaults`, contract/cutover.ts): `{"applicationRoles":["app"],"acknowledgedWriters":[],"lagThresholdSeconds":5,"consecutiveChecks":3,"syncTimeoutSeconds":7200,"finalSyncTimeoutSeconds":300,"requireApproval":false,"switchTrafficTo":"","switchReadsTo":"","readTrafficSwitch":false,"fallbackTrafficTo":""}` |
 * | `ROWS_PER_RANGE` | no | rows per validation range (Map item). Default: the validation engine's |
 * | `ALLOWED_STEPS` | no | comma-separated (or JSON list of) step names this function serves. Default: all |
 * | `SOURCE_DB_NAME`, `TARGET_DB_NAME` | no | the database to connect to on each side, over the secret's `dbname` (the construct sets both: the databases DMS replicates; a generated Aurora secret has no `dbname`) |
 * | `SOURCE_DB_SSL_MODE`, `TARGET_DB_SSL_MODE` | no | TLS per database: `disable`, `require` (encrypt, accept any certificate, like DMS `require`), `verify-ca` (chain, not host name) or `verify-full` (chain and host name). Default `verify-full`; the construct sets the source's from `source.sslMode` and the target's to `verify-full` |
 * | `SOURCE_DB_SSL_CA_PEM`, `TARGET_DB_SSL_CA_PEM` | no | PEM text of a CA trusted for that side in addition to the default store (which holds `NODE_EXTRA_CA_CERTS`, the RDS CA bundle) |
 * | `SOURCE_DB_SSL_CA_FILE`, `TARGET_DB_SSL_CA_FILE` | no | the same CA as a file path (the construct ships the source CA in a layer under `/opt`); not with `*_DB_SSL_CA_PEM` |
 * | `DB_SSL` | no | legacy, both sides: `disable`/`false`/`off`/`0`/`no` turns TLS off where no `*_DB_SSL_MODE` is set; `require`/`true`/`on`/`1`/`yes` changes nothing; anything else is an error. `DB_SSL_REJECT_UNAUTHORIZED` / `DB_SSL_CA_FILE` are no longer read (setting them is an error) |
 * | `DB_SECRET_CACHE_SECONDS` | no | see `lambda/engine/aws/database-secret.ts`. Default 900 |
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CloudWatchAlarmControl } from '../engine/aws/cloudwatch-alarm-control';
import { CloudWatchCutoverMetrics } from '../engine/aws/cloudwatch-cutover-metrics';
import { databaseConfigFromSecret } from '../engine/aws/database-secret';
import { SnsNotifier } from '../engine/aws/sns-notifier';
import { DmsReverseReplication } from '../engine/replication/dms-reverse-replication';
import {
  STEPS,
  type StepName,
  assertValidSelection,
  type TableSelection,
  CUTOVER_ENVIRONMENT,
  ROUTE53_TARGET_SEPARATOR,
  TRAFFIC_SWITCH_KIND,
  TRAFFIC_SWITCH_KINDS,
  type CutoverEnvironmentVariable,
  parseCutoverDefaults,
  type CutoverDefaults,
} from '../../contract';
import type { CutoverDeps } from '../engine/cutover/deps';
import type {
  AlarmControl,
  Notifier,
  ReplicationPort,
  ReverseReplicationPort,
  StateStore,
  TrafficSwitch,
} from '../engine/ports';
import { DmsTaskReplication } from '../engine/replication/dms-task-replication';
import { DynamoDbStateStore } from '../engine/state/dynamodb-state-store';
import { Route53RecordTrafficSwitch } from '../engine/traffic/route53-record-traffic-switch';
import { SecretTrafficSwitch } from '../engine/traffic/secret-traffic-switch';
import { SsmParameterTrafficSwitch } from '../engine/traffic/ssm-parameter-traffic-switch';

export {
  CUTOVER_ENVIRONMENT,
  ENVIRONMENT_VARIABLES,
  TRAFFIC_SWITCH_KIND,
  TRAFFIC_SWITCH_KINDS,
  type CutoverEnvironmentVariable,
  type TrafficSwitchKind,
} from '../../contract';

const E = CUTOVER_ENVIRONMENT;

/** AWS SDK clients, injectable for tests. */
export interface AwsClients {
  readonly secretsManager?: SecretsManagerClient;
  readonly dms?: DatabaseMigrationServiceClient;
  readonly cloudwatch?: CloudWatchClient;
  readonly dynamodb?: DynamoDBClient;
  readonly sns?: SNSClient;
  readonly ssm?: SSMClient;
  readonly route53?: Route53Client;
}

export function requireEnv(env: NodeJS.ProcessEnv, name: CutoverEnvironmentVariable): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`environment variable ${name} is not set (the cutover Lambda function needs it)`);
  }
  return value;
}

function parseJsonEnv<T>(env: NodeJS.ProcessEnv, name: CutoverEnvironmentVariable, fallback?: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    if (fallback !== undefined) return fallback;
    requireEnv(env, name);
  }
  try {
    return JSON.parse(raw as string) as T;
  } catch (error) {
    throw new Error(`environment variable ${name} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Steps this function serves (ALLOWED_STEPS), all by default. */
export function allowedSteps(env: NodeJS.ProcessEnv = process.env): readonly StepName[] {
  const raw = env[E.allowedSteps]?.trim();
  if (!raw) return STEPS;
  const list = raw.startsWith('[') ? (parseJsonEnv<unknown[]>(env, E.allowedSteps) as string[]) : raw.split(',');
  const steps = list.map((s) => String(s).trim()).filter(Boolean);
  const unknown = steps.filter((s) => !(STEPS as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new Error(
      `environment variable ${E.allowedSteps} names unknown step(s) ${unknown.join(', ')}; known: ${STEPS.join(', ')}`,
    );
  }
  return steps as StepName[];
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

/** CutoverDeps from the environment. Each dependency is built on first use (and its variables read then). */
export function createDepsFromEnvironment(env: NodeJS.ProcessEnv = process.env, clients: AwsClients = {}): CutoverDeps {
  const tables = lazy((): TableSelection => {
    const selection = parseJsonEnv<TableSelection>(env, E.tables);
    try {
      assertValidSelection(selection);
    } catch (error) {
      throw new Error(`environment variable ${E.tables}: ${(error as Error).message}`, { cause: error });
    }
    return selection;
  });
  const replication = lazy(
    (): ReplicationPort =>
      new DmsTaskReplication({
        replicationTaskArn: requireEnv(env, E.replicationTaskArn),
        replicationInstanceId: requireEnv(env, E.replicationInstanceId),
        replicationTaskId: requireEnv(env, E.replicationTaskId),
        ...(clients.dms ? { dms: clients.dms } : {}),
        ...(clients.cloudwatch ? { cloudwatch: clients.cloudwatch } : {}),
      }),
  );
  const state = lazy(
    (): StateStore =>
      new DynamoDbStateStore({
        tableName: requireEnv(env, E.stateTableName),
        ...(clients.dynamodb ? { client: clients.dynamodb } : {}),
      }),
  );
  const reverse = lazy((): ReverseReplicationPort | undefined => {
    const arn = env[E.reverseTaskArn];
    if (!arn) return undefined;
    return new DmsReverseReplication({
      replicationTaskArn: arn,
      replicationInstanceId: requireEnv(env, E.reverseInstanceId),
      replicationTaskId: requireEnv(env, E.reverseTaskId),
      slotName: requireEnv(env, E.reverseSlotName),
      slotPlugin: requireEnv(env, E.reverseSlotPlugin),
      ...(clients.dms ? { dms: clients.dms } : {}),
      ...(clients.cloudwatch ? { cloudwatch: clients.cloudwatch } : {}),
    });
  });
  const alarmControl = (variable: CutoverEnvironmentVariable): AlarmControl => {
    const names = parseJsonEnv<unknown>(env, variable, []);
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0)) {
      throw new Error(`environment variable ${variable} must be a JSON list of alarm names, got ${env[variable]}`);
    }
    return new CloudWatchAlarmControl(names as string[], clients.cloudwatch);
  };
  const notifier = lazy((): Notifier => new SnsNotifier(requireEnv(env, E.topicArn), clients.sns));
  const alarms = lazy(() => alarmControl(E.lagAlarmNames));
  const reverseAlarms = lazy(() => alarmControl(E.reverseLagAlarmNames));
  const trafficSwitch = (
    kindVariable: CutoverEnvironmentVariable,
    targetVariable: CutoverEnvironmentVariable,
  ): TrafficSwitch | undefined => {
    const kind = (env[kindVariable] ?? TRAFFIC_SWITCH_KIND.none).trim() || TRAFFIC_SWITCH_KIND.none;
    if (!(TRAFFIC_SWITCH_KINDS as readonly string[]).includes(kind)) {
      throw new Error(
        `environment variable ${kindVariable} must be one of ${TRAFFIC_SWITCH_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
      );
    }
    if (kind === TRAFFIC_SWITCH_KIND.none) return undefined;
    const target = requireEnv(env, targetVariable);
    if (kind === TRAFFIC_SWITCH_KIND.ssmParameter) return new SsmParameterTrafficSwitch(target, clients.ssm);
    if (kind === TRAFFIC_SWITCH_KIND.secret) return new SecretTrafficSwitch(target, clients.secretsManager);
    const slash = target.indexOf(ROUTE53_TARGET_SEPARATOR);
    if (slash <= 0 || slash === target.length - 1) {
      throw new Error(
        `environment variable ${targetVariable} must be "<hostedZoneId>${ROUTE53_TARGET_SEPARATOR}<record name>" for ${TRAFFIC_SWITCH_KIND.route53Cname}, got ${JSON.stringify(target)}`,
      );
    }
    const ttlRaw = env[E.trafficSwitchTtlSeconds];
    const ttl = ttlRaw ? Number(ttlRaw) : 60;
    if (!Number.isInteger(ttl) || ttl < 0) {
      throw new Error(`environment variable ${E.trafficSwitchTtlSeconds} must be a whole number, got ${ttlRaw}`);
    }
    return new Route53RecordTrafficSwitch(
      target.slice(0, slash),
      target.slice(slash + ROUTE53_TARGET_SEPARATOR.length),
      ttl,
      clients.route53,
    );
  };
  const traffic = lazy(() => trafficSwitch(E.trafficSwitchKind, E.trafficSwitchTarget));
  const readTraffic = lazy(() => trafficSwitch(E.readTrafficSwitchKind, E.readTrafficSwitchTarget));
  const defaults = lazy((): CutoverDefaults => {
    const value = parseJsonEnv<unknown>(env, E.defaults, {});
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`environment variable ${E.defaults} must be a JSON object, got ${env[E.defaults]}`);
    }
    return parseCutoverDefaults(value, `environment variable ${E.defaults}`);
  });
  const rowsPerRange = lazy((): number | undefined => {
    const raw = env[E.rowsPerRange];
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`environment variable ${E.rowsPerRange} must be a positive whole number, got ${raw}`);
    return n;
  });
  const cutoverMetrics = lazy(
    () => new CloudWatchCutoverMetrics(clients.cloudwatch ? { cloudwatch: clients.cloudwatch } : {}),
  );
  const secretOptions = { env, ...(clients.secretsManager ? { client: clients.secretsManager } : {}) };
  return {
    source: () => databaseConfigFromSecret(requireEnv(env, E.sourceSecretArn), { ...secretOptions, side: 'source' }),
    target: () => databaseConfigFromSecret(requireEnv(env, E.targetSecretArn), { ...secretOptions, side: 'target' }),
    get tables() {
      return tables();
    },
    get replication() {
      return replication();
    },
    get state() {
      return state();
    },
    get notifier() {
      return notifier();
    },
    get alarms() {
      return alarms();
    },
    get traffic() {
      return traffic();
    },
    get readTraffic() {
      return readTraffic();
    },
    get reverse() {
      return reverse();
    },
    get reverseAlarms() {
      return reverseAlarms();
    },
    get defaults() {
      return defaults();
    },
    get rowsPerRange() {
      return rowsPerRange();
    },
    get cutoverMetrics() {
      return cutoverMetrics();
    },
  };
}
