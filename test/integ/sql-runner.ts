/**
 * The integration test's SQL runner: a Lambda function in the test's VPC that plays the application and the DBA
 * around a real migration (test/integ/integ.zero-downtime-migration.ts). The assertions invoke it with one action:
 *
 * - `seed`: on the source, the `public.orders` table with {@link SEED_ROWS} rows; on the target the same table,
 *   empty (the construct's DMS task uses the `DO_NOTHING` prep mode: the schema is created first, as the README
 *   says); on both, the application role `integ_app` (the role the cutover freezes on the source and the fallback
 *   on Aurora), with the password of the application secret. Idempotent: a re-run adds no rows.
 * - `load`: the application's writes, as `integ_app` on the source, for `seconds` (at most 600): inserts and
 *   updates until the time is up or the cutover's freeze ends its session, then it stops for good (it never
 *   reconnects, so nothing writes the source once the application "moved").
 * - `compare`: rows and a digest of `(id, customer, amount)` on both sides; `equal` says whether they match.
 *
 * Connections use TLS with certificate and host name checks: `NODE_EXTRA_CA_CERTS` points Node.js at the Lambda
 * runtime's CA bundle, which holds the RDS certificate authorities.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client } from 'pg';

/** Rows the seed writes on the source (DMS copies them during the full load). */
export const SEED_ROWS = 10_000;
/** The application role (the migration's `cutover.applicationRoles`). */
export const APPLICATION_ROLE = 'integ_app';
/** The environment variables the function reads: the ARNs of the three secrets. */
export const SQL_RUNNER_ENV = {
  sourceSecretArn: 'SOURCE_SECRET_ARN',
  targetSecretArn: 'TARGET_SECRET_ARN',
  applicationSecretArn: 'APPLICATION_SECRET_ARN',
  /** The database on both sides (when a secret has no `dbname`: an Aurora cluster's attachment adds none). */
  databaseName: 'DATABASE_NAME',
} as const;

export type SqlRunnerEvent = { action: 'seed' } | { action: 'load'; seconds: number } | { action: 'compare' };

interface DatabaseSecret {
  host: string;
  port?: number;
  username: string;
  password: string;
  dbname?: string;
}

interface TableFacts {
  rows: number;
  digest: string;
}

const secrets = new SecretsManagerClient({});

async function secret(envName: string): Promise<DatabaseSecret> {
  const arn = process.env[envName];
  if (!arn) throw new Error(`${envName} is not set`);
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
  if (!SecretString) throw new Error(`secret ${arn} has no SecretString`);
  return JSON.parse(SecretString) as DatabaseSecret;
}

/** Connects to the database of `server` (its `dbname`), as `as` (default: the secret's own user). */
async function connect(server: DatabaseSecret, as?: { username: string; password: string }): Promise<Client> {
  const client = new Client({
    host: server.host,
    port: Number(server.port ?? 5432),
    database: server.dbname ?? process.env[SQL_RUNNER_ENV.databaseName],
    user: as?.username ?? server.username,
    password: as?.password ?? server.password,
    ssl: { rejectUnauthorized: true },
    connectionTimeoutMillis: 10_000,
    application_name: 'zdm-integ-sql-runner',
  });
  await client.connect();
  return client;
}

async function withClient<T>(client: Promise<Client>, work: (c: Client) => Promise<T>): Promise<T> {
  const c = await client;
  try {
    return await work(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const TABLE_DDL = `CREATE TABLE IF NOT EXISTS public.orders (
  id bigserial PRIMARY KEY,
  customer text NOT NULL,
  amount numeric(12, 2) NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

/** The application role with its password (created or reset), allowed to read and write the table. */
async function ensureApplicationRole(c: Client, password: string): Promise<void> {
  const { rows } = await c.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)', [
    APPLICATION_ROLE,
  ]);
  const literal = (await c.query<{ q: string }>('SELECT quote_literal($1) AS q', [password])).rows[0].q;
  const verb = rows[0].exists ? 'ALTER' : 'CREATE';
  await c.query(`${verb} ROLE ${APPLICATION_ROLE} LOGIN PASSWORD ${literal}`);
  await c.query(`GRANT USAGE ON SCHEMA public TO ${APPLICATION_ROLE}`);
  await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO ${APPLICATION_ROLE}`);
  await c.query(`GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.orders_id_seq TO ${APPLICATION_ROLE}`);
}

async function seed(): Promise<{ sourceRows: number }> {
  const [source, target, app] = await Promise.all([
    secret(SQL_RUNNER_ENV.sourceSecretArn),
    secret(SQL_RUNNER_ENV.targetSecretArn),
    secret(SQL_RUNNER_ENV.applicationSecretArn),
  ]);
  const sourceRows = await withClient(connect(source), async (c) => {
    await c.query(TABLE_DDL);
    await c.query(
      `INSERT INTO public.orders (customer, amount)
       SELECT 'customer-' || (g % 500), round((random() * 1000)::numeric, 2)
         FROM generate_series(1, $1::int - (SELECT count(*)::int FROM public.orders)) AS g`,
      [SEED_ROWS],
    );
    await ensureApplicationRole(c, app.password);
    return (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM public.orders')).rows[0].n;
  });
  await withClient(connect(target), async (c) => {
    await c.query(TABLE_DDL);
    await ensureApplicationRole(c, app.password);
  });
  return { sourceRows };
}

async function load(seconds: number): Promise<{ inserted: number; updated: number; stoppedBy: string }> {
  const [source, app] = await Promise.all([
    secret(SQL_RUNNER_ENV.sourceSecretArn),
    secret(SQL_RUNNER_ENV.applicationSecretArn),
  ]);
  const until = Date.now() + Math.min(Math.max(seconds, 1), 600) * 1000;
  let inserted = 0;
  let updated = 0;
  let stoppedBy = 'time';
  const c = await connect(source, { username: APPLICATION_ROLE, password: app.password });
  c.on('error', () => undefined); // the freeze terminates the session: the next query reports it
  try {
    while (Date.now() < until) {
      await c.query(`INSERT INTO public.orders (customer, amount) VALUES ($1, $2)`, [
        `load-${inserted % 50}`,
        (inserted % 1000) + 0.5,
      ]);
      inserted++;
      const r = await c.query(
        `UPDATE public.orders SET amount = amount + 1, updated_at = now()
          WHERE id = (SELECT floor(random() * $1::int)::bigint + 1)`,
        [SEED_ROWS],
      );
      updated += r.rowCount ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (e) {
    // The cutover froze the application role and ended this session: the application has "moved".
    stoppedBy = `freeze: ${(e as Error).message}`;
  } finally {
    await c.end().catch(() => undefined);
  }
  console.log(JSON.stringify({ action: 'load', inserted, updated, stoppedBy }));
  return { inserted, updated, stoppedBy };
}

async function facts(server: DatabaseSecret): Promise<TableFacts> {
  return withClient(connect(server), async (c) => {
    const { rows } = await c.query<TableFacts>(
      `SELECT count(*)::int AS rows,
              coalesce(md5(string_agg(id || ':' || customer || ':' || amount, ',' ORDER BY id)), '') AS digest
         FROM public.orders`,
    );
    return rows[0];
  });
}

async function compare(): Promise<{ source: TableFacts; target: TableFacts; equal: boolean }> {
  const [source, target] = await Promise.all([
    secret(SQL_RUNNER_ENV.sourceSecretArn),
    secret(SQL_RUNNER_ENV.targetSecretArn),
  ]);
  const [s, t] = await Promise.all([facts(source), facts(target)]);
  const result = { source: s, target: t, equal: s.rows === t.rows && s.digest === t.digest };
  console.log(JSON.stringify({ action: 'compare', ...result }));
  return result;
}

export async function handler(event: SqlRunnerEvent): Promise<unknown> {
  switch (event.action) {
    case 'seed':
      return seed();
    case 'load':
      return load(event.seconds);
    case 'compare':
      return compare();
    default:
      throw new Error(`unknown action: ${JSON.stringify(event)}`);
  }
}
