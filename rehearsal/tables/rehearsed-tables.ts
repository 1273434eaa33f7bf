/**
 * Part 2 of a rehearsal: what it migrates. The demo schema (embedded servers, or `--demo`), or the user's own
 * tables (`--include/--exclude`) with the data that is there. For the user's tables nothing is created: the
 * target schema must already exist (as with DMS and DO_NOTHING), so it is compared first with the schema diff,
 * and the selected target tables must be empty (the initial copy fills them; the rehearsal empties them again
 * at the end). The target's sequences are saved, because the cutover moves them.
 */
import type { Client } from 'pg';
import { formatTableName, selectTables, type TableName, type TableSelection } from '../../contract';
import { diffSchema, qualify, type SchemaDifference } from '../../lambda/engine';
import { UsageError } from '../../cli/command-line';
import {
  createDemoSchema,
  DEMO_SCHEMAS,
  DEMO_SELECTION,
  dropDemoSchemas,
  loadDemoData,
  prepareDemoSchemas,
  type DemoRowCounts,
} from './demo-schema';
import { listTables } from '../local/native-replication-setup';
import { withAdmin, withPools } from '../servers/pg-clients';
import type { RehearsalContext } from '../run-context';
import type { Servers } from '../servers/setup-servers';

export interface SequenceValue {
  readonly sequence: string;
  readonly lastValue: string;
  readonly isCalled: boolean;
}

export interface RehearsedTables {
  readonly kind: 'demo' | 'user';
  /** The selection the cutover, its validation and the publication use (the workflow's schema left out). */
  readonly selection: TableSelection;
  /** The tables it selects on the source (partitioned tables by their root). */
  readonly tables: TableName[];
  /** Rows per table: exact for the demo (what was loaded), estimates (pg_class.reltuples) for the user's. */
  readonly rows: Record<string, number>;
  readonly rowsAreEstimates: boolean;
  /** Schema differences that are only warnings (errors refuse the rehearsal). */
  readonly schemaWarnings: SchemaDifference[];
  /** The target's sequences before the rehearsal (user tables; restored at the end). */
  readonly targetSequences: SequenceValue[];
  /** Target tables holding the copy an earlier, killed rehearsal made (emptied with its other leftovers). */
  readonly leftoverCopy: TableName[];
}

/** At most this many differences are listed in a refusal. */
const LISTED = 25;

function describeDifference(d: SchemaDifference): string {
  return `${d.severity} ${d.code} ${d.object}: ${d.message}${d.fix ? ` (fix: ${d.fix})` : ''}`;
}

/**
 * Rows per table: pg_class.reltuples (of its leaf partitions, or of itself: pg_partition_tree returns no rows for a
 * table that is not partitioned), or a capped count where it says nothing: -1 (never analyzed) or 0.
 */
async function estimatedRows(client: Client, tables: readonly TableName[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const { rows } = await client.query<{ n: number; unknown: boolean }>(
      `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 AS n, bool_or(c.reltuples <= 0) AS unknown
         FROM pg_class c
        WHERE c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf)
           OR (c.oid = $1::regclass AND c.relkind <> 'p')`,
      [qualify(t)],
    );
    let n = rows[0].n;
    if (rows[0].unknown) {
      const counted = await client.query<{ n: number }>(
        `SELECT count(*)::float8 AS n FROM (SELECT 1 FROM ${qualify(t)} LIMIT 1000000) x`,
      );
      n = Math.max(n, counted.rows[0].n);
    }
    out[formatTableName(t)] = Math.round(n);
  }
  return out;
}

async function nonEmpty(client: Client, tables: readonly TableName[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    const { rows } = await client.query<{ e: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualify(t)}) AS e`);
    if (rows[0].e) out.push(formatTableName(t));
  }
  return out;
}

/** Every sequence of the target outside the system and workflow schemas, with its value. */
export async function readSequences(client: Client): Promise<SequenceValue[]> {
  const { rows } = await client.query<{ seq: string }>(
    `SELECT format('%I.%I', schemaname, sequencename) AS seq FROM pg_sequences
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'zdm_cutover') ORDER BY 1`,
  );
  const out: SequenceValue[] = [];
  for (const { seq } of rows) {
    const v = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${seq}`,
    );
    out.push({ sequence: seq, lastValue: v.rows[0].last_value, isCalled: v.rows[0].is_called });
  }
  return out;
}

/** Puts back the sequences that moved; returns those it reset. */
export async function restoreSequences(client: Client, saved: readonly SequenceValue[]): Promise<string[]> {
  const now = new Map((await readSequences(client)).map((s) => [s.sequence, s]));
  const reset: string[] = [];
  for (const s of saved) {
    const current = now.get(s.sequence);
    if (!current || (current.lastValue === s.lastValue && current.isCalled === s.isCalled)) continue;
    await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [s.sequence, s.lastValue, s.isCalled]);
    reset.push(s.sequence);
  }
  return reset;
}

/**
 * The user's tables: checks only (nothing is changed). Throws UsageError with the reason to refuse. With
 * `ownCopy` (an earlier rehearsal's subscription or probe table is still on the target, so the rows in the
 * selected target tables are its copy), rows on the target are that copy, to be emptied, not a reason to refuse.
 */
async function checkUserTables(
  servers: Servers,
  selection: TableSelection,
  ownCopy: boolean,
): Promise<RehearsedTables> {
  const { sourceUrl, targetUrl } = servers;
  const tables = await withAdmin(sourceUrl, async (c) => selectTables(selection, await listTables(c)));
  if (tables.length === 0) {
    throw new UsageError(
      'no table of the source matches the selection (--include/--exclude; the default is every user table); nothing was changed',
    );
  }
  const schema = await withPools(sourceUrl, targetUrl, ({ source, target }) => diffSchema(source, target, selection));
  const errors = schema.differences.filter((d) => d.severity === 'error');
  if (!schema.ok) {
    throw new UsageError(
      [
        `the target schema differs from the source in ${errors.length} way(s) that would break the migration ` +
          '(create it as in production first, e.g. pg_dump --schema-only; `zdm schema` shows the same); nothing was changed:',
        ...errors.slice(0, LISTED).map((d) => `  - ${describeDifference(d)}`),
        ...(errors.length > LISTED ? [`  … and ${errors.length - LISTED} more`] : []),
      ].join('\n'),
    );
  }
  const filled = await withAdmin(targetUrl, (c) => nonEmpty(c, tables));
  if (filled.length > 0 && !ownCopy) {
    throw new UsageError(
      `the target already has rows in ${filled.join(', ')}: the initial copy needs the selected target tables empty ` +
        '(a rehearsal empties what it copied at the end; rows left by an interrupted run or by you must be removed ' +
        'first, e.g. TRUNCATE on the target); nothing was changed',
    );
  }
  const rows = await withAdmin(sourceUrl, (c) => estimatedRows(c, tables));
  const targetSequences = await withAdmin(targetUrl, (c) => readSequences(c));
  return {
    kind: 'user',
    selection,
    tables,
    rows,
    rowsAreEstimates: true,
    schemaWarnings: schema.differences.filter((d) => d.severity !== 'error'),
    targetSequences,
    leftoverCopy: ownCopy ? tables.filter((t) => filled.includes(formatTableName(t))) : [],
  };
}

/** Checks what the rehearsal will migrate; changes nothing. */
export async function checkRehearsedTables(
  ctx: RehearsalContext,
  servers: Servers,
  ownCopy = false,
): Promise<RehearsedTables> {
  if (!ctx.options.demo) {
    const plan = await checkUserTables(servers, ctx.options.selection!, ownCopy);
    for (const w of plan.schemaWarnings.slice(0, LISTED))
      ctx.progress.log(`  schema warning: ${describeDifference(w)}`);
    return plan;
  }
  for (const [where, url] of [
    ['the source database', servers.sourceUrl],
    ['the target database', servers.targetUrl],
  ] as const) {
    await withAdmin(url, (c) => prepareDemoSchemas(c, where, { dropOwn: false }));
  }
  return {
    kind: 'demo',
    selection: DEMO_SELECTION,
    tables: [],
    rows: {},
    rowsAreEstimates: false,
    schemaWarnings: [],
    targetSequences: [],
    leftoverCopy: [],
  };
}

/** The demo: creates the schema on both sides (the target's empty, as DMS expects) and loads the source. */
export async function createDemoTables(
  ctx: RehearsalContext,
  servers: Servers,
  plan: RehearsedTables,
): Promise<RehearsedTables> {
  for (const url of [servers.sourceUrl, servers.targetUrl]) {
    await withAdmin(url, async (c) => {
      await prepareDemoSchemas(c, 'the database', { dropOwn: true });
      await createDemoSchema(c);
    });
    if (servers.kind === 'external') {
      ctx.ledger.push({
        name: `drop the demo schemas (${DEMO_SCHEMAS.join(', ')}) on ${url === servers.sourceUrl ? 'the source' : 'the target'}`,
        run: () => withAdmin(url, (c) => dropDemoSchemas(c)),
      });
    }
  }
  const loaded: DemoRowCounts = await withAdmin(servers.sourceUrl, (c) => loadDemoData(c, ctx.options.rows));
  const tables = await withAdmin(servers.sourceUrl, async (c) => selectTables(DEMO_SELECTION, await listTables(c)));
  return { ...plan, tables, rows: { ...loaded } };
}
