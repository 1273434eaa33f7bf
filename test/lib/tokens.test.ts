import { CfnParameter, Duration, Token } from 'aws-cdk-lib';
import { ZeroDowntimeMigration } from '../../lib';
import { TABLES, testEnv } from './helpers';

/**
 * Values known only at deploy time (CloudFormation parameters, attributes) are not checked at synth: nothing is
 * refused because of them, and no message prints `${Token[...]}`.
 */
describe('props given as tokens', () => {
  test('a migration whose checked numbers and names are parameters synthesizes', () => {
    const { stack, vpc, sourceSecret } = testEnv();
    const number = (id: string) => new CfnParameter(stack, id, { type: 'Number' }).valueAsNumber;
    const text = (id: string) => new CfnParameter(stack, id).valueAsString;
    expect(
      () =>
        new ZeroDowntimeMigration(stack, 'Migration', {
          vpc,
          source: { databaseName: text('SourceDb'), secret: sourceSecret },
          tables: TABLES,
          target: {
            port: number('Port'),
            clusterIdentifier: text('ClusterId'),
            preferredBackupWindow: text('BackupWindow'),
            preferredMaintenanceWindow: text('MaintenanceWindow'),
            monitoringInterval: Duration.seconds(number('MonitoringInterval')),
            backupRetention: Duration.days(number('RetentionDays')),
          },
          replication: {
            replicationInstanceClass: text('InstanceClass'),
            allocatedStorageGiB: number('Storage'),
            maxFullLoadSubTasks: number('SubTasks'),
            replicationInstanceIdentifier: text('InstanceId'),
          },
        }),
    ).not.toThrow();
  });

  test('a bad value next to tokens is named without them', () => {
    const { stack, vpc, sourceSecret } = testEnv();
    expect(
      () =>
        new ZeroDowntimeMigration(stack, 'Migration', {
          vpc,
          source: { databaseName: Token.asString({ Ref: 'Db' }), secret: sourceSecret },
          tables: TABLES,
          target: { clusterIdentifier: Token.asString({ Ref: 'Id' }), port: 80 },
        }),
    ).toThrow(/^AuroraTarget port must be an integer between 1150 and 65535, got 80$/);
  });

  test('the number of readers is refused as a token: it is the number of instances CDK creates', () => {
    const { stack, vpc, sourceSecret } = testEnv();
    expect(
      () =>
        new ZeroDowntimeMigration(stack, 'Migration', {
          vpc,
          source: { databaseName: 'orders', secret: sourceSecret },
          tables: TABLES,
          target: { readerCount: Token.asNumber({ Ref: 'Readers' }) },
        }),
    ).toThrow(/^AuroraTarget readerCount must be known at synth time .*, got a token$/);
  });
});
