import { App, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CutoverWorkflow, type CutoverWorkflowProps } from '../../../lib/cutover/cutover-workflow';
import type { ReverseReplicationBinding } from '../../../lib/cutover/reverse-replication-binding';

export const TASK_ARN = 'arn:aws:dms:eu-west-1:123456789012:task:ABCDEFGHIJKLMNOP';
export const REVERSE_TASK_ARN = 'arn:aws:dms:eu-west-1:123456789012:task:REVERSEREVERSE01';
export const REVERSE_ALARM_ARN = 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:zdm-reverse-lag';

/** The way back's reverse replication (the task Aurora → source, its slot and its lag alarm), in `stack`. */
export function reverseReplicationBinding(stack: Stack): ReverseReplicationBinding {
  return {
    taskArn: REVERSE_TASK_ARN,
    taskIdentifier: 'REVERSEREVERSE01',
    instanceIdentifier: 'zdm-instance',
    slotName: 'zdm_reverse_0123456789abcdef',
    slotPlugin: 'test_decoding',
    lagAlarms: [cloudwatch.Alarm.fromAlarmArn(stack, 'ReverseLag', REVERSE_ALARM_ARN)],
  };
}

/**
 * A stack with a CutoverWorkflow. Asset bundling is skipped (`aws:cdk:bundling-stacks` = []): no esbuild
 * run (~1-2 s per function), the asset is a placeholder. Only tests of the bundle itself need it.
 * `overrides` may be a function of the stack, to create resources the props refer to in the same stack.
 */
export function workflowStack(
  overrides: Partial<CutoverWorkflowProps> | ((stack: Stack) => Partial<CutoverWorkflowProps>) = {},
  options: { nagFriendly?: boolean } = {},
): { app: App; stack: Stack; workflow: CutoverWorkflow; topic: sns.Topic; vpc: ec2.Vpc } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    flowLogs: options.nagFriendly ? { all: {} } : undefined,
  });
  const topic = new sns.Topic(stack, 'Topic', {
    masterKey: options.nagFriendly ? new kms.Key(stack, 'TopicKey', { enableKeyRotation: true }) : undefined,
    enforceSSL: true,
  });
  const secret = (id: string): secretsmanager.ISecret =>
    secretsmanager.Secret.fromSecretCompleteArn(
      stack,
      id,
      `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${id.toLowerCase()}-AbCdEf`,
    );
  const workflow = new CutoverWorkflow(stack, 'Cutover', {
    vpc,
    sourceSecret: secret('Source'),
    targetSecret: secret('Target'),
    tables: { include: [{ schema: 'public' }] },
    replicationTaskArn: TASK_ARN,
    replicationInstanceIdentifier: 'zdm-instance',
    replicationTaskIdentifier: 'ABCDEFGHIJKLMNOP',
    alarmTopic: topic,
    lagAlarms: [
      cloudwatch.Alarm.fromAlarmArn(
        stack,
        'LagAlarm',
        'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:zdm-lag-source',
      ),
    ],
    applicationRoles: ['app_rw'],
    // a function builds props (e.g. a traffic switch target) in the same stack
    ...(typeof overrides === 'function' ? overrides(stack) : overrides),
  });
  return { app, stack, workflow, topic, vpc };
}
