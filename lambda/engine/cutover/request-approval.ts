import { beginPhase } from './phase-records';
import { modeLabel } from './state-keys';
import type { StepContext } from './step-context';
import { ERRORS } from '../../../contract';

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Asks the operator to approve the freeze: an SNS notice with the task token and the exact AWS CLI commands
 * to approve or reject. It always asks (also on a resumed execution): a task token belongs to one execution.
 * The approval phase stays `running` until freezeWrites records it as approved.
 */
export async function requestApproval(
  ctx: StepContext,
  taskToken: string | undefined,
): Promise<Record<string, unknown>> {
  if (typeof taskToken !== 'string' || taskToken.length === 0) {
    throw new Error('requestApproval needs the Step Functions task token (field "taskToken")');
  }
  await beginPhase(ctx, 'approval');
  const id = ctx.input.migrationId;
  const approve = `aws stepfunctions send-task-success --task-token ${shellQuote(taskToken)} --task-output '{"approved":true}'`;
  const reject =
    `aws stepfunctions send-task-failure --task-token ${shellQuote(taskToken)} --error ${ERRORS.rejected} ` +
    `--cause ${shellQuote(`rejected by operator for ${id}`)}`;
  const mode = modeLabel(ctx.input);
  const message = [
    `Migration ${id}${mode} is in sync and waits for your approval.`,
    ``,
    ctx.input.mode === 'execute'
      ? `Approving freezes writes on the source now: logins of ${ctx.input.applicationRoles.join(', ')} are blocked and their sessions ended, then replication is stopped${ctx.input.switchTrafficTo ? ` and traffic switched to ${ctx.input.switchTrafficTo}` : ''}.`
      : `This is a dry run: approving changes nothing.`,
    ``,
    `Approve:`,
    approve,
    ``,
    `Reject (nothing is changed; the cutover rolls back):`,
    reject,
    ``,
    `Task token: ${taskToken}`,
  ].join('\n');
  await ctx.deps.notifier.notify(`zdm ${id}${mode}: approval needed`, message, {
    migrationId: id,
    mode: ctx.input.mode,
    phase: 'approval',
    outcome: 'waiting',
  });
  return { requested: true, approveCommand: approve, rejectCommand: reject };
}
