import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CutoverWorkflow, type CutoverWorkflowDefinitionOptions } from '../../lib';
import { LOCAL_ACCOUNT, LOCAL_REGION, resolveIntrinsics, type IntrinsicValues } from './resolve-intrinsics';
import { templateFunctions, type TemplateFunctions } from './template-functions';

export { LOCAL_ACCOUNT, LOCAL_REGION };

/** Placeholder ARN a Fn::GetAtt <LogicalId>.Arn becomes in a locally run definition. */
export function placeholderFunctionArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

/**
 * Builds a throw-away stack with a CutoverWorkflow (imported VPC, secrets and topic; asset bundling
 * skipped, so no esbuild run) and returns the state machine definition as plain ASL JSON text.
 * Only the construct tree is built; the app is not synthesized.
 */
export function synthesizeDefinitionForLocalRun(
  options: CutoverWorkflowDefinitionOptions & { wayBack?: 'forward' | 'fallback' } = {},
): string {
  const { wayBack, ...definitionOptions } = options;
  const { stack, workflow } = buildLocalWorkflow(definitionOptions, Boolean(wayBack));
  return definitionOf(stack, wayBack === 'fallback' ? workflow.fallbackStateMachine! : workflow.stateMachine);
}

/**
 * Both machines of the way back from one construct tree (one synth instead of two): the cutover machine with
 * PrepareReverse / ArmReverse / StartReverse, and the fallback machine.
 */
export function synthesizeWayBackDefinitionsForLocalRun(options: CutoverWorkflowDefinitionOptions = {}): {
  readonly forward: string;
  readonly fallback: string;
  /** The template's functions, as their Task states invoke them. */
  readonly functions: TemplateFunctions;
} {
  const { stack, workflow } = buildLocalWorkflow(options, true);
  return {
    forward: definitionOf(stack, workflow.stateMachine),
    fallback: definitionOf(stack, workflow.fallbackStateMachine!),
    functions: templateFunctions(stack, LOCAL_INTRINSICS),
  };
}

/** The cutover machine and the template's functions (one synth), for a local run that checks each step's function. */
export function synthesizeMachineForLocalRun(options: CutoverWorkflowDefinitionOptions = {}): {
  readonly forward: string;
  readonly functions: TemplateFunctions;
} {
  const { stack, workflow } = buildLocalWorkflow(options, false);
  return {
    forward: definitionOf(stack, workflow.stateMachine),
    functions: templateFunctions(stack, LOCAL_INTRINSICS),
  };
}

function definitionOf(stack: Stack, machine: sfn.IStateMachine): string {
  const cfn = machine.node.defaultChild as sfn.CfnStateMachine;
  return resolveDefinitionString(stack.resolve(cfn.definitionString));
}

function buildLocalWorkflow(
  definitionOptions: CutoverWorkflowDefinitionOptions,
  wayBack: boolean,
): { stack: Stack; workflow: CutoverWorkflow } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'LocalCutover', { env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-00000000000000000',
    availabilityZones: [`${LOCAL_REGION}a`, `${LOCAL_REGION}b`],
    privateSubnetIds: ['subnet-00000000000000001', 'subnet-00000000000000002'],
  });
  const secret = (name: string): secretsmanager.ISecret =>
    secretsmanager.Secret.fromSecretCompleteArn(
      stack,
      name,
      `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name.toLowerCase()}-AbCdEf`,
    );
  const workflow = new CutoverWorkflow(stack, 'Cutover', {
    ...definitionOptions,
    ...(wayBack
      ? {
          reverseReplication: {
            taskArn: `arn:aws:dms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:task:LOCALREVERSE`,
            taskIdentifier: 'LOCALREVERSE',
            instanceIdentifier: 'local-instance',
            slotName: 'zdm_reverse_local',
            slotPlugin: 'pgoutput',
          },
        }
      : {}),
    vpc,
    sourceSecret: secret('Source'),
    targetSecret: secret('Target'),
    tables: { include: [{ schema: 'public' }] },
    replicationTaskArn: `arn:aws:dms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:task:LOCALTASK`,
    replicationInstanceIdentifier: 'local-instance',
    replicationTaskIdentifier: 'LOCALTASK',
    alarmTopic: sns.Topic.fromTopicArn(stack, 'Topic', `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:local`),
  });
  return { stack, workflow };
}

/** How a locally run template's intrinsics resolve: a function's Arn is its placeholder ARN, a Ref its logical id. */
const LOCAL_INTRINSICS: IntrinsicValues = {
  getAtt: (logicalId, attribute) =>
    attribute === 'Arn' ? placeholderFunctionArn(logicalId) : `${logicalId}.${attribute}`,
  ref: (logicalId) => logicalId,
};

/** Turns a resolved `DefinitionString` (plain string or Fn::Join of strings, GetAtt and Ref) into ASL text. */
export function resolveDefinitionString(value: unknown): string {
  const text = resolveIntrinsics(value, LOCAL_INTRINSICS);
  if (Array.isArray(text)) throw new Error('a state machine definition resolved to a list');
  JSON.parse(text); // must be JSON
  return text;
}
