/**
 * Builds the cutover's dependencies from the Lambda environment, once per container.
 *
 * Environment variables (set by the construct; each is read only when a step needs it, so a function that
 * serves only some steps needs only their variables — a missing one fails with an error naming it):
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
 * | `TRAFFIC_SWITCH_TTL_SECONDS` | no | CNAME TTL for `route53-cname`. Default 60 |
 * | `DEFAULTS_JSON` | no | defaults for execution input fields: `{"applicationRoles":["app"],"lagThresholdSeconds":5,"consecutiveChecks":3,"syncTimeoutSeconds":1800,"finalSyncTimeoutSeconds":120,"requireApproval":false,"switchTrafficTo":""}` |
 * | `ROWS_PER_RANGE` | no | rows per validation range (Map item). Default: the validation engine's |
 * | `ALLOWED_STEPS` | no | comma-separated (or JSON list of) step names this function serves. Default: all |
 * | `DB_SSL`, `DB_SSL_REJECT_UNAUTHORIZED`, `DB_SSL_CA_FILE`, `DB_SECRET_CACHE_SECONDS` | no | see `lambda/engine/aws/database-secret.ts` |
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CloudWatchAlarmControl } from '../engine/aws/cloudwatch-alarm-control';
import { databaseConfigFromSecret } from '../engine/aws/database-secret';
import { SnsNotifier } from '../engine/aws/sns-notifier';
import { STEPS, type StepName } from '../engine/cutover/contract';
import type { CutoverDeps } from '../engine/cutover/deps';
import type { AlarmControl, Notifier, ReplicationPort, StateStore, TrafficSwitch } from '../engine/ports';
import { DmsReplication } from '../engine/replication/dms-replication';
import { DynamoDbStateStore } from '../engine/state/dynamodb-state-store';
import { assertValidSelection, type TableSelection } from '../engine/table-selection';
import { Route53RecordTrafficSwitch } from '../engine/traffic/route53-record-traffic-switch';
import { SecretTrafficSwitch } from '../engine/traffic/secret-traffic-switch';
import { SsmParameterTrafficSwitch } from '../engine/traffic/ssm-parameter-traffic-switch';

export const ENVIRONMENT_VARIABLES = [
  'SOURCE_SECRET_ARN',
  'TARGET_SECRET_ARN',
  'TABLES_JSON',
  'REPLICATION_TASK_ARN',
  'REPLICATION_INSTANCE_ID',
  'REPLICATION_TASK_ID',
  'STATE_TABLE_NAME',
  'TOPIC_ARN',
  'LAG_ALARM_NAMES',
  'TRAFFIC_SWITCH_KIND',
  'TRAFFIC_SWITCH_TARGET',
  'TRAFFIC_SWITCH_TTL_SECONDS',
  'DEFAULTS_JSON',
  'ROWS_PER_RANGE',
  'ALLOWED_STEPS',
] as const;

export const TRAFFIC_SWITCH_KINDS = ['none', 'ssm-parameter', 'secret', 'route53-cname'] as const;

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

export function requireEnv(env: NodeJS.ProcessEnv, name: (typeof ENVIRONMENT_VARIABLES)[number]): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`environment variable ${name} is not set (the cutover Lambda function needs it)`);
  }
  return value;
}

function parseJsonEnv<T>(env: NodeJS.ProcessEnv, name: (typeof ENVIRONMENT_VARIABLES)[number], fallback?: T): T {
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
  const raw = env.ALLOWED_STEPS?.trim();
  if (!raw) return STEPS;
  const list = raw.startsWith('[') ? (parseJsonEnv<unknown[]>(env, 'ALLOWED_STEPS') as string[]) : raw.split(',');
  const steps = list.map((s) => String(s).trim()).filter(Boolean);
  const unknown = steps.filter((s) => !(STEPS as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new Error(
      `environment variable ALLOWED_STEPS names unknown step(s) ${unknown.join(', ')}; known: ${STEPS.join(', ')}`,
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
    const selection = parseJsonEnv<TableSelection>(env, 'TABLES_JSON');
    try {
      assertValidSelection(selection);
    } catch (error) {
      throw new Error(`environment variable TABLES_JSON: ${(error as Error).message}`, { cause: error });
    }
    return selection;
  });
  const replication = lazy(
    (): ReplicationPort =>
      new DmsReplication({
        replicationTaskArn: requireEnv(env, 'REPLICATION_TASK_ARN'),
        replicationInstanceId: requireEnv(env, 'REPLICATION_INSTANCE_ID'),
        replicationTaskId: requireEnv(env, 'REPLICATION_TASK_ID'),
        ...(clients.dms ? { dms: clients.dms } : {}),
        ...(clients.cloudwatch ? { cloudwatch: clients.cloudwatch } : {}),
      }),
  );
  const state = lazy(
    (): StateStore =>
      new DynamoDbStateStore({
        tableName: requireEnv(env, 'STATE_TABLE_NAME'),
        ...(clients.dynamodb ? { client: clients.dynamodb } : {}),
      }),
  );
  const notifier = lazy((): Notifier => new SnsNotifier(requireEnv(env, 'TOPIC_ARN'), clients.sns));
  const alarms = lazy((): AlarmControl => {
    const names = parseJsonEnv<unknown>(env, 'LAG_ALARM_NAMES', []);
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0)) {
      throw new Error(
        `environment variable LAG_ALARM_NAMES must be a JSON list of alarm names, got ${env.LAG_ALARM_NAMES}`,
      );
    }
    return new CloudWatchAlarmControl(names as string[], clients.cloudwatch);
  });
  const traffic = lazy((): TrafficSwitch | undefined => {
    const kind = (env.TRAFFIC_SWITCH_KIND ?? 'none').trim() || 'none';
    if (!(TRAFFIC_SWITCH_KINDS as readonly string[]).includes(kind)) {
      throw new Error(
        `environment variable TRAFFIC_SWITCH_KIND must be one of ${TRAFFIC_SWITCH_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
      );
    }
    if (kind === 'none') return undefined;
    const target = requireEnv(env, 'TRAFFIC_SWITCH_TARGET');
    if (kind === 'ssm-parameter') return new SsmParameterTrafficSwitch(target, clients.ssm);
    if (kind === 'secret') return new SecretTrafficSwitch(target, clients.secretsManager);
    const slash = target.indexOf('/');
    if (slash <= 0 || slash === target.length - 1) {
      throw new Error(
        `environment variable TRAFFIC_SWITCH_TARGET must be "<hostedZoneId>/<record name>" for route53-cname, got ${JSON.stringify(target)}`,
      );
    }
    const ttl = env.TRAFFIC_SWITCH_TTL_SECONDS ? Number(env.TRAFFIC_SWITCH_TTL_SECONDS) : 60;
    if (!Number.isInteger(ttl) || ttl < 0) {
      throw new Error(
        `environment variable TRAFFIC_SWITCH_TTL_SECONDS must be a whole number, got ${env.TRAFFIC_SWITCH_TTL_SECONDS}`,
      );
    }
    return new Route53RecordTrafficSwitch(target.slice(0, slash), target.slice(slash + 1), ttl, clients.route53);
  });
  const defaults = lazy((): CutoverDeps['defaults'] => {
    const value = parseJsonEnv<unknown>(env, 'DEFAULTS_JSON', {});
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`environment variable DEFAULTS_JSON must be a JSON object, got ${env.DEFAULTS_JSON}`);
    }
    return value as CutoverDeps['defaults'];
  });
  const rowsPerRange = lazy((): number | undefined => {
    if (!env.ROWS_PER_RANGE) return undefined;
    const n = Number(env.ROWS_PER_RANGE);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`environment variable ROWS_PER_RANGE must be a positive whole number, got ${env.ROWS_PER_RANGE}`);
    return n;
  });
  const secretOptions = { env, ...(clients.secretsManager ? { client: clients.secretsManager } : {}) };
  return {
    source: () => databaseConfigFromSecret(requireEnv(env, 'SOURCE_SECRET_ARN'), secretOptions),
    target: () => databaseConfigFromSecret(requireEnv(env, 'TARGET_SECRET_ARN'), secretOptions),
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
    get defaults() {
      return defaults();
    },
    get rowsPerRange() {
      return rowsPerRange();
    },
  };
}
