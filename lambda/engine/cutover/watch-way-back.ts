/**
 * The way back's watch (run by the construct's EventBridge schedule, every `wayBackWatchInterval`, not by a state
 * machine): while the reverse replication runs, reads the old source's guard (./way-back-guard.ts) and sends one
 * notice for the writes made there outside the way back since the last one, naming table, key and writer. Locally
 * the rehearsal polls `wayBackBreak` instead; in AWS this is what makes a broken way back known at once rather than
 * at a fallback's preflight.
 *
 * - It connects to no database unless the reverse replication is running (or starting): before a cutover, after the
 *   window closed or a fallback, the old source may be gone, and a watch every minute must not fail every minute.
 * - Its memory is on the old source itself, in the guard's record (`reported_at`): each write is reported once, and
 *   the memory goes with the guard when the window closes. A notice that could not be sent is sent by the next watch.
 * - A reverse replication that stopped or failed is not reported here (that would need a memory of its own, per
 *   detail, outside the old source): DMS's own task events (failure, stop) reach the same topic, and a fallback's
 *   preflight names the stop reason.
 */
import type { ReplicationState } from '../ports';
import type { CutoverDeps } from './deps';
import { sharedPool } from './connections';
import { redactAll } from './redaction';
import { reportUnreportedWrites, type UnreportedWrites } from './way-back-guard';

/** What the watch returns (its function's log line records the numbers). */
export interface WayBackWatchResult {
  /** Whether a way back was open to watch (the reverse replication running or starting). */
  readonly open: boolean;
  /** Why there was nothing to watch, or why nothing was read. */
  readonly reason?: string;
  readonly reverseState?: ReplicationState;
  /** Whether the old source has the guard (false: the way back runs unguarded, see StartReverse's notice). */
  readonly guarded?: boolean;
  /** Writes outside the way back reported by this watch (each is reported once). */
  readonly newWrites?: number;
  /** Writes outside the way back recorded so far. */
  readonly writes?: number;
  readonly notified: boolean;
}

/** The SNS message attribute of the notice (subscribers may filter on it). */
export const WAY_BACK_BROKEN_EVENT = 'way-back-broken';

/** Subject and text of the notice of `writes`. */
export function wayBackBrokenNotice(writes: UnreportedWrites, reverse: string): { subject: string; message: string } {
  const listed = writes.first.map(
    (w) => `- ${w.table} ${w.operation}${w.key ? ` key ${w.key.slice(0, 200)}` : ''} by ${w.writer} at ${w.at}`,
  );
  const more = writes.count > listed.length ? [`- and ${writes.count - listed.length} more`] : [];
  return {
    subject: `zdm: the way back is broken — ${writes.count} write(s) on the old source outside it`,
    message: [
      `${writes.count} new write(s) on a selected table of the old source, made outside ${reverse} ` +
        `(${writes.total} recorded since the way back opened):`,
      ...listed,
      ...more,
      '',
      'They are not on Aurora: a fallback would lose them, and the reverse replication stops if the application ' +
        "writes the same key. Stop that writer. A fallback's preflight refuses while the guard holds them " +
        '(writes-outside-way-back); they are listed by `SELECT * FROM zdm_cutover.way_back_writes ORDER BY id;` on ' +
        'the old source. This notice is sent once per write.',
    ].join('\n'),
  };
}

/** The `watchWayBack` step: the reverse replication's status first; the old source only while it runs. */
export async function watchWayBack(deps: CutoverDeps): Promise<WayBackWatchResult> {
  const reverse = deps.reverse;
  if (!reverse) return { open: false, reason: 'no reverse replication is configured', notified: false };
  const { state } = await reverse.status();
  if (state !== 'running' && state !== 'starting') {
    return {
      open: false,
      reason: `${reverse.description} is ${state}: no way back is open`,
      reverseState: state,
      notified: false,
    };
  }
  // `report` runs only with writes to report, and they are marked reported only once it returned.
  const outcome = await reportUnreportedWrites(await sharedPool(deps, 'source'), async (writes) => {
    const { subject, message } = wayBackBrokenNotice(writes, reverse.description);
    await deps.notifier.notify(subject, await redactAll(deps, message), { event: WAY_BACK_BROKEN_EVENT });
  });
  if (!outcome.guarded) return { open: true, reverseState: state, guarded: false, notified: false };
  if (outcome.busy) {
    return { open: true, reverseState: state, guarded: true, reason: 'another watch is reporting', notified: false };
  }
  return {
    open: true,
    reverseState: state,
    guarded: true,
    newWrites: outcome.reported,
    writes: outcome.total,
    notified: outcome.reported > 0,
  };
}
