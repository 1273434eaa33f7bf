import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AuroraCapacity, AuroraTarget, type AuroraTargetProps } from '../../../lib';
import { testEnv } from '../helpers';

describe('AuroraTarget (new serverless v2 cluster)', () => {
  let template: Template;
  let target: AuroraTarget;
  beforeAll(() => {
    const { stack, vpc } = testEnv();
    target = new AuroraTarget(stack, 'Target', { vpc, databaseName: 'orders' });
    template = Template.fromStack(stack);
  });

  test('Aurora PostgreSQL 16 cluster, encrypted, deletion-protected, backups, SNAPSHOT', () => {
    template.hasResource('AWS::RDS::DBCluster', {
      Properties: Match.objectLike({
        Engine: 'aurora-postgresql',
        EngineVersion: Match.stringLikeRegexp('^16\\.'),
        StorageEncrypted: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 7,
        DatabaseName: 'orders',
        EnableIAMDatabaseAuthentication: true,
        EnableCloudwatchLogsExports: ['postgresql'],
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8 },
      }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
  });

  test('writer and one reader', () => {
    template.resourceCountIs('AWS::RDS::DBInstance', 2);
    template.allResourcesProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.serverless',
      PubliclyAccessible: false,
    });
  });

  test('credentials generated in Secrets Manager, never a literal password', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password' }),
    });
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      MasterUserPassword: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
    });
    expect(target.secret).toBeDefined();
  });

  test('in isolated subnets', () => {
    const groups = template.findResources('AWS::RDS::DBSubnetGroup');
    const subnetRefs = Object.values(groups)[0].Properties.SubnetIds.map((r: { Ref: string }) => r.Ref);
    expect(subnetRefs).toHaveLength(2);
    subnetRefs.forEach((ref: string) => expect(ref).toMatch(/isolated/));
  });

  test('cluster parameter group for a DMS target', () => {
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Family: 'aurora-postgresql16',
      Parameters: Match.objectLike({
        'rds.force_ssl': '1',
        session_replication_role: 'origin',
        // logical decoding for the cutover's change-tracking slot on the target (static: set at creation)
        'rds.logical_replication': '1',
        // DMS reading Aurora (the reverse replication) needs 0 or >= 10 s
        wal_sender_timeout: '60000',
      }),
    });
  });
});

describe('AuroraTarget options', () => {
  test('provisioned instances, two readers, customer key, custom retention', () => {
    const { stack, vpc } = testEnv();
    const key = new kms.Key(stack, 'Key');
    const target = new AuroraTarget(stack, 'Target', {
      vpc,
      capacity: AuroraCapacity.provisioned(ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE)),
      readerCount: 2,
      storageEncryptionKey: key,
      parameters: { max_connections: '500' },
    });
    const other = new ec2.SecurityGroup(stack, 'Other', { vpc });
    target.allowDefaultPortFrom(other);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::RDS::DBInstance', 3);
    template.allResourcesProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.r6g.large' });
    template.hasResourceProperties('AWS::RDS::DBCluster', { KmsKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Parameters: Match.objectLike({ max_connections: '500' }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      Description: 'Aurora target access',
      SourceSecurityGroupId: {
        'Fn::GetAtt': [stack.getLogicalId(other.node.defaultChild as ec2.CfnSecurityGroup), 'GroupId'],
      },
    });
  });

  test('an existing cluster and secret are used as they are', () => {
    const { stack, vpc } = testEnv();
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Existing', {
      clusterIdentifier: 'existing',
      port: 5432,
      securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-12345')],
    });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'ExistingSecret', 'existing');
    const target = new AuroraTarget(stack, 'Target', { vpc, cluster, secret, databaseName: 'app' });
    expect(target.cluster).toBe(cluster);
    expect(target.secret).toBe(secret);
    expect(target.databaseName).toBe('app');
    expect(target.createdCluster).toBe(false);
    Template.fromStack(stack).resourceCountIs('AWS::RDS::DBCluster', 0);
    // its parameter group is the user's: a warning says what the change tracking needs
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Target',
      Match.stringLikeRegexp('rds.logical_replication = 1.*zero-downtime-migration:logicalReplication'),
    );
    // and what DMS reading it (the reverse replication) needs
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Target',
      Match.stringLikeRegexp('wal_sender_timeout.*0 or 10000 ms or more.*zero-downtime-migration:walSenderTimeout'),
    );
  });

  test('wal_sender_timeout: 0 or at least 10000 ms may be set; 1 to 9999 ms is refused (DMS cannot read Aurora)', () => {
    for (const value of ['0', '10000', '120000']) {
      const { stack, vpc } = testEnv();
      new AuroraTarget(stack, 'Target', { vpc, parameters: { wal_sender_timeout: value } });
      Template.fromStack(stack).hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
        Parameters: Match.objectLike({ wal_sender_timeout: value }),
      });
    }
    for (const value of ['1', '5000', '9999']) {
      const { stack, vpc } = testEnv();
      expect(() => new AuroraTarget(stack, 'Target', { vpc, parameters: { wal_sender_timeout: value } })).toThrow(
        new RegExp(`wal_sender_timeout must be 0 or at least 10000 .*got "${value}"`),
      );
    }
  });

  test('warns when deletion protection is off', () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', { vpc, deletionProtection: false });
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Target',
      Match.stringLikeRegexp('deletion protection.*off.*zero-downtime-migration:deletionProtectionOff'),
    );
  });
});

describe('AuroraTarget validation', () => {
  const existing = () => {
    const env = testEnv();
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(env.stack, 'Existing', {
      clusterIdentifier: 'x',
    });
    const secret = secretsmanager.Secret.fromSecretNameV2(env.stack, 'ExistingSecret', 'x');
    return { ...env, cluster, secret };
  };

  test('fails when an existing cluster comes with options for a new cluster', () => {
    const { stack, vpc, cluster, secret } = existing();
    expect(
      () => new AuroraTarget(stack, 'T', { vpc, cluster, secret, readerCount: 2, backupRetention: undefined }),
    ).toThrow(/cannot be combined with options for a new cluster: readerCount/);
  });

  test('fails when an existing cluster comes without its secret', () => {
    const { stack, vpc, cluster } = existing();
    expect(() => new AuroraTarget(stack, 'T', { vpc, cluster })).toThrow(
      /needs both "cluster" and "secret", got only "cluster"/,
    );
  });

  test('fails when the port is out of range', () => {
    const { stack, vpc } = testEnv();
    expect(() => new AuroraTarget(stack, 'T', { vpc, port: 70000 })).toThrow(/port .*got 70000/);
  });

  test('fails when serverless v2 capacity is out of range', () => {
    expect(() => AuroraCapacity.serverlessV2({ maxCapacity: 300 })).toThrow(/maxCapacity .*got 300/);
    expect(() => AuroraCapacity.serverlessV2({ minCapacity: 4, maxCapacity: 2 })).toThrow(
      /minCapacity \(4\).*maxCapacity \(2\)/,
    );
  });
});

describe('AuroraTarget L2 options', () => {
  const clusterOf = (template: Template) => Object.values(template.findResources('AWS::RDS::DBCluster'))[0].Properties;

  test('security groups, identifier, storage type, backup and maintenance windows reach the cluster', () => {
    const { stack, vpc } = testEnv();
    const sg = new ec2.SecurityGroup(stack, 'Mine', { vpc });
    const target = new AuroraTarget(stack, 'Target', {
      vpc,
      securityGroups: [sg],
      clusterIdentifier: 'orders-target',
      storageType: rds.DBClusterStorageType.AURORA_IOPT1,
      backupRetention: Duration.days(14),
      preferredBackupWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'sun:04:30-sun:05:00',
    });
    const template = Template.fromStack(stack);
    expect(clusterOf(template)).toMatchObject({
      VpcSecurityGroupIds: [
        { 'Fn::GetAtt': [stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup), 'GroupId'] },
      ],
      DBClusterIdentifier: 'orders-target',
      StorageType: 'aurora-iopt1',
      BackupRetentionPeriod: 14,
      PreferredBackupWindow: '03:00-04:00',
      PreferredMaintenanceWindow: 'sun:04:30-sun:05:00',
    });
    // no security group of its own: the one given is how DMS and the cutover get in
    template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    expect(target.connections.securityGroups).toEqual([sg]);
  });

  test('by default: Performance Insights on every instance, no Enhanced Monitoring, Aurora Standard storage', () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', { vpc });
    const template = Template.fromStack(stack);
    template.allResourcesProperties('AWS::RDS::DBInstance', { EnablePerformanceInsights: true });
    template.resourcePropertiesCountIs('AWS::RDS::DBInstance', { MonitoringInterval: Match.anyValue() }, 0);
    expect(clusterOf(template).StorageType).toBeUndefined();
    expect(clusterOf(template).DBClusterIdentifier).toBeUndefined();
  });

  test('Database Insights advanced with 15 months of Performance Insights and a key', () => {
    const { stack, vpc } = testEnv();
    const key = new kms.Key(stack, 'PiKey');
    new AuroraTarget(stack, 'Target', {
      vpc,
      databaseInsightsMode: rds.DatabaseInsightsMode.ADVANCED,
      performanceInsightRetention: rds.PerformanceInsightRetention.MONTHS_15,
      performanceInsightEncryptionKey: key,
    });
    const template = Template.fromStack(stack);
    expect(clusterOf(template)).toMatchObject({
      DatabaseInsightsMode: 'advanced',
      PerformanceInsightsEnabled: true,
      PerformanceInsightsRetentionPeriod: 465,
      PerformanceInsightsKmsKeyId: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] },
    });
  });

  test('Performance Insights off', () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', { vpc, enablePerformanceInsights: false });
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs('AWS::RDS::DBInstance', { EnablePerformanceInsights: true }, 0);
    expect(clusterOf(template).PerformanceInsightsEnabled).toBeFalsy();
  });

  test('Enhanced Monitoring every 30 s with a role of its own, or the role given', () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', { vpc, monitoringInterval: Duration.seconds(30) });
    const template = Template.fromStack(stack);
    template.allResourcesProperties('AWS::RDS::DBInstance', {
      MonitoringInterval: 30,
      MonitoringRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('MonitoringRole'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'monitoring.rds.amazonaws.com' } })],
      }),
    });

    const other = testEnv();
    const role = iam.Role.fromRoleArn(other.stack, 'Role', 'arn:aws:iam::111111111111:role/rds-monitoring');
    new AuroraTarget(other.stack, 'Target', {
      vpc: other.vpc,
      monitoringInterval: Duration.seconds(5),
      monitoringRole: role,
    });
    Template.fromStack(other.stack).allResourcesProperties('AWS::RDS::DBInstance', {
      MonitoringInterval: 5,
      MonitoringRoleArn: 'arn:aws:iam::111111111111:role/rds-monitoring',
    });
  });

  test('zero readers: a writer only (cheap staging), with a warning', () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', { vpc, readerCount: 0 });
    Template.fromStack(stack).resourceCountIs('AWS::RDS::DBInstance', 1);
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Target',
      Match.stringLikeRegexp('no failover instance.*zero-downtime-migration:noReaders'),
    );
  });

  test.each([
    [{ readerCount: 16 }, /readerCount must be an integer between 0 and 15, got 16/],
    [{ readerCount: -1 }, /readerCount must be an integer between 0 and 15, got -1/],
    [
      { monitoringInterval: Duration.seconds(2) },
      /monitoringInterval must be one of 1, 5, 10, 15, 30, 60 seconds, got 2 seconds/,
    ],
    [{ monitoringInterval: Duration.millis(1500) }, /monitoringInterval must be one of .* got 1 second 500 millis/],
    [{ preferredBackupWindow: '3-4' }, /preferredBackupWindow must look like "03:00-04:00" \(UTC\), got "3-4"/],
    [{ preferredBackupWindow: '24:00-01:00' }, /preferredBackupWindow .*got "24:00-01:00"/],
    [
      { preferredMaintenanceWindow: 'sunday 4am' },
      /preferredMaintenanceWindow must look like "sun:04:30-sun:05:00" \(UTC\), got "sunday 4am"/,
    ],
    [{ clusterIdentifier: '1orders' }, /clusterIdentifier must be .* got "1orders"/],
    [{ clusterIdentifier: 'orders--target' }, /clusterIdentifier .*got "orders--target"/],
    [{ clusterIdentifier: 'orders-' }, /clusterIdentifier .*got "orders-"/],
    [{ clusterIdentifier: 'a'.repeat(64) }, /clusterIdentifier .*got "a{64}"/],
    [
      { enablePerformanceInsights: false, performanceInsightRetention: rds.PerformanceInsightRetention.MONTHS_1 },
      /need Performance Insights, but "enablePerformanceInsights" is false/,
    ],
  ] as [Partial<AuroraTargetProps>, RegExp][])('fails when %o', (options, message) => {
    const { stack, vpc } = testEnv();
    expect(() => new AuroraTarget(stack, 'Target', { vpc, ...options })).toThrow(message);
  });

  test('fails when monitoringRole comes without monitoringInterval', () => {
    const { stack, vpc } = testEnv();
    const role = iam.Role.fromRoleArn(stack, 'Role', 'arn:aws:iam::111111111111:role/rds-monitoring');
    expect(() => new AuroraTarget(stack, 'Target', { vpc, monitoringRole: role })).toThrow(
      /"monitoringRole" is only used with "monitoringInterval"/,
    );
  });

  test('fails when an existing cluster comes with the new options', () => {
    const { stack, vpc } = testEnv();
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Existing', { clusterIdentifier: 'e' });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'ExistingSecret', 'existing');
    expect(
      () =>
        new AuroraTarget(stack, 'Target', {
          vpc,
          cluster,
          secret,
          storageType: rds.DBClusterStorageType.AURORA_IOPT1,
          preferredBackupWindow: '03:00-04:00',
        }),
    ).toThrow(/cannot be combined with options for a new cluster: storageType, preferredBackupWindow/);
  });
});
