/**
 * State names of the cutover state machine. They are API: the construct (lib/cutover) builds the machine
 * with them, the local runner (rehearsal/local/run-state-machine.ts) maps Task states onto steps with them,
 * and operators see them in the Step Functions console. Renaming one is a breaking change.
 *
 * This file must not import aws-cdk-lib: the Lambda bundle and the local runner both use it.
 */
import { STATE_STEP, type StepName, type TaskStateName } from './steps';

/** Task states that wait for a task token (SendTaskSuccess / SendTaskFailure) after their step returns. */
export const TASK_TOKEN_STATES: readonly TaskStateName[] = ['RequestApproval'];

/** The other (non-Task) states. */
export const STATES = {
  /** Pass state wrapping the raw execution input as `$.raw` (any JSON type) before ValidateInput. */
  receiveInput: 'ReceiveInput',
  /** Inline Map over the pre-validation ranges. */
  preValidation: 'PreValidation',
  /** Inline Map over the post-validation ranges. */
  postValidation: 'PostValidation',
  /** Pass state seeding `$.results.checkLag` with `{ consecutive: 0 }` before the first lag check. */
  startWaitForSync: 'StartWaitForSync',
  /** Pass state after the optional post-switch validation, keeping only the step results (drops plan and range results). */
  postValidated: 'PostValidated',
  /** Choice after each lag check: synced / timed out / keep waiting. */
  isSynced: 'IsSynced',
  /** Wait state between lag checks (`pollInterval`). */
  waitForSync: 'WaitBeforeNextLagCheck',
  /** Pass state that records a sync timeout as `$.error` before the (no-op) rollback. */
  syncTimedOut: 'SyncTimedOut',
  /** Choice after StopReplication: stopped (or dry run) → CheckLateWrites, else wait and stop again. */
  isReplicationStopped: 'IsReplicationStopped',
  /** Wait state between StopReplication invocations while the task is still stopping (`pollInterval`). */
  waitForStop: 'WaitBeforeNextStopCheck',
  /** Choice on `$.input.requireApproval`. */
  isApprovalRequired: 'IsApprovalRequired',
  /** Fail state when ValidateInput rejects the execution input (nothing was changed). */
  invalidInput: 'InvalidInput',
  /** Choice on `$.input.fullValidationAfterSwitch`: the optional full validation after the switch. */
  isFullValidationRequested: 'IsFullValidationRequested',
  /** Fail state after Rollback (any failure before the switch, sync timeout, rejected approval). */
  rolledBack: 'RolledBack',
  /** Fail state when Rollback itself failed (after retries): the source may still be frozen. */
  rollbackFailed: 'RollbackFailed',
  /** Fail state after ReportFailureAfterSwitch (failure past the point of no return: no automatic rollback). */
  failedAfterSwitch: 'FailedAfterSwitch',
  /** Choice after ReportFailureAfterSwitch: late writes (ZdmLateWrites) end in LateWritesFound. */
  isLateWrites: 'IsLateWrites',
  /**
   * Fail state for late writes: a selected table changed on the source after the final-sync marker (after the switch:
   * those changes are not on the target). The source's tracking slot is kept; the notice lists tables and keys.
   */
  lateWritesFound: 'LateWritesFound',
  /** Choice after ValidateInput: `mode: "revert-reads"` → RevertReads, anything else → Preflight. */
  isRevertReads: 'IsRevertReads',
  /** Choice after SwitchReads: `mode: "switch-reads"` → FinishReadSwitch, the cutover → the approval gate. */
  isReadSwitchOnly: 'IsReadSwitchOnly',
  /** Succeed state of a `switch-reads` execution: reads on the target, writes on the source, replication running. */
  readsSwitched: 'ReadsSwitched',
  /** Succeed state of a `revert-reads` execution. */
  readsReverted: 'ReadsReverted',
  /** Fail state when a `revert-reads` execution could not point the reads back. */
  revertReadsFailed: 'RevertReadsFailed',
  /** Choice after ValidateInput on the cutover machine: `mode: "end-fallback-window"` → EndFallbackWindow. */
  isEndFallbackWindow: 'IsEndFallbackWindow',
  /** Succeed state of an `end-fallback-window` execution. */
  fallbackWindowEnded: 'FallbackWindowEnded',
  /** Fail state when `end-fallback-window` could not stop the reverse replication or drop its slot. */
  endFallbackWindowFailed: 'EndFallbackWindowFailed',
  /** Succeed state of the fallback machine: the application is on the source again. */
  fellBack: 'FallbackSucceeded',
  /** Succeed state. */
  succeeded: 'CutoverSucceeded',
} as const;

/** Key under `$.results` where a state stores its result: the state name with a lower-case first letter. */
export function resultKey(stateName: string): string {
  return stateName.charAt(0).toLowerCase() + stateName.slice(1);
}

/** The step a Task state runs, or undefined for non-Task states. */
export function stepOfState(stateName: string): StepName | undefined {
  return Object.prototype.hasOwnProperty.call(STATE_STEP, stateName)
    ? STATE_STEP[stateName as TaskStateName]
    : undefined;
}
