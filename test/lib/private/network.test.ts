/** Network as a choice: isolated subnets without the VPC endpoints DMS and the step functions call raise a warning. */
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ZeroDowntimeMigration } from '../../../lib';
import { TABLES, testApp } from '../helpers';

function isolatedApp(endpoints: (vpc: ec2.Vpc) => void = () => undefined): Stack {
  const stack = new Stack(testApp(), 'IsolatedStack', { env: { account: '111111111111', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  endpoints(vpc);
  new ZeroDowntimeMigration(stack, 'Migration', {
    vpc,
    source: {
      databaseName: 'orders',
      secret: secretsmanager.Secret.fromSecretNameV2(stack, 'SourceSecret', 'zdm/source'),
    },
    tables: TABLES,
  });
  return stack;
}

const warnings = (stack: Stack, path: string) =>
  Annotations.fromStack(stack)
    .findWarning(path, Match.stringLikeRegexp('isolatedSubnetsWithoutEndpoints'))
    .map((w) => String(w.entry.data));

describe('isolated subnets without VPC endpoints', () => {
  test('warns for DMS (Secrets Manager) and the step functions, naming the missing services', () => {
    const stack = isolatedApp();
    const [dms] = warnings(stack, '/IsolatedStack/Migration/Replication');
    expect(dms).toMatch(/^the DMS replication instance run in isolated subnets .* no endpoint for secretsmanager/);
    const [cutover] = warnings(stack, '/IsolatedStack/Migration/Cutover');
    for (const service of ['secretsmanager', 'dynamodb', 'sns', 'dms', 'monitoring', 'xray']) {
      expect(cutover).toContain(`${service} (`);
    }
  });

  test('names only what is missing; endpoints added after the migration count', () => {
    const stack = isolatedApp((vpc) => {
      vpc.addInterfaceEndpoint('SecretsManager', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER });
      vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    });
    expect(warnings(stack, '/IsolatedStack/Migration/Replication')).toEqual([]);
    const [cutover] = warnings(stack, '/IsolatedStack/Migration/Cutover');
    expect(cutover).not.toMatch(/secretsmanager|dynamodb/);
    expect(cutover).toMatch(/sns \(notices\), dms .*, monitoring .*, xray/);
  });

  test('no warning once every endpoint exists', () => {
    const stack = isolatedApp((vpc) => {
      for (const [id, service] of Object.entries({
        SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        Sns: ec2.InterfaceVpcEndpointAwsService.SNS,
        Dms: ec2.InterfaceVpcEndpointAwsService.DATABASE_MIGRATION_SERVICE,
        Monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
        XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
      })) {
        vpc.addInterfaceEndpoint(id, { service });
      }
      vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    });
    expect(warnings(stack, '/IsolatedStack/Migration/Replication')).toEqual([]);
    expect(warnings(stack, '/IsolatedStack/Migration/Cutover')).toEqual([]);
  });
});
