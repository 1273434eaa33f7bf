import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { TableSelection } from '../../lib';

/**
 * An app for unit tests: the built-in CloudFormation validation (~4 s a synth) is off
 * (`builtinCloudFormationValidation: false`, same as `CDK_VALIDATION=false`); cdk-nag runs in its own test.
 */
export function testApp(): App {
  return new App({ builtinCloudFormationValidation: false });
}

export interface TestEnv {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly sourceSecret: secretsmanager.ISecret;
}

/** A stack with a 2-AZ VPC (fixed region so AZs are literal) and a source secret. */
export function testEnv(id = 'TestStack'): TestEnv {
  const app = testApp();
  const stack = new Stack(app, id, { env: { account: '111111111111', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  const sourceSecret = secretsmanager.Secret.fromSecretNameV2(stack, 'SourceSecret', 'zdm/source');
  return { app, stack, vpc, sourceSecret };
}

export const TABLES: TableSelection = {
  include: [{ schema: 'public' }],
  exclude: [{ schema: 'public', table: 'tmp_%' }],
};

export const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
