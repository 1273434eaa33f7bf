/**
 * The AWS services a cutover function calls, mocked at the SDK client boundary (aws-sdk-client-mock) by small fakes
 * (test/support/fake-aws.ts), each call first authorized by IAM for the function making it (iam-authorizer.ts):
 * `asFunction(authorizer, work)` runs `work` as that function. Call in a test file's top level: the mocks are the
 * file's.
 */
import {
  CloudWatchClient,
  DisableAlarmActionsCommand,
  EnableAlarmActionsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  DatabaseMigrationServiceClient,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
} from '@aws-sdk/client-database-migration-service';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { clearDatabaseSecretCache } from '../../lambda/engine/aws/database-secret';
import { FakeDynamoDbTable, FakeParameterStore, FakeReplicationTasks } from './fake-aws';
import { behindIam, type IamAuthorizer } from './iam-authorizer';

export interface AwsBehindIamOptions {
  /** Secrets Manager's SecretString of each secret ARN (a secret not named here does not exist). */
  readonly secrets: (secretId: string) => string | undefined;
  /** DMS task ARNs, each running at the start of every `reset()`. */
  readonly tasks: readonly string[];
  /** SSM parameters at the start of every `reset()`. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** The CNAME value Route 53 lists for any record. */
  readonly cname?: string;
}

export interface AwsBehindIam {
  readonly tasks: FakeReplicationTasks;
  /** Resets every fake (and the database secret cache); no function is calling. */
  reset(): void;
  /**
   * Runs `work` as the function whose IAM policies `authorizer` evaluates, from a cold start (the database secret
   * cache is empty: each secret read is a call IAM authorizes).
   */
  asFunction<T>(authorizer: IamAuthorizer, work: () => Promise<T>): Promise<T>;
}

export function mockAwsBehindIam(options: AwsBehindIamOptions): AwsBehindIam {
  let caller: IamAuthorizer | undefined;
  const iam = (): IamAuthorizer | undefined => caller;
  const mocks = {
    secrets: mockClient(SecretsManagerClient),
    dms: mockClient(DatabaseMigrationServiceClient),
    cloudwatch: mockClient(CloudWatchClient),
    documents: mockClient(DynamoDBDocumentClient),
    sns: mockClient(SNSClient),
    ssm: mockClient(SSMClient),
    route53: mockClient(Route53Client),
  };
  const state = {
    tasks: new FakeReplicationTasks(),
    tables: new Map<string, FakeDynamoDbTable>(),
    parameters: new FakeParameterStore(),
  };
  const table = (name: string | undefined): FakeDynamoDbTable => {
    const key = name ?? '';
    if (!state.tables.has(key)) state.tables.set(key, new FakeDynamoDbTable(key, 'migrationId'));
    return state.tables.get(key)!;
  };
  const install = (): void => {
    const { secrets, dms, cloudwatch, documents, sns, ssm, route53 } = mocks;
    secrets.on(GetSecretValueCommand).callsFake(
      behindIam(iam, GetSecretValueCommand, (input) => {
        const value = options.secrets(input.SecretId!);
        if (value === undefined) {
          throw new ResourceNotFoundException({
            message: "Secrets Manager can't find the specified secret.",
            $metadata: {},
          });
        }
        return { ARN: input.SecretId, SecretString: value };
      }),
    );
    secrets
      .on(PutSecretValueCommand)
      .callsFake(behindIam(iam, PutSecretValueCommand, (input) => ({ ARN: input.SecretId })));
    dms
      .on(DescribeReplicationTasksCommand)
      .callsFake(behindIam(iam, DescribeReplicationTasksCommand, (input) => state.tasks.describe(input)));
    dms
      .on(DescribeTableStatisticsCommand)
      .callsFake(behindIam(iam, DescribeTableStatisticsCommand, () => ({ TableStatistics: [] })));
    dms
      .on(StartReplicationTaskCommand)
      .callsFake(behindIam(iam, StartReplicationTaskCommand, (input) => state.tasks.start(input)));
    dms
      .on(StopReplicationTaskCommand)
      .callsFake(behindIam(iam, StopReplicationTaskCommand, (input) => state.tasks.stop(input)));
    cloudwatch
      .on(GetMetricDataCommand)
      .callsFake(behindIam(iam, GetMetricDataCommand, () => ({ MetricDataResults: [] })));
    cloudwatch.on(DisableAlarmActionsCommand).callsFake(behindIam(iam, DisableAlarmActionsCommand, () => ({})));
    cloudwatch.on(EnableAlarmActionsCommand).callsFake(behindIam(iam, EnableAlarmActionsCommand, () => ({})));
    documents.on(GetCommand).callsFake(behindIam(iam, GetCommand, (input) => table(input.TableName).get(input)));
    documents.on(PutCommand).callsFake(behindIam(iam, PutCommand, (input) => table(input.TableName).put(input)));
    documents
      .on(UpdateCommand)
      .callsFake(behindIam(iam, UpdateCommand, (input) => table(input.TableName).update(input)));
    sns.on(PublishCommand).callsFake(behindIam(iam, PublishCommand, () => ({ MessageId: 'message-1' })));
    ssm.on(GetParameterCommand).callsFake(behindIam(iam, GetParameterCommand, (input) => state.parameters.get(input)));
    ssm.on(PutParameterCommand).callsFake(behindIam(iam, PutParameterCommand, (input) => state.parameters.put(input)));
    route53.on(ListResourceRecordSetsCommand).callsFake(
      behindIam(iam, ListResourceRecordSetsCommand, (input) => ({
        ResourceRecordSets: options.cname
          ? [{ Name: input.StartRecordName, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: options.cname }] }]
          : [],
        IsTruncated: false,
        MaxItems: '1',
      })),
    );
    route53.on(ChangeResourceRecordSetsCommand).callsFake(
      behindIam(iam, ChangeResourceRecordSetsCommand, () => ({
        ChangeInfo: { Id: '/change/C0123456789', Status: 'PENDING', SubmittedAt: new Date(0) },
      })),
    );
  };
  return {
    tasks: state.tasks,
    reset() {
      for (const mock of Object.values(mocks)) mock.reset();
      clearDatabaseSecretCache();
      caller = undefined;
      state.tables.clear();
      state.parameters = new FakeParameterStore();
      for (const [name, value] of Object.entries(options.parameters ?? {})) state.parameters.set(name, value);
      for (const arn of options.tasks) state.tasks.set(arn, 'running');
      install();
    },
    async asFunction(authorizer, work) {
      if (caller) throw new Error('asFunction: another function is already calling');
      caller = authorizer;
      clearDatabaseSecretCache();
      try {
        return await work();
      } finally {
        caller = undefined;
      }
    },
  };
}
