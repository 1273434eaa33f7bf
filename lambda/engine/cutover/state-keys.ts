/** The keys of a cutover's records in the state store, and the label notices give each kind of execution. */
import type { CutoverAction, CutoverDirection, CutoverInput } from '../../../contract';

/**
 * The key of a cutover's record in the state store.
 *
 * - `execute`: the migrationId itself, so a new execution with the same migrationId resumes (skips phases that
 *   succeeded, finds the saved freeze settings and marker token).
 * - `dry-run`: `<migrationId>#dry-run#<startedAt>` — every dry-run execution gets its own record, so a dry run
 *   never shares phase results with an execute run (nor with another dry run). `#` cannot occur in a valid
 *   migrationId, so the keys never collide. A redrive of the same execution keeps `startedAt`, so it still resumes.
 * - the fallback: `<migrationId>#fallback` (dry run: `<migrationId>#fallback#dry-run#<startedAt>`); what it shares
 *   with the cutover (its saved freeze, the way back) it reads from the cutover's record.
 * - `switch-reads` / `revert-reads` / `end-fallback-window`: `<migrationId>#<action>#<startedAt>`, for the same reason. What they share
 *   with the write cutover — where the read path pointed — is on its own record (readSwitchKey).
 */
export function stateKey(
  input: Pick<CutoverInput, 'migrationId' | 'mode' | 'startedAt'> & {
    action?: CutoverAction;
    direction?: CutoverDirection;
  },
): string {
  if (input.action && input.action !== 'cutover') return `${input.migrationId}#${input.action}#${input.startedAt}`;
  const id = input.direction === 'fallback' ? `${input.migrationId}#fallback` : input.migrationId;
  return input.mode === 'execute' ? id : `${id}#dry-run#${input.startedAt}`;
}

/** The record of a migration's read switch, shared by every execution of that migration. */
export function readSwitchKey(migrationId: string): string {
  return `${migrationId}#reads`;
}

/** What notices add after the migration id: ` [dry run]`, ` [switch reads]`, ` [revert reads]` or nothing. */
export function modeLabel(
  input: Pick<CutoverInput, 'mode'> & { action?: CutoverAction; direction?: CutoverDirection },
): string {
  if (input.action && input.action !== 'cutover') return ` [${input.action.replace(/-/g, ' ')}]`;
  const fallback = input.direction === 'fallback' ? ' [fallback]' : '';
  return `${fallback}${input.mode === 'dry-run' ? ' [dry run]' : ''}`;
}
