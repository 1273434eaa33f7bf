/**
 * The periodic progress digest (run by the construct's EventBridge schedule, not by a state machine): while the
 * replication runs, reads its full-load progress per table, the CDC lag and the cutover's verification backlog, and
 * publishes them to the topic. Keeps no state; a stopped task (after the cutover, or before it starts) is not
 * reported on (its stop and failure have their own notices).
 */
import { CUTOVER_INPUT_DEFAULTS } from '../../../contract';
import type { ReplicationStatus } from '../ports';
import type { CutoverDeps } from './deps';
import { digestNotice, type DigestFacts } from './digest-text';

/** What the digest step returns: its numbers are what the function's log line records. */
export interface DigestResult {
  readonly published: boolean;
  readonly running: boolean;
  readonly lagSeconds?: number;
  readonly fullLoadPercent?: number;
  readonly tables?: number;
  readonly backlogKeys?: number;
  readonly etaSeconds?: number;
  readonly inSync?: boolean;
}

/** Reads what the digest says besides `status`; a part that cannot be read is "unknown", never a failed digest. */
export async function readDigestFacts(deps: CutoverDeps, status: ReplicationStatus): Promise<DigestFacts> {
  const unknown = <T>(read: (() => Promise<T>) | undefined): Promise<T | undefined> =>
    read ? read().catch(() => undefined) : Promise.resolve(undefined);
  const [progress, backlog] = await Promise.all([
    unknown(deps.replication.progress && (() => deps.replication.progress!())),
    unknown(deps.cutoverMetrics && (() => deps.cutoverMetrics!.verificationBacklog())),
  ]);
  return {
    at: (deps.now ?? (() => new Date()))(),
    replication: deps.replication.description,
    state: status.state,
    lagSeconds: status.lagSeconds,
    lagThresholdSeconds: deps.defaults?.lagThresholdSeconds ?? CUTOVER_INPUT_DEFAULTS.lagThresholdSeconds,
    fullLoadComplete: status.fullLoadComplete,
    ...(progress ? { progress } : {}),
    ...(backlog ? { backlog } : {}),
  };
}

/** The `digest` step: reads, and publishes while the replication runs. */
export async function progressDigest(deps: CutoverDeps): Promise<DigestResult> {
  const status = await deps.replication.status();
  const running = status.state === 'running' || status.state === 'starting';
  if (!running) return { published: false, running };
  const facts = await readDigestFacts(deps, status);
  const { subject, message, eta } = digestNotice(facts);
  await deps.notifier.notify(subject, message, { event: 'progress-digest' });
  const backlogKeys = facts.backlog?.reduce((sum, b) => sum + b.keys, 0);
  return {
    published: true,
    running,
    ...(facts.lagSeconds !== null ? { lagSeconds: facts.lagSeconds } : {}),
    ...(facts.progress
      ? { fullLoadPercent: facts.progress.fullLoadPercent, tables: facts.progress.tables.length }
      : {}),
    ...(facts.backlog?.length ? { backlogKeys } : {}),
    ...(eta.kind === 'estimate' ? { etaSeconds: eta.seconds } : {}),
    inSync: eta.kind === 'in-sync',
  };
}
