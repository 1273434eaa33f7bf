import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * Default private subnets: isolated when preferred and present, otherwise private with egress,
 * otherwise isolated. Never public.
 */
export function defaultPrivateSubnets(vpc: ec2.IVpc, preferIsolated: boolean): ec2.SubnetSelection {
  const hasIsolated = vpc.isolatedSubnets.length > 0;
  const hasEgress = vpc.privateSubnets.length > 0;
  if (preferIsolated && hasIsolated) return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  if (hasEgress) return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
}
