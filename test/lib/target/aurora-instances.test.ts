import { Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { AuroraCapacity, AuroraTarget, type AuroraTargetProps } from '../../../lib';
import { testEnv } from '../helpers';

const R6G_LARGE = ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE);
const R6G_XLARGE = ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.XLARGE);

/** The DB instances of a target built with `options`: class and promotion tier, writer first (as aws-rds orders). */
function instancesOf(options: Partial<AuroraTargetProps>): { template: Template; instances: [string, number][] } {
  const { stack, vpc } = testEnv();
  new AuroraTarget(stack, 'Target', { vpc, ...options });
  const template = Template.fromStack(stack);
  const instances = Object.values(template.findResources('AWS::RDS::DBInstance')).map(
    (r) => [r.Properties.DBInstanceClass, r.Properties.PromotionTier] as [string, number],
  );
  return { template, instances };
}

describe('AuroraTarget instances: the count form (readerCount, capacity)', () => {
  test('default: a Serverless v2 writer and one reader that scales with it (tier 1)', () => {
    const { template, instances } = instancesOf({});
    expect(instances).toEqual([
      ['db.serverless', 0],
      ['db.serverless', 1],
    ]);
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8 },
    });
  });

  test('readerCount 3 of a provisioned capacity: four instances of its type, readers in tier 2', () => {
    const { template, instances } = instancesOf({ readerCount: 3, capacity: AuroraCapacity.provisioned(R6G_LARGE) });
    expect(instances).toEqual([
      ['db.r6g.large', 0],
      ['db.r6g.large', 2],
      ['db.r6g.large', 2],
      ['db.r6g.large', 2],
    ]);
    template.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: Match.absent() });
  });
});

describe('AuroraTarget instances: definitions as aws-rds takes them (writer, readers)', () => {
  test('a provisioned writer, a reader scaling with it and one scaling on its own, in the ACU range of capacity', () => {
    const { template, instances } = instancesOf({
      writer: rds.ClusterInstance.provisioned('Writer', { instanceType: R6G_XLARGE }),
      readers: [
        rds.ClusterInstance.serverlessV2('Failover', { scaleWithWriter: true }),
        rds.ClusterInstance.serverlessV2('Reporting'),
      ],
      capacity: AuroraCapacity.serverlessV2({ minCapacity: 2, maxCapacity: 32 }),
    });
    expect(instances).toEqual([
      ['db.r6g.xlarge', 0],
      ['db.serverless', 1],
      ['db.serverless', 2],
    ]);
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 2, MaxCapacity: 32 },
    });
  });

  test('only readers given: the writer is of capacity', () => {
    const { instances } = instancesOf({
      capacity: AuroraCapacity.provisioned(R6G_LARGE),
      readers: [rds.ClusterInstance.provisioned('Reader', { instanceType: R6G_XLARGE, promotionTier: 1 })],
    });
    expect(instances).toEqual([
      ['db.r6g.large', 0],
      ['db.r6g.xlarge', 1],
    ]);
  });

  test('only the writer given: readerCount readers of capacity next to it', () => {
    const { instances } = instancesOf({
      writer: rds.ClusterInstance.provisioned('Writer', { instanceType: R6G_LARGE }),
      readerCount: 2,
    });
    expect(instances).toEqual([
      ['db.r6g.large', 0],
      ['db.serverless', 1],
      ['db.serverless', 1],
    ]);
  });

  test("the given instances carry the target's Performance Insights settings without aws-rds warnings", () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', {
      vpc,
      writer: rds.ClusterInstance.serverlessV2('Writer', { enablePerformanceInsights: true }),
      readers: [rds.ClusterInstance.serverlessV2('Reader', { enablePerformanceInsights: true, scaleWithWriter: true })],
    });
    Template.fromStack(stack).allResourcesProperties('AWS::RDS::DBInstance', { EnablePerformanceInsights: true });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('Performance Insights'));
  });

  test('an empty readers list is a writer-only target, with the staging warning', () => {
    const { stack, vpc } = testEnv();
    new AuroraTarget(stack, 'Target', { vpc, readers: [] });
    Template.fromStack(stack).resourceCountIs('AWS::RDS::DBInstance', 1);
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Target',
      Match.stringLikeRegexp('no failover instance.*zero-downtime-migration:noReaders'),
    );
  });

  test.each([
    [
      { readers: [rds.ClusterInstance.serverlessV2('R')], readerCount: 1 },
      /give "readers" \(instance definitions\) or "readerCount" .* not both/,
    ],
    [
      {
        writer: rds.ClusterInstance.serverlessV2('W'),
        readers: [],
        capacity: AuroraCapacity.provisioned(R6G_LARGE),
      },
      /"writer" and "readers" define every instance, so a provisioned "capacity" would size none/,
    ],
    [
      { readers: Array.from({ length: 16 }, (_, i) => rds.ClusterInstance.serverlessV2(`R${i}`)) },
      /readers must hold 0 to 15 instances, got 16/,
    ],
    // a JavaScript caller of the 0.1 API: the count now goes in readerCount
    [
      { readers: 2 as unknown as rds.IClusterInstance[] },
      /readers takes reader instance definitions.*readerCount, got readers: 2$/,
    ],
    [
      { readers: Token.asNumber({ Ref: 'Readers' }) as unknown as rds.IClusterInstance[] },
      /use readerCount, got readers: a token$/,
    ],
  ] as [Partial<AuroraTargetProps>, RegExp][])('fails when %o', (options, message) => {
    const { stack, vpc } = testEnv();
    expect(() => new AuroraTarget(stack, 'Target', { vpc, ...options })).toThrow(message);
  });
});
