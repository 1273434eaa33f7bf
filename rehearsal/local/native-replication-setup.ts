/**
 * Sets up and tears down native PostgreSQL logical replication between two databases, the way the rehearsal
 * and the tests stand in for DMS: a publication on the source for the selected tables plus the marker table,
 * and a subscription on the target that copies the existing rows first (`copy_data = true`), then streams.
 * The target's schema is created by the caller beforehand (as with DMS and a pre-created schema); the marker
 * table is created here on both sides.
 *
 * The slot is created on the source first and the subscription uses it (`create_slot = false`): a subscription
 * that creates its slot on the server it runs on (two databases of one server) waits forever for its own
 * transaction, and PostgreSQL documents this order as the way around it.
 */
import type { Client, ClientConfig } from 'pg';
import {
  connect,
  type ConnectionSpec,
  ensureMarkerTable,
  publicationMembers,
  quoteIdent,
  quoteLiteral,
  readSubscription,
} from '../../lambda/engine';
import { MARKER_TABLE, ZDM_SCHEMA, selectTables, type TableName, type TableSelection } from '../../contract';

export interface NativeReplicationSetupOptions {
  readonly source: ConnectionSpec;
  readonly target: ConnectionSpec;
  /** The one table selection; the marker table is added. */
  readonly tables: TableSelection;
  /** Name of the publication, the subscription and its slot (slot names are per source server: keep it unique). */
  readonly name: string;
  /** How the target server reaches the source (libpq conninfo or URI). @default - built from `source` */
  readonly sourceConnInfo?: string;
  /** @default true */
  readonly copyData?: boolean;
  /** Tables published besides the selection and the marker table (e.g. the rehearsal's probe table). */
  readonly extraTables?: readonly TableName[];
}

export interface NativeReplication {
  readonly publication: string;
  readonly subscription: string;
  readonly slot: string;
  /** Tables in the publication, marker table included. */
  readonly tables: TableName[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A libpq conninfo string for a connection spec (URIs are accepted by libpq as they are). */
export function toConnInfo(spec: ConnectionSpec): string {
  if (typeof spec === 'string') return spec;
  const config: ClientConfig = spec;
  const parts: [string, unknown][] = [
    ['host', config.host],
    ['port', config.port],
    ['user', config.user],
    ['password', typeof config.password === 'string' ? config.password : undefined],
    ['dbname', config.database],
  ];
  if (config.ssl) parts.push(['sslmode', 'require']);
  return parts
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}

/** One short connection for setup statements (the engine's `connect`: it has an error listener). */
export async function withClient<T>(spec: ConnectionSpec, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connect(spec, 'zdm-setup');
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Regular and partitioned tables of the connected database (not partitions: they publish through their root). */
export async function listTables(client: Client): Promise<TableName[]> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  );
  return rows;
}

/** Creates (or updates) the publication and creates the subscription. Safe to call again with the same name. */
export async function setupNativeReplication(options: NativeReplicationSetupOptions): Promise<NativeReplication> {
  const { name } = options;
  await withClient(options.target, (c) => ensureMarkerTable(c));
  const tables = await withClient(options.source, async (c) => {
    await ensureMarkerTable(c);
    const all = await listTables(c);
    const selected = selectTables(options.tables, all).filter(
      (t) => !(t.schema === ZDM_SCHEMA && t.table === MARKER_TABLE),
    );
    const extra = (options.extraTables ?? []).filter(
      (t) => !selected.some((x) => x.schema === t.schema && x.table === t.table),
    );
    const list = [...selected, ...extra, { schema: ZDM_SCHEMA, table: MARKER_TABLE }];
    const { list: tableList, withClause } = await publicationMembers(c, list, { viaPartitionRoot: true });
    const exists = await c.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name]);
    if (exists.rows.length === 0) {
      await c.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tableList}${withClause}`);
    } else {
      await c.query(`ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${tableList}`);
    }
    return list;
  });
  await withClient(options.target, async (c) => {
    const sub = await readSubscription(c, name);
    if (!sub) {
      await withClient(options.source, async (source) => {
        const slot = await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [name]);
        if (slot.rows.length === 0) {
          await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [name]);
        }
      });
      const conninfo = options.sourceConnInfo ?? toConnInfo(options.source);
      await c.query(
        `CREATE SUBSCRIPTION ${quoteIdent(name)} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${quoteIdent(name)}
           WITH (copy_data = ${options.copyData === false ? 'false' : 'true'}, create_slot = false,
                 slot_name = ${quoteLiteral(name)})`,
      );
    } else {
      await c
        .query(`ALTER SUBSCRIPTION ${quoteIdent(name)} REFRESH PUBLICATION WITH (copy_data = true)`)
        .catch(() => undefined);
    }
  });
  return { publication: name, subscription: name, slot: name, tables };
}

/** Waits until the subscription's initial copy is done (every table ready) and its apply worker runs. */
export async function waitForNativeSync(target: ConnectionSpec, name: string, timeoutMs = 30_000): Promise<void> {
  await withClient(target, async (c) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sub = await readSubscription(c, name);
      if (sub && sub.rels > 0 && sub.not_ready === 0 && sub.apply_workers > 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `subscription ${name} did not finish its initial copy within ${timeoutMs} ms (${sub ? `${sub.rels - sub.not_ready}/${sub.rels} tables ready` : 'missing'})`,
        );
      }
      await sleep(50);
    }
  });
}

async function dropSlot(c: Client, slot: string, deadline: number): Promise<void> {
  for (;;) {
    const { rows } = await c.query<{ active_pid: number | null }>(
      `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    if (rows.length === 0) return;
    if (rows[0].active_pid !== null) {
      await c.query(`SELECT pg_terminate_backend($1)`, [rows[0].active_pid]);
    } else {
      try {
        await c.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === '42704') return; // dropped meanwhile
        if (code !== '55006' || Date.now() > deadline) throw error; // 55006: slot active
      }
    }
    if (Date.now() > deadline) throw new Error(`replication slot ${slot} is still in use`);
    await sleep(50);
  }
}

/**
 * Drops the subscription (without letting it reach for the source), then the slot(s) and the publication on
 * the source. Safe to call twice, and when setup only got halfway.
 */
export async function teardownNativeReplication(options: {
  readonly source: ConnectionSpec;
  readonly target: ConnectionSpec;
  readonly name: string;
}): Promise<void> {
  const { name } = options;
  const subOid = await withClient(options.target, async (c) => {
    const sub = await readSubscription(c, name);
    if (!sub) return undefined;
    if (sub.enabled) await c.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
    await c.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} SET (slot_name = NONE)`);
    await c.query(`DROP SUBSCRIPTION IF EXISTS ${quoteIdent(name)}`);
    return sub.oid;
  });
  await withClient(options.source, async (c) => {
    const deadline = Date.now() + 15_000;
    const slots = await c.query<{ slot_name: string }>(
      `SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1 OR ($2::text IS NOT NULL AND slot_name LIKE $2)`,
      [name, subOid === undefined ? null : `pg\\_${subOid}\\_sync\\_%`],
    );
    for (const { slot_name } of slots.rows) await dropSlot(c, slot_name, deadline);
    await c.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
  });
}
