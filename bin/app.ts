#!/usr/bin/env node
/**
 * Example CDK app: one stack with its own VPC, a source secret that already exists in Secrets Manager,
 * and one `ZeroDowntimeMigration`. Synthesizes offline (no lookups, no credentials).
 */
import { App, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { SslMode, TrafficSwitchTarget, ZeroDowntimeMigration } from '../lib';

/** Properties of the example stack. */
export interface ZeroDowntimeMigrationExampleStackProps extends StackProps {
  /** Create `dms-vpc-role` / `dms-cloudwatch-logs-role` (only in one stack per account). @default false */
  readonly createDmsServiceRoles?: boolean;
}

/** The example stack: VPC + migration. */
export class ZeroDowntimeMigrationExampleStack extends Stack {
  public readonly migration: ZeroDowntimeMigration;

  constructor(scope: Construct, id: string, props: ZeroDowntimeMigrationExampleStackProps = {}) {
    super(scope, id, props);

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'replication', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
        { name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL } },
    });

    // Created outside this stack: { "username", "password", "host", "port", "dbname" }.
    const sourceSecret = secretsmanager.Secret.fromSecretNameV2(this, 'SourceSecret', 'zdm/source-postgres');

    this.migration = new ZeroDowntimeMigration(this, 'Migration', {
      vpc,
      source: {
        port: 5432,
        databaseName: 'orders',
        secret: sourceSecret,
        sslMode: SslMode.REQUIRE,
      },
      tables: { include: [{ schema: 'public' }, { schema: 'billing', table: 'invoice%' }] },
      replication: {
        replicationInstanceClass: 'dms.r6i.large',
        createDmsServiceRoles: props.createDmsServiceRoles ?? false,
      },
      monitoring: { emailSubscriptions: ['dba-oncall@example.com'] },
      cutover: {
        // Roles the freeze blocks on the source (never the DMS or operator role).
        applicationRoles: ['orders_app'],
        // Wait for an operator's go between "in sync" and "freeze".
        requireApproval: true,
        // Where the application reads its database host from; SwitchTraffic points it at Aurora.
        trafficSwitch: TrafficSwitchTarget.ssmParameter(
          ssm.StringParameter.fromStringParameterName(this, 'DatabaseHostParameter', '/orders/database-host'),
        ),
      },
    });
  }
}

/** Builds the example app (used by `cdk synth` and by the unit tests). */
export function buildExampleApp(
  app: App = new App(),
  props: ZeroDowntimeMigrationExampleStackProps = {},
): { app: App; stack: ZeroDowntimeMigrationExampleStack } {
  const stack = new ZeroDowntimeMigrationExampleStack(app, 'ZeroDowntimeMigrationExample', {
    description: 'Zero-downtime PostgreSQL to Aurora PostgreSQL migration (example)',
    ...props,
  });
  return { app, stack };
}

if (require.main === module) {
  const { app } = buildExampleApp();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
