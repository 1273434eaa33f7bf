/**
 * Every writer is known: a login role the freeze does not block that can write a selected table is refused while
 * it has sessions open, warned about while it has none, and not named once the operator acknowledged it.
 */
import { Client } from 'pg';
import { createPool } from '../../../../../lambda/engine/pg/connection';
import { createPreflightContext, type PreflightRunOptions } from '../../../../../lambda/engine/preflight';
import { unfrozenWriters } from '../../../../../lambda/engine/preflight/checks';
import type { PreflightFinding } from '../../../../../lambda/engine/validation/types';
import { createDatabasePair, dropPair, serverPort, serverUrl, sql } from '../../../../support/databases';

const tag = process.pid;
const APP = `zdm_ufw_app_${tag}`;
const BATCH = `zdm_ufw_batch_${tag}`;
const READER = `zdm_ufw_reader_${tag}`;
const OWNER = `zdm_ufw_owner_${tag}`;
const PASSWORD = 'unfrozen-writer-pw';
const ROLES = [APP, BATCH, READER, OWNER];

let pair: { name: string; source: string; target: string };
const admin = serverUrl('source');

beforeAll(async () => {
  pair = await createDatabasePair('preflight_writers');
  for (const role of ROLES) await sql(admin, `DROP ROLE IF EXISTS ${role}`);
  for (const role of ROLES) await sql(admin, `CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
  await sql(pair.source, `CREATE TABLE public.orders (id int PRIMARY KEY)`);
  await sql(pair.source, `CREATE TABLE public.audit (id int PRIMARY KEY)`);
  await sql(pair.source, `ALTER TABLE public.audit OWNER TO ${OWNER}`);
  await sql(pair.source, `GRANT INSERT, UPDATE, DELETE ON public.orders TO ${APP}`);
  await sql(pair.source, `GRANT UPDATE ON public.orders TO ${BATCH}`);
  await sql(pair.source, `GRANT SELECT ON public.orders, public.audit TO ${READER}`);
});

afterAll(async () => {
  if (pair) await dropPair(pair.name);
  for (const role of ROLES) await sql(admin, `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
});

/** The check's findings about this test's roles (the server is shared: other tests' roles may show up too). */
async function findings(options: PreflightRunOptions): Promise<PreflightFinding[]> {
  const pool = await createPool(pair.source, { max: 1 });
  try {
    const ctx = createPreflightContext('source', pool, { include: [{ schema: 'public' }] }, options);
    const all = await unfrozenWriters.run(ctx);
    return all.filter((f) => ROLES.some((r) => f.object.includes(r)));
  } finally {
    await pool.end();
  }
}

async function session(role: string): Promise<Client> {
  const client = new Client({
    connectionString: `postgres://${role}:${PASSWORD}@127.0.0.1:${serverPort('source')}/${pair.name}`,
  });
  client.on('error', () => undefined);
  await client.connect();
  await client.query(`SELECT 'secret-ish' AS note WHERE 42 = 42`);
  return client;
}

describe('unfrozen-writers', () => {
  it('warns about roles that can write a selected table but have no session (owner, granted), not about readers', async () => {
    const found = await findings({ applicationRoles: [APP] });
    expect(found.map((f) => [f.object, f.severity])).toEqual([
      [`role "${BATCH}"`, 'warning'],
      [`role "${OWNER}"`, 'warning'],
    ]);
    expect(found[0].message).toContain('can write 1 of 2 selected table(s) and is not frozen by the cutover');
    // zdm preflight without application roles has no freeze to speak of.
    expect(await findings({})).toEqual([]);
  });

  it('refuses a role with a session open in the database, naming its latest statement with literals blanked', async () => {
    const batch = await session(BATCH);
    try {
      const found = await findings({ applicationRoles: [APP] });
      const named = found.find((f) => f.object === `role "${BATCH}"`);
      expect(named?.severity).toBe('error');
      expect(named?.message).toContain('1 session(s) open in this database now');
      expect(named?.message).toContain("SELECT '…' AS note WHERE 0 = 0");
      expect(named?.message).not.toMatch(/secret-ish|42/);
      // A session of an application role is the freeze's business, not this check's.
      const app = await session(APP);
      try {
        expect((await findings({ applicationRoles: [APP] })).map((f) => f.object)).not.toContain(`role "${APP}"`);
      } finally {
        await app.end();
      }
    } finally {
      await batch.end();
    }
  });

  it('names nothing the operator acknowledged, even with sessions open', async () => {
    const batch = await session(BATCH);
    try {
      expect(await findings({ applicationRoles: [APP], acknowledgedWriters: [BATCH, OWNER] })).toEqual([]);
    } finally {
      await batch.end();
    }
  });
});
