import type { Client } from 'pg';
import type { AckedWrite, WriteKind, Workload } from '../load/write-load';

/** Acknowledged probe writes whose row is not there. */
const PROBE_CHECK = `
    SELECT a.n, 'missing' AS found
      FROM rehearsal_ack a
     WHERE a.kind = 'probe'
       AND NOT EXISTS (SELECT 1 FROM zdm_cutover.rehearsal_probe p WHERE p.id = a.key::uuid AND p.token = a.token)
     ORDER BY 1`;

/** Acknowledged demo writes that are not there with their acknowledged value (see verifyAcknowledgedWrites). */
const DEMO_CHECK = `
    SELECT a.n, 'missing' AS found
      FROM rehearsal_ack a
     WHERE a.kind = 'event'
       AND NOT EXISTS (SELECT 1 FROM app.events e WHERE e.id = a.key::uuid AND e.write_token = a.token)
    UNION ALL
    SELECT a.n, 'missing'
      FROM rehearsal_ack a
     WHERE a.kind = 'customer'
       AND NOT EXISTS (SELECT 1 FROM app.customers c WHERE c.id = a.key::bigint AND c.signup_token = a.token)
    UNION ALL
    SELECT a.n, CASE WHEN o.id IS NULL THEN 'missing' ELSE coalesce(i.items, 0) || ' of 2 items' END
      FROM rehearsal_ack a
      LEFT JOIN sales.orders o ON o.id = a.key::bigint AND o.write_token = a.token
      LEFT JOIN (SELECT write_token, count(*) AS items FROM sales.order_items
                  WHERE write_token IS NOT NULL GROUP BY write_token) i ON i.write_token = a.token
     WHERE a.kind = 'order' AND (o.id IS NULL OR coalesce(i.items, 0) <> 2)
    UNION ALL
    SELECT u.n, CASE WHEN c.id IS NULL THEN 'missing' ELSE 'version ' || c.version || ' token ' || coalesce(c.write_token::text, 'null') END
      FROM (SELECT DISTINCT ON (key) n, key, token, version FROM rehearsal_ack
             WHERE kind = 'update' ORDER BY key, version DESC) u
      LEFT JOIN app.customers c ON c.id = u.key::bigint
     WHERE c.id IS NULL OR c.version < u.version OR (c.version = u.version AND c.write_token IS DISTINCT FROM u.token)
     ORDER BY 1`;

/** The periods of a fallback scenario's writes, in order. */
export const WRITE_PERIODS = {
  before: 'before the cutover',
  onTarget: 'on the target',
  after: 'after the fallback',
} as const;

/**
 * The period of each write of a fallback scenario: on the source before the cutover, on the target, on the source
 * again after the fallback (the source is frozen from the cutover's freeze until the fallback reopens it, so the
 * fallback's start divides the source's writes).
 */
export function periodOfWrite(fallbackStartedAt: number | undefined): (ack: AckedWrite) => string {
  return (a) =>
    a.server === 'target'
      ? WRITE_PERIODS.onTarget
      : fallbackStartedAt !== undefined && a.at >= fallbackStartedAt
        ? WRITE_PERIODS.after
        : WRITE_PERIODS.before;
}

export interface LostWrite {
  readonly kind: WriteKind;
  readonly key: string;
  readonly token: string;
  readonly version?: number;
  readonly server: string;
  readonly at: string;
  /** What the database has instead (`missing`, `version 3 < 5`, `1 of 2 items`, ...). */
  readonly found: string;
}

/** The acknowledged writes of one period of the run (fallback scenarios), as one database has them. */
export interface PeriodVerification {
  /** `before the cutover`, `on the target`, `after the fallback`. */
  readonly period: string;
  readonly checked: number;
  readonly found: number;
  readonly lost: number;
}

export interface VerificationResult {
  /** Where the check ran (`target`, `source`). */
  readonly database: string;
  /** Which acknowledged writes were looked up there, when not all of them (`up to the fallback's switch`). */
  readonly scope?: string;
  /**
   * false: not the side the application ended on (a copy kept by replication): a write missing there is that copy
   * behind, not a lost write. @default true
   */
  readonly home?: boolean;
  /** Per period of the run, in order (fallback scenarios). */
  readonly byPeriod?: PeriodVerification[];
  readonly checked: number;
  readonly found: number;
  readonly lost: number;
  /** Up to 20 of the writes not found, with what was found instead. */
  readonly samples: LostWrite[];
  readonly durationMs: number;
}

/**
 * Checks in bulk that every acknowledged write is in `client`'s database with its acknowledged value: the
 * acknowledgements go into a temporary table (in batches), then one anti-join per kind finds the missing ones.
 * - event: a row with that id and write_token;  - customer: that id with that signup_token;
 * - order: that order with that write_token and both of its items;
 * - update: per customer, the newest acknowledged update (highest version) must be there: the row's version is
 *   higher (a later write), or equal with the same token.
 * - probe: a row of zdm_cutover.rehearsal_probe with that id and token.
 */
export async function verifyAcknowledgedWrites(
  client: Client,
  acks: readonly AckedWrite[],
  database: string,
  workload: Workload = 'demo',
  /** Names the period of each write: the result then counts per period (in the order they first appear). */
  periodOf?: (ack: AckedWrite) => string,
): Promise<VerificationResult> {
  const started = Date.now();
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS rehearsal_ack (
    n int PRIMARY KEY, kind text NOT NULL, key text NOT NULL, token uuid NOT NULL, version bigint)`);
  await client.query('TRUNCATE rehearsal_ack');
  const batch = 5000;
  for (let i = 0; i < acks.length; i += batch) {
    const slice = acks.slice(i, i + batch);
    await client.query(
      `INSERT INTO rehearsal_ack (n, kind, key, token, version)
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::uuid[], $5::bigint[])`,
      [
        slice.map((_, j) => i + j),
        slice.map((a) => a.kind),
        slice.map((a) => a.key),
        slice.map((a) => a.token),
        slice.map((a) => a.version ?? null),
      ],
    );
  }
  await client.query('ANALYZE rehearsal_ack');
  const { rows } = await client.query<{ n: number; found: string }>(workload === 'probe' ? PROBE_CHECK : DEMO_CHECK);
  await client.query('DROP TABLE IF EXISTS rehearsal_ack');
  const samples = rows.slice(0, 20).map((r): LostWrite => {
    const a = acks[r.n];
    return {
      kind: a.kind,
      key: a.key,
      token: a.token,
      version: a.version,
      server: a.server,
      at: new Date(a.at).toISOString(),
      found: r.found,
    };
  });
  return {
    database,
    checked: acks.length,
    found: acks.length - rows.length,
    lost: rows.length,
    ...(periodOf ? { byPeriod: countByPeriod(acks, new Set(rows.map((r) => r.n)), periodOf) } : {}),
    samples,
    durationMs: Date.now() - started,
  };
}

function countByPeriod(
  acks: readonly AckedWrite[],
  lost: ReadonlySet<number>,
  periodOf: (ack: AckedWrite) => string,
): PeriodVerification[] {
  const counts = new Map<string, { checked: number; lost: number }>();
  acks.forEach((a, i) => {
    const period = periodOf(a);
    const c = counts.get(period) ?? { checked: 0, lost: 0 };
    c.checked++;
    if (lost.has(i)) c.lost++;
    counts.set(period, c);
  });
  return [...counts].map(([period, c]) => ({ period, checked: c.checked, found: c.checked - c.lost, lost: c.lost }));
}
