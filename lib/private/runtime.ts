import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The oldest Node.js runtime the bundle runs on (build/bundles.ts builds it for node22). */
const MINIMUM_NODE_MAJOR = 22;

/**
 * The newest Node.js Lambda runtime the consumer's aws-cdk-lib knows (a newer aws-cdk-lib names a newer one, and
 * cdk-nag's AwsSolutions-L1 asks for it): read from `lambda.Runtime`'s own `NODEJS_<n>_X` members at synth time, so
 * the template follows the aws-cdk-lib it is synthesized with. The bundle targets node22 and runs on any newer one.
 */
export function newestNodeRuntime(): lambda.Runtime {
  let best: { major: number; runtime: lambda.Runtime } | undefined;
  for (const [key, value] of Object.entries(lambda.Runtime)) {
    const match = /^NODEJS_(\d+)_X$/.exec(key);
    if (!match || !(value instanceof lambda.Runtime) || value.isVariable) continue;
    const major = Number(match[1]);
    if (major >= MINIMUM_NODE_MAJOR && (!best || major > best.major)) best = { major, runtime: value };
  }
  if (!best) throw new Error(`aws-cdk-lib names no Node.js ${MINIMUM_NODE_MAJOR}+ Lambda runtime: upgrade aws-cdk-lib`);
  return best.runtime;
}
