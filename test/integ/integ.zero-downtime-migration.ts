/**
 * Integration test against a real AWS account (`@aws-cdk/integ-tests-alpha`): a small RDS for PostgreSQL 16 source
 * with data and a write load, the `ZeroDowntimeMigration` construct with a cheap Aurora target, then the cutover
 * and the fallback executions, asserted end to end. Run by `npx @aws-cdk/integ-runner` (README: "Integration test
 * against a real AWS account"); it deploys real, billed resources. `npm test` only synthesizes it and compares the
 * templates with a snapshot (test/integ/integ-snapshot.test.ts).
 */
import * as path from 'node:path';
import { ExpectedResult, IntegTest, InvocationType, Match } from '@aws-cdk/integ-tests-alpha';
import { Annotations, App, Duration, RemovalPolicies, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ZeroDowntimeMigration } from '../../lib';
import { newestNodeRuntime } from '../../lib/private/runtime';
import { APPLICATION_ROLE, SEED_ROWS, SQL_RUNNER_ENV, type SqlRunnerEvent } from './sql-runner';

/** The migration id of both executions (the fallback takes the cutover's). */
export const MIGRATION_ID = 'integ';
/** The source (and target) database. */
const DATABASE_NAME = 'orders';
/** How long the application writes, from just before the cutover starts (the freeze usually stops it earlier). */
const LOAD_SECONDS = 600;

/** Options of the integration test app. */
export interface IntegAppOptions {
  /**
   * Create the account-level DMS roles `dms-vpc-role` / `dms-cloudwatch-logs-role`: only in an account that has
   * none yet (the integ run reads `ZDM_INTEG_CREATE_DMS_ROLES=true`).
   * @default false
   */
  readonly createDmsServiceRoles?: boolean;
}

/** The stack under test: VPC, source database, SQL runner, migration. */
export class ZeroDowntimeMigrationIntegStack extends Stack {
  public readonly source: rds.DatabaseInstance;
  public readonly sqlRunner: nodejs.NodejsFunction;
  public readonly migration: ZeroDowntimeMigration;

  constructor(scope: Construct, id: string, props: StackProps & IntegAppOptions = {}) {
    super(scope, id, props);

    // One NAT gateway: DMS reads the endpoint secrets from Secrets Manager and the cutover functions call AWS APIs
    // from the private subnets (README, "Network"); the databases live in isolated subnets.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
        { name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });

    // The "self-managed" source: the smallest RDS for PostgreSQL 16 with logical decoding on (DMS CDC and the
    // cutover's change tracking need it). Its generated secret carries username, password and dbname, and the
    // instance attaches host and port: exactly what `source.secret` asks for.
    const generatedSourceSecret = new rds.DatabaseSecret(this, 'SourceSecret', {
      username: 'zdm_admin',
      dbname: DATABASE_NAME,
    });
    this.source = new rds.DatabaseInstance(this, 'Source', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      credentials: rds.Credentials.fromSecret(generatedSourceSecret),
      databaseName: DATABASE_NAME,
      parameters: { 'rds.logical_replication': '1' },
      allocatedStorage: 20,
      storageEncrypted: true,
      multiAz: false,
      backupRetention: Duration.days(1),
      deleteAutomatedBackups: true,
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The secret as attached to the instance: whoever reads it (DMS, the cutover, the SQL runner) is created after
    // host and port are in it.
    const sourceSecret: secretsmanager.ISecret = this.source.secret ?? generatedSourceSecret;

    // The application's credentials (the role `integ_app` the seed creates on both sides).
    const applicationSecret = new secretsmanager.Secret(this, 'ApplicationSecret', {
      description: `Password of ${APPLICATION_ROLE}, the integration test's application role`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: APPLICATION_ROLE }),
        generateStringKey: 'password',
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The construct under test, as cheap as it goes: one Serverless v2 writer and no reader (`readerCount: 0`),
    // a single-AZ small replication instance, everything removed with the stack.
    this.migration = new ZeroDowntimeMigration(this, 'Migration', {
      vpc,
      source: { databaseName: DATABASE_NAME, secret: sourceSecret },
      tables: { include: [{ schema: 'public', table: 'orders' }] },
      target: {
        readerCount: 0,
        deletionProtection: false,
        removalPolicy: RemovalPolicy.DESTROY,
        backupRetention: Duration.days(1),
      },
      replication: {
        replicationInstanceClass: 'dms.t3.medium',
        multiAz: false,
        allocatedStorageGiB: 20,
        createDmsServiceRoles: props.createDmsServiceRoles ?? false,
      },
      cutover: {
        applicationRoles: [APPLICATION_ROLE],
        // Bounded well inside the assertions' waits (below).
        syncTimeout: Duration.minutes(30),
        timeout: Duration.minutes(50),
      },
    });
    this.source.connections.allowDefaultPortFrom(this.migration, 'DMS and the cutover functions');
    // What the construct warns about is what this test chose, to be cheap and disposable.
    for (const [warning, why] of [
      ['noReaders', 'a test target needs no failover instance'],
      ['deletionProtectionOff', 'the test deletes its target'],
      ['singleAz', 'a test replicates for an hour at most'],
    ]) {
      Annotations.of(this.migration).acknowledgeWarning(`zero-downtime-migration:${warning}`, why);
    }

    // The SQL runner: seeds both sides, plays the application's write load, compares the rows (test/integ/
    // sql-runner.ts). Bundled by local esbuild (a devDependency): NodejsFunction falls back to Docker only when
    // esbuild is missing, and the offline snapshot test fails then rather than wait for Docker.
    this.sqlRunner = new nodejs.NodejsFunction(this, 'SqlRunner', {
      entry: path.join(__dirname, 'sql-runner.ts'),
      handler: 'handler',
      runtime: newestNodeRuntime(),
      architecture: lambda.Architecture.ARM_64,
      projectRoot: path.join(__dirname, '..', '..'),
      depsLockFilePath: path.join(__dirname, '..', '..', 'package-lock.json'),
      bundling: {
        // The Lambda runtime has the AWS SDK v3; pg's native binding is never loaded.
        externalModules: ['@aws-sdk/*', 'pg-native'],
        minify: true,
        forceDockerBundling: false,
      },
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      memorySize: 256,
      timeout: Duration.seconds(LOAD_SECONDS + 60),
      // The load is invoked asynchronously: a failed load must not run again behind the cutover's back.
      retryAttempts: 0,
      logGroup: new logs.LogGroup(this, 'SqlRunnerLogs', {
        retention: logs.RetentionDays.ONE_WEEK,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: {
        [SQL_RUNNER_ENV.sourceSecretArn]: sourceSecret.secretArn,
        [SQL_RUNNER_ENV.databaseName]: DATABASE_NAME,
        [SQL_RUNNER_ENV.targetSecretArn]: this.migration.target.secret.secretArn,
        [SQL_RUNNER_ENV.applicationSecretArn]: applicationSecret.secretArn,
        // TLS with verification: the runtime's CA bundle holds the RDS certificate authorities.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      },
    });
    sourceSecret.grantRead(this.sqlRunner);
    this.migration.target.grantReadCredentials(this.sqlRunner);
    applicationSecret.grantRead(this.sqlRunner);
    this.source.connections.allowDefaultPortFrom(this.sqlRunner, 'integration test SQL runner');
    this.migration.target.allowDefaultPortFrom(this.sqlRunner, 'integration test SQL runner');

    // A test leaves nothing behind: what the construct retains in production (the state table, log groups, the
    // topic's key) goes with the stack here; KMS keys are scheduled for deletion.
    RemovalPolicies.of(this).destroy();
  }
}

/** What the SQL runner answers to `compare` once both sides hold the same rows. */
const SIDES_EQUAL = ExpectedResult.objectLike({ Payload: Match.serializedJson(Match.objectLike({ equal: true })) });

/**
 * Builds the integration test app: the stack and the `IntegTest` with its assertions (their own stack,
 * `...DeployAssert...`, deployed after the stack under test, each assertion after the previous one).
 */
export function buildIntegApp(
  app: App = new App(),
  options: IntegAppOptions = {},
): { app: App; stack: ZeroDowntimeMigrationIntegStack; integ: IntegTest } {
  const stack = new ZeroDowntimeMigrationIntegStack(app, 'ZdmInteg', {
    description: 'zero-downtime-migration integration test (deletes itself after the run)',
    ...options,
  });
  const integ = new IntegTest(app, 'ZeroDowntimeMigrationInteg', {
    testCases: [stack],
    // A replacement of the RDS source or the DMS task would test nothing new and cost a full load: no update run.
    stackUpdateWorkflow: false,
    cdkCommandOptions: { destroy: { args: { force: true } } },
  });
  const { migration, sqlRunner } = stack;
  const fallbackStateMachine = migration.cutover.fallbackStateMachine;
  if (!fallbackStateMachine) throw new Error('the integration test needs the way back (reverseReplication)');
  const run = (event: SqlRunnerEvent, invocationType = InvocationType.REQUEST_RESPONSE) =>
    integ.assertions.invokeFunction({
      functionName: sqlRunner.functionName,
      invocationType,
      payload: JSON.stringify(event),
    });

  // 1. The schema on both sides (DMS's DO_NOTHING prep mode copies into existing tables), the seeded rows on the
  //    source, the application role on both (the cutover freezes it on the source, the fallback on Aurora).
  const seed = run({ action: 'seed' }).expect(
    ExpectedResult.objectLike({ Payload: Match.serializedJson(Match.objectLike({ sourceRows: SEED_ROWS })) }),
  );

  // 2. Start forward replication: a deploy never starts the DMS task (README, "Deploy and cut over", step 3).
  const startReplication = integ.assertions.awsApiCall('DMS', 'startReplicationTask', {
    ReplicationTaskArn: migration.replicationTaskArn,
    StartReplicationTaskType: 'start-replication',
  });

  // 3. Wait for the task to run (a start takes minutes on a fresh instance) ...
  const describeTask = {
    Filters: [{ Name: 'replication-task-arn', Values: [migration.replicationTaskArn] }],
    WithoutSettings: true, // only the status: the response stays far below a custom resource's 4 KB
  };
  const taskRunning = integ.assertions
    .awsApiCall('DMS', 'describeReplicationTasks', describeTask)
    .assertAtPath('ReplicationTasks.0.Status', ExpectedResult.stringLikeRegexp('^running$'))
    .waitForAssertions({ totalTimeout: Duration.minutes(30), interval: Duration.seconds(30) });
  //    ... and for its full load to be complete: every seeded row on Aurora, the same rows (before any load, the
  //    two sides are equal only once the full load has copied everything).
  const fullLoadDone = run({ action: 'compare' })
    .expect(SIDES_EQUAL)
    .waitForAssertions({ totalTimeout: Duration.minutes(20), interval: Duration.seconds(30) });

  // 4. The application's writes on the source, asynchronously: they run through the cutover's sync gate until the
  //    freeze ends the session (the runner never reconnects), as a real application would be cut off.
  const startLoad = run({ action: 'load', seconds: LOAD_SECONDS }, InvocationType.EVENT).expect(
    ExpectedResult.objectLike({ StatusCode: 202 }),
  );

  // 5. The cutover, for real: preflight, tracking, validation, lag gate, freeze, final sync, change proof,
  //    sequences, the switch, the forward task stopped, the way back armed and started.
  const startCutover = integ.assertions.awsApiCall('StepFunctions', 'startExecution', {
    stateMachineArn: migration.stateMachine.stateMachineArn,
    input: JSON.stringify({ migrationId: MIGRATION_ID, mode: 'execute' }),
  });
  // Bounded by the machine's own timeout (50 min) and by a custom resource's hour; a FAILED execution is read
  // until the wait gives up (its history names the step).
  const cutoverSucceeded = integ.assertions
    .awsApiCall('StepFunctions', 'describeExecution', { executionArn: startCutover.getAttString('executionArn') })
    .assertAtPath('status', ExpectedResult.stringLikeRegexp('^SUCCEEDED$'))
    .waitForAssertions({ totalTimeout: Duration.minutes(55), interval: Duration.minutes(1) });

  // 6. The way back: the fallback machine, same migration id, moves the application back to the source after its
  //    own lag gate on the reverse replication, freeze on Aurora, change proof and sequences.
  const startFallback = integ.assertions.awsApiCall('StepFunctions', 'startExecution', {
    stateMachineArn: fallbackStateMachine.stateMachineArn,
    input: JSON.stringify({ migrationId: MIGRATION_ID, mode: 'execute' }),
  });
  const fallbackSucceeded = integ.assertions
    .awsApiCall('StepFunctions', 'describeExecution', { executionArn: startFallback.getAttString('executionArn') })
    .assertAtPath('status', ExpectedResult.stringLikeRegexp('^SUCCEEDED$'))
    .waitForAssertions({ totalTimeout: Duration.minutes(55), interval: Duration.minutes(1) });

  // 7. Nothing lost either way: the source and Aurora hold the same rows (seed + every acknowledged load write).
  const rowsEqual = run({ action: 'compare' }).expect(SIDES_EQUAL);

  seed
    .next(startReplication)
    .next(taskRunning)
    .next(fullLoadDone)
    .next(startLoad)
    .next(startCutover)
    .next(cutoverSucceeded)
    .next(startFallback)
    .next(fallbackSucceeded)
    .next(rowsEqual);
  return { app, stack, integ };
}

if (require.main === module) {
  buildIntegApp(new App(), { createDmsServiceRoles: process.env.ZDM_INTEG_CREATE_DMS_ROLES === 'true' }).app.synth();
}
