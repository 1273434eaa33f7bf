import { Aspects, Stack, type IAspect } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { IConstruct } from 'constructs';
import { warn } from './validation';

/** An AWS API a resource in the VPC calls: the last part of its endpoint service name (`secretsmanager`, `states`). */
export interface NeededEndpoint {
  readonly service: string;
  readonly why: string;
}

/** The service names of the VPC endpoints of `vpc` in the stack, as resolved JSON text. */
function endpointServiceNames(scope: IConstruct, vpc: ec2.IVpc): string[] {
  const stack = Stack.of(scope);
  const vpcId = JSON.stringify(stack.resolve(vpc.vpcId));
  return stack.node
    .findAll()
    .filter((c): c is ec2.CfnVPCEndpoint => c instanceof ec2.CfnVPCEndpoint)
    .filter((e) => JSON.stringify(stack.resolve(e.vpcId)) === vpcId)
    .map((e) => JSON.stringify(stack.resolve(e.serviceName)));
}

/**
 * Warns at synth when every subnet of `subnets` is an isolated subnet of `vpc` (no route out) and the VPC has no
 * endpoint for some of the `needed` services: those calls would time out in AWS, not fail at deploy. Checked once the
 * app is built (an aspect), so endpoints added after this construct count.
 */
export function warnWhenIsolatedWithoutEndpoints(
  scope: IConstruct,
  vpc: ec2.IVpc,
  subnets: readonly ec2.ISubnet[],
  needed: readonly NeededEndpoint[],
  what: string,
): void {
  const isolated = new Set(vpc.isolatedSubnets.map((s) => s.subnetId));
  if (subnets.length === 0 || !subnets.every((s) => isolated.has(s.subnetId))) return;
  let done = false;
  const aspect: IAspect = {
    visit(node) {
      if (done || node !== scope) return;
      done = true;
      const present = endpointServiceNames(scope, vpc);
      const missing = needed.filter(
        (n) => !present.some((name) => new RegExp(`\\.${n.service}(?![a-z0-9.-])`).test(name)),
      );
      if (missing.length === 0) return;
      warn(
        scope,
        'isolatedSubnetsWithoutEndpoints',
        `${what} run in isolated subnets (no NAT) and the VPC has no endpoint for ${missing
          .map((m) => `${m.service} (${m.why})`)
          .join(', ')}: those calls time out in AWS. Add the VPC endpoints (see the README, "Network") or use ` +
          'subnets with a NAT route.',
      );
    },
  };
  Aspects.of(scope).add(aspect);
}
