/** The functions run on the newest Node.js runtime the consumer's aws-cdk-lib knows (cdk-nag AwsSolutions-L1). */
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { newestNodeRuntime } from '../../../lib/private/runtime';
import { workflowStack } from '../cutover/support';

const runtimes = (template: Template): string[] => [
  ...new Set(
    Object.values(template.findResources('AWS::Lambda::Function'))
      .filter((f) => JSON.stringify(f.Properties.Environment ?? {}).includes('ALLOWED_STEPS'))
      .map((f) => f.Properties.Runtime as string),
  ),
];

test('today: the newest NODEJS_<n>_X of the installed aws-cdk-lib', () => {
  const majors = Object.keys(lambda.Runtime)
    .map((k) => /^NODEJS_(\d+)_X$/.exec(k)?.[1])
    .filter((m): m is string => m !== undefined)
    .map(Number);
  expect(newestNodeRuntime().name).toBe(`nodejs${Math.max(...majors)}.x`);
  expect(runtimes(Template.fromStack(workflowStack().stack))).toEqual([newestNodeRuntime().name]);
});

test('a newer aws-cdk-lib that names a newer runtime: the functions use it', () => {
  const newer = new lambda.Runtime('nodejs98.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true });
  Object.defineProperty(lambda.Runtime, 'NODEJS_98_X', { value: newer, configurable: true, enumerable: true });
  try {
    const { stack } = workflowStack();
    // CDK's template validation knows today's runtimes only (W3030): this one is a future aws-cdk-lib's.
    Validations.of(stack).acknowledge({ id: 'CloudFormation-Validate::W3030', reason: 'a future runtime, on purpose' });
    expect(runtimes(Template.fromStack(stack))).toEqual(['nodejs98.x']);
  } finally {
    delete (lambda.Runtime as unknown as Record<string, unknown>).NODEJS_98_X;
  }
});
