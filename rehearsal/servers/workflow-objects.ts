/**
 * The workflow's own schema (zdm_cutover) on both sides: its marker table, and the rehearsal's probe table (the
 * probe writer's acknowledged writes land there). What the rehearsal adds is taken away at the end: the schema
 * if it made it (it carries REHEARSAL_SCHEMA_COMMENT), else the tables that appeared during the run and the rows
 * of this migration in those that were there before.
 */
import type { Client } from 'pg';
import { ZDM_SCHEMA } from '../../contract';
import { ensureMarkerTable, qualify, quoteIdent, quoteLiteral } from '../../lambda/engine';
import { PROBE_TABLE, probeComment, REHEARSAL_SCHEMA_COMMENT } from '../names';
import { withAdmin } from './pg-clients';
import type { RehearsalContext } from '../run-context';
import type { Servers } from './setup-servers';

export const PROBE_TABLE_DDL = `CREATE TABLE ${qualify(PROBE_TABLE)} (
  id         uuid PRIMARY KEY,
  token      uuid NOT NULL,
  written_at timestamptz NOT NULL DEFAULT clock_timestamp()
)`;

async function schemaComment(client: Client): Promise<string | null | undefined> {
  const { rows } = await client.query<{ comment: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`,
    [ZDM_SCHEMA],
  );
  return rows.length ? rows[0].comment : undefined;
}

async function workflowTables(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [ZDM_SCHEMA],
  );
  return rows.map((r) => r.relname);
}

/** Takes away what the rehearsal added to the workflow schema of one database. */
async function removeWorkflowObjects(
  client: Client,
  migrationId: string,
  before: { ownSchema: boolean; tables: string[] },
): Promise<void> {
  if (before.ownSchema) {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(ZDM_SCHEMA)} CASCADE`);
    return;
  }
  for (const table of await workflowTables(client)) {
    const name = qualify({ schema: ZDM_SCHEMA, table });
    if (!before.tables.includes(table) || table === PROBE_TABLE.table) {
      await client.query(`DROP TABLE IF EXISTS ${name}`);
      continue;
    }
    const { rows } = await client.query(
      `SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'migration_id' AND NOT attisdropped`,
      [name],
    );
    if (rows.length) await client.query(`DELETE FROM ${name} WHERE migration_id = $1`, [migrationId]);
  }
}

/**
 * Creates the schema (marked as the rehearsal's), the marker table and the probe table on both sides (the probe
 * table's comment names the run, so a later run can recognize what this one leaves if it is killed).
 */
export async function createWorkflowObjects(ctx: RehearsalContext, servers: Servers): Promise<void> {
  for (const [side, url] of [
    ['source', servers.sourceUrl],
    ['target', servers.targetUrl],
  ] as const) {
    await withAdmin(url, async (c) => {
      const comment = await schemaComment(c);
      const ownSchema = comment === undefined || comment === REHEARSAL_SCHEMA_COMMENT;
      const tables = comment === undefined ? [] : await workflowTables(c);
      if (comment === undefined) {
        await c.query(`CREATE SCHEMA ${quoteIdent(ZDM_SCHEMA)}`);
        await c.query(`COMMENT ON SCHEMA ${quoteIdent(ZDM_SCHEMA)} IS ${quoteLiteral(REHEARSAL_SCHEMA_COMMENT)}`);
      }
      if (servers.kind === 'external') {
        ctx.ledger.push({
          name: ownSchema
            ? `drop schema ${ZDM_SCHEMA} (the rehearsal's) on the ${side}`
            : `remove the probe table and the marker rows of ${ctx.options.migrationId} on the ${side}`,
          run: () => withAdmin(url, (x) => removeWorkflowObjects(x, ctx.options.migrationId, { ownSchema, tables })),
        });
      }
      await ensureMarkerTable(c);
      await c.query(`DROP TABLE IF EXISTS ${qualify(PROBE_TABLE)}`);
      await c.query(PROBE_TABLE_DDL);
      await c.query(
        `COMMENT ON TABLE ${qualify(PROBE_TABLE)} IS ${quoteLiteral(probeComment(ctx.options.migrationId))}`,
      );
    });
  }
}
