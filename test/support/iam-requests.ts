/**
 * What IAM authorizes for each AWS SDK command the cutover functions send: the action and the resource ARN, as the
 * Service Authorization Reference names them (an action without resource types is requested on "*"). A command
 * with no entry here throws, so a new AWS call in the code cannot go unchecked.
 *
 * Where the resource is encrypted with a customer managed KMS key, the caller also needs the key (AWS checks it on
 * the caller's behalf): kms:Decrypt to read a secret or an item, kms:GenerateDataKey and kms:Decrypt to publish to
 * an encrypted topic.
 */
import {
  DisableAlarmActionsCommand,
  EnableAlarmActionsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
} from '@aws-sdk/client-database-migration-service';
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';

/** One authorization AWS makes for a call. */
export interface IamRequest {
  readonly action: string;
  readonly resource: string;
}

export interface RequestEnvironment {
  readonly account: string;
  readonly region: string;
  /** The customer managed key (ARN) that encrypts `resourceArn`, if the template says so. */
  readonly keyOf: (resourceArn: string) => string | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- every command's input is read through its mapping
type AnyInput = any;
type CommandClass = abstract new (input: AnyInput) => { readonly input: unknown };
type Mapping = (input: AnyInput, env: RequestEnvironment) => IamRequest[];

const arn = (env: RequestEnvironment, service: string, resource: string): string =>
  `arn:aws:${service}:${env.region}:${env.account}:${resource}`;

/** A request on `resource`, plus `keyActions` on its key when a customer managed key encrypts it. */
const withKey = (env: RequestEnvironment, request: IamRequest, keyActions: readonly string[]): IamRequest[] => {
  const key = env.keyOf(request.resource);
  return [request, ...(key ? keyActions.map((action) => ({ action, resource: key })) : [])];
};

const secretArn = (env: RequestEnvironment, secretId: string): string =>
  secretId.startsWith('arn:') ? secretId : arn(env, 'secretsmanager', `secret:${secretId}`);
const tableArn = (env: RequestEnvironment, tableName: string): string =>
  tableName.startsWith('arn:') ? tableName : arn(env, 'dynamodb', `table/${tableName}`);
const parameterArn = (env: RequestEnvironment, name: string): string =>
  name.startsWith('arn:') ? name : arn(env, 'ssm', `parameter/${name.replace(/^\//, '')}`);
const alarmArns = (env: RequestEnvironment, names: readonly string[] = []): string[] =>
  names.map((name) => arn(env, 'cloudwatch', `alarm:${name}`));
const hostedZoneArn = (id: string): string => `arn:aws:route53:::hostedzone/${id.replace(/^\/?hostedzone\//, '')}`;

const item =
  (action: string): Mapping =>
  (input: { TableName: string }, env) =>
    withKey(env, { action: `dynamodb:${action}`, resource: tableArn(env, input.TableName) }, ['kms:Decrypt']);

const MAPPINGS = new Map<CommandClass, Mapping>([
  [
    GetSecretValueCommand,
    (input: { SecretId: string }, env) =>
      withKey(env, { action: 'secretsmanager:GetSecretValue', resource: secretArn(env, input.SecretId) }, [
        'kms:Decrypt',
      ]),
  ],
  [
    PutSecretValueCommand,
    (input: { SecretId: string }, env) =>
      withKey(env, { action: 'secretsmanager:PutSecretValue', resource: secretArn(env, input.SecretId) }, [
        'kms:GenerateDataKey',
        'kms:Decrypt',
      ]),
  ],
  [DescribeReplicationTasksCommand, () => [{ action: 'dms:DescribeReplicationTasks', resource: '*' }]],
  [
    DescribeTableStatisticsCommand,
    (input: { ReplicationTaskArn: string }) => [
      { action: 'dms:DescribeTableStatistics', resource: input.ReplicationTaskArn },
    ],
  ],
  [
    StopReplicationTaskCommand,
    (input: { ReplicationTaskArn: string }) => [
      { action: 'dms:StopReplicationTask', resource: input.ReplicationTaskArn },
    ],
  ],
  [
    StartReplicationTaskCommand,
    (input: { ReplicationTaskArn: string }) => [
      { action: 'dms:StartReplicationTask', resource: input.ReplicationTaskArn },
    ],
  ],
  [GetMetricDataCommand, () => [{ action: 'cloudwatch:GetMetricData', resource: '*' }]],
  [
    DisableAlarmActionsCommand,
    (input: { AlarmNames?: string[] }, env) =>
      alarmArns(env, input.AlarmNames).map((resource) => ({ action: 'cloudwatch:DisableAlarmActions', resource })),
  ],
  [
    EnableAlarmActionsCommand,
    (input: { AlarmNames?: string[] }, env) =>
      alarmArns(env, input.AlarmNames).map((resource) => ({ action: 'cloudwatch:EnableAlarmActions', resource })),
  ],
  [GetCommand, item('GetItem')],
  [GetItemCommand, item('GetItem')],
  [PutCommand, item('PutItem')],
  [PutItemCommand, item('PutItem')],
  [UpdateCommand, item('UpdateItem')],
  [UpdateItemCommand, item('UpdateItem')],
  [
    PublishCommand,
    (input: { TopicArn: string }, env) =>
      withKey(env, { action: 'sns:Publish', resource: input.TopicArn }, ['kms:GenerateDataKey', 'kms:Decrypt']),
  ],
  [
    GetParameterCommand,
    (input: { Name: string }, env) => [{ action: 'ssm:GetParameter', resource: parameterArn(env, input.Name) }],
  ],
  [
    PutParameterCommand,
    (input: { Name: string }, env) => [{ action: 'ssm:PutParameter', resource: parameterArn(env, input.Name) }],
  ],
  [
    ListResourceRecordSetsCommand,
    (input: { HostedZoneId: string }) => [
      { action: 'route53:ListResourceRecordSets', resource: hostedZoneArn(input.HostedZoneId) },
    ],
  ],
  [
    ChangeResourceRecordSetsCommand,
    (input: { HostedZoneId: string }) => [
      { action: 'route53:ChangeResourceRecordSets', resource: hostedZoneArn(input.HostedZoneId) },
    ],
  ],
]);

/** The authorizations AWS makes for `command`; throws for a command this table does not know. */
export function iamRequestsOf(command: object, env: RequestEnvironment): IamRequest[] {
  const mapping = MAPPINGS.get(command.constructor as CommandClass);
  if (!mapping) {
    throw new Error(`no IAM action is mapped for ${command.constructor.name} (add it to test/support/iam-requests.ts)`);
  }
  return mapping((command as { input: unknown }).input, env);
}
