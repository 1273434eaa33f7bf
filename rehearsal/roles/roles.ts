/**
 * The roles of a rehearsal: the probe writer's and the subscription's (always the rehearsal's own, with random
 * passwords), and the application role (created by the rehearsal, or the user's with --freeze-existing-role).
 * A role the rehearsal creates carries REHEARSAL_ROLE_COMMENT and is dropped at the end; a role it did not create
 * is never altered except by the freeze (LOGIN and CONNECTION LIMIT, saved and restored) — never its password.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import type { TableName } from '../../contract';
import { forgetFreezeRecord, qualify, quoteIdent, quoteLiteral } from '../../lambda/engine';
import { REHEARSAL_ROLE_COMMENT } from '../names';
import { withAdmin } from '../servers/pg-clients';

type Queryable = Pick<Client, 'query'>;

export interface RoleFacts {
  readonly role: string;
  readonly canLogin: boolean;
  readonly connectionLimit: number;
  /** The role's comment (REHEARSAL_ROLE_COMMENT marks the rehearsal's own). */
  readonly comment: string | null;
  /** sha256 of pg_authid.rolpassword (to prove it did not change; never the hash itself). */
  readonly passwordDigest: string | null;
}

export async function readRole(client: Queryable, role: string): Promise<RoleFacts | undefined> {
  const { rows } = await client.query<{
    rolcanlogin: boolean;
    rolconnlimit: number;
    comment: string | null;
    rolpassword: string | null;
  }>(
    `SELECT a.rolcanlogin, a.rolconnlimit, shobj_description(a.oid, 'pg_authid') AS comment, a.rolpassword
       FROM pg_authid a WHERE a.rolname = $1`,
    [role],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    role,
    canLogin: r.rolcanlogin,
    connectionLimit: r.rolconnlimit,
    comment: r.comment,
    passwordDigest: r.rolpassword === null ? null : createHash('sha256').update(r.rolpassword).digest('hex'),
  };
}

export function isRehearsalRole(facts: RoleFacts | undefined): boolean {
  return facts?.comment === REHEARSAL_ROLE_COMMENT;
}

/**
 * A SCRAM-SHA-256 verifier for `password`, computed here: CREATE ROLE then carries no password in its text (a
 * server that logs statements logs the verifier, from which the password cannot be recovered).
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Creates a login role marked as the rehearsal's own. */
export async function createRehearsalRole(
  client: Queryable,
  role: string,
  password: string,
  options: { replication?: boolean } = {},
): Promise<void> {
  const extra = options.replication ? ' REPLICATION BYPASSRLS' : '';
  await client.query(
    `CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE${extra} CONNECTION LIMIT -1 ` +
      `PASSWORD ${quoteLiteral(scramVerifier(password))}`,
  );
  await client.query(`COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(REHEARSAL_ROLE_COMMENT)}`);
}

async function currentDatabase(client: Queryable): Promise<string> {
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  return rows[0].db;
}

function schemasOf(tables: readonly TableName[]): string[] {
  return [...new Set(tables.map((t) => t.schema))];
}

/** Reads (and, with `write`, writes) the tables; uses the sequences of their schemas. */
export async function grantTables(
  client: Queryable,
  role: string,
  tables: readonly TableName[],
  access: 'read' | 'write',
): Promise<void> {
  const r = quoteIdent(role);
  await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(await currentDatabase(client))} TO ${r}`);
  for (const schema of schemasOf(tables)) {
    await client.query(`GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${r}`);
    if (access === 'write') {
      await client.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${quoteIdent(schema)} TO ${r}`);
    }
  }
  if (tables.length === 0) return;
  const privileges = access === 'write' ? 'SELECT, INSERT, UPDATE, DELETE' : 'SELECT';
  await client.query(`GRANT ${privileges} ON TABLE ${tables.map(qualify).join(', ')} TO ${r}`);
}

/**
 * Drops a role the rehearsal created, in every database of `urls` (one server: list both databases). Its
 * sessions are ended and its privileges revoked first; a role that owns objects (say, made by a --load command)
 * is left in place, with the reason.
 */
export async function dropRehearsalRole(urls: readonly string[], role: string): Promise<void> {
  let exists = false;
  for (const url of urls) {
    await withAdmin(url, async (c) => {
      const facts = await readRole(c, role);
      if (!facts) return;
      if (!isRehearsalRole(facts))
        throw new Error(`role ${role} is not the rehearsal's own (no marker comment); left in place`);
      exists = true;
      const owned = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
          WHERE r.rolname = $1 AND d.deptype = 'o'`,
        [role],
      );
      if (owned.rows[0].n > 0) {
        throw new Error(`role ${role} owns ${owned.rows[0].n} object(s) (created while it ran); left in place`);
      }
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
      await c.query(`DROP OWNED BY ${quoteIdent(role)}`);
    });
  }
  if (!exists) return;
  const [first] = urls;
  await withAdmin(first, async (c) => {
    await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
    await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
  });
}

/** Gives a role the login settings the freeze saved (LOGIN / NOLOGIN and CONNECTION LIMIT) — nothing else. */
export async function restoreLoginSettings(
  client: Queryable,
  role: { readonly role: string; readonly canLogin: boolean; readonly connectionLimit: number },
): Promise<void> {
  await client.query(
    `ALTER ROLE ${quoteIdent(role.role)} WITH ${role.canLogin ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${Math.trunc(
      role.connectionLimit,
    )}`,
  );
  // Given back: the freeze's record on the server (zdm_cutover.frozen_roles) goes with it.
  await forgetFreezeRecord(client, [role.role]);
}
