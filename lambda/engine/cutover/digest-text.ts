/**
 * The progress digest's words: what a person reads in the hourly e-mail while replication runs and the cutover
 * waits. Pure functions of what was read (./progress-digest.ts reads it).
 */
import type { ReplicationProgress, ReplicationState, TableLoadProgress } from '../ports';

/** Everything the digest says, as read. `undefined`: not known. */
export interface DigestFacts {
  readonly at: Date;
  /** The replication, as its adapter names it ("AWS DMS task arn:..."). */
  readonly replication: string;
  readonly state: ReplicationState;
  readonly lagSeconds: number | null;
  /** What counts as in sync (the cutover's `lagThresholdSeconds`). */
  readonly lagThresholdSeconds: number;
  readonly fullLoadComplete: boolean;
  readonly progress?: ReplicationProgress;
  readonly backlog?: ReadonlyArray<{ readonly migrationId: string; readonly keys: number }>;
}

/** When the target will be in sync: now, an estimate, or unknown (and why). */
export type Eta =
  | { readonly kind: 'in-sync' }
  | { readonly kind: 'estimate'; readonly seconds: number; readonly basis: string }
  | { readonly kind: 'unknown'; readonly why: string };

/** Tables listed one per line; the rest are counted. */
const MAX_TABLES_LISTED = 50;

/** `45 s`, `12 min`, `1 h 20 min`, `2 d 3 h`. */
export function roughDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/**
 * In sync once the full load is done and the CDC lag is at or under the threshold. While the full load runs, its
 * remaining share at the rate so far (the CDC catch-up after it is not estimated); after it, a lag above the
 * threshold gives no estimate (one datapoint shows no trend).
 */
export function etaToInSync(facts: DigestFacts): Eta {
  const { progress, lagSeconds, lagThresholdSeconds } = facts;
  if (facts.fullLoadComplete) {
    if (lagSeconds === null) return { kind: 'unknown', why: 'no fresh CDC lag datapoint' };
    if (lagSeconds <= lagThresholdSeconds) return { kind: 'in-sync' };
    return { kind: 'unknown', why: `CDC lag ${lagSeconds} s is above the ${lagThresholdSeconds} s threshold` };
  }
  if (!progress?.fullLoadStartedAt || progress.fullLoadPercent <= 0 || progress.fullLoadPercent >= 100) {
    return { kind: 'unknown', why: 'the full load has no progress to extrapolate yet' };
  }
  const elapsed = (facts.at.getTime() - progress.fullLoadStartedAt.getTime()) / 1000;
  if (elapsed <= 0) return { kind: 'unknown', why: 'the full load has no progress to extrapolate yet' };
  const p = progress.fullLoadPercent;
  return {
    kind: 'estimate',
    seconds: Math.round((elapsed * (100 - p)) / p),
    basis: `full load ${p}% after ${roughDuration(elapsed)}; the CDC catch-up after it is not included`,
  };
}

function etaText(eta: Eta): string {
  if (eta.kind === 'in-sync') return 'in sync now';
  if (eta.kind === 'estimate') return `about ${roughDuration(eta.seconds)} (${eta.basis})`;
  return `unknown (${eta.why})`;
}

function tableLines(tables: readonly TableLoadProgress[]): string[] {
  const sorted = [...tables].sort((a, b) => `${a.schema}.${a.table}`.localeCompare(`${b.schema}.${b.table}`));
  const width = Math.min(60, Math.max(...sorted.map((t) => `${t.schema}.${t.table}`.length)));
  const lines = sorted.slice(0, MAX_TABLES_LISTED).map((t) => {
    const errors = t.errorRows ? `, ${t.errorRows.toLocaleString('en-US')} rows failed` : '';
    return `  ${`${t.schema}.${t.table}`.padEnd(width)}  ${t.state}: ${t.rows.toLocaleString('en-US')} rows${errors}`;
  });
  if (sorted.length > MAX_TABLES_LISTED) lines.push(`  … and ${sorted.length - MAX_TABLES_LISTED} more table(s)`);
  return lines;
}

/** The digest as an SNS notice: a subject that says where it stands, and the details. */
export function digestNotice(facts: DigestFacts): {
  readonly subject: string;
  readonly message: string;
  readonly eta: Eta;
} {
  const eta = etaToInSync(facts);
  const { progress, backlog, lagSeconds } = facts;
  const lag = lagSeconds === null ? 'unknown' : `${lagSeconds} s`;
  const load = facts.fullLoadComplete
    ? 'complete'
    : progress
      ? `${progress.fullLoadPercent}%`
      : 'in progress (percentage unknown)';
  const subject =
    eta.kind === 'in-sync'
      ? `zdm progress: in sync (CDC lag ${lag})`
      : facts.fullLoadComplete
        ? `zdm progress: CDC lag ${lag}, not in sync yet`
        : `zdm progress: full load ${load}, in sync ${eta.kind === 'estimate' ? `in about ${roughDuration(eta.seconds)}` : 'ETA unknown'}`;
  const backlogText =
    backlog === undefined
      ? 'unknown'
      : backlog.length === 0
        ? 'unknown (no cutover reported one in the last 15 minutes: none is waiting for sync)'
        : backlog.map((b) => `${b.migrationId}: ${b.keys.toLocaleString('en-US')} key(s)`).join(', ');
  const message = [
    `Migration progress at ${facts.at.toISOString()}`,
    `Replication: ${facts.replication} (${facts.state})`,
    ``,
    `Full load: ${load}`,
    ...(progress
      ? progress.tables.length
        ? tableLines(progress.tables)
        : ['  (no table statistics yet)']
      : ['  per table: unknown']),
    `CDC lag: ${lag} (in sync at ${facts.lagThresholdSeconds} s or less)`,
    `Verification backlog: ${backlogText}`,
    `ETA to in sync: ${etaText(eta)}`,
    ``,
    `This digest repeats while replication runs (the construct's cutover.digestInterval; cutover.digest: false turns it off).`,
  ].join('\n');
  return { subject, message, eta };
}
