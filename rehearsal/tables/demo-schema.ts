import type { Client } from 'pg';
import { quoteIdent, quoteLiteral } from '../../lambda/engine';
import type { TableSelection } from '../../contract';
import { UsageError } from '../../cli/command-line';

/** Comment that marks a schema as created by the rehearsal (so a re-run may drop it, and nothing else). */
export const DEMO_COMMENT = 'zdm rehearsal demo schema (safe to drop)';
export const DEMO_SCHEMAS = ['app', 'sales'] as const;

/** The table selection the rehearsal migrates: everything in the two demo schemas. */
export const DEMO_SELECTION: TableSelection = { include: DEMO_SCHEMAS.map((schema) => ({ schema })) };

export const DEMO_TABLES = ['app.customers', 'app.events', 'sales.orders', 'sales.order_items'] as const;
export type DemoTable = (typeof DEMO_TABLES)[number];

/**
 * A small shop: customers (identity key, jsonb profile, numeric balance), events (uuid key), orders (bigserial key)
 * and order items (composite key, foreign key). `*_token` / `version` columns let the rehearsal prove that every
 * acknowledged write arrived: inserts carry a unique token, updates bump `version` and set a new token.
 */
const DDL = `
CREATE SCHEMA app;
CREATE SCHEMA sales;
COMMENT ON SCHEMA app IS ${quoteLiteral(DEMO_COMMENT)};
COMMENT ON SCHEMA sales IS ${quoteLiteral(DEMO_COMMENT)};

CREATE TABLE app.customers (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email        text NOT NULL UNIQUE,
  full_name    text NOT NULL,
  country      char(2),
  profile      jsonb,
  balance      numeric(14, 2) NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz,
  version      bigint NOT NULL DEFAULT 0,
  signup_token uuid,
  write_token  uuid
);

CREATE TABLE app.events (
  id          uuid PRIMARY KEY,
  customer_id bigint,
  kind        text NOT NULL,
  payload     jsonb,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  write_token uuid
);

CREATE TABLE sales.orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL,
  status      text NOT NULL,
  total       numeric(12, 2) NOT NULL,
  note        text,
  placed_at   timestamptz NOT NULL DEFAULT now(),
  write_token uuid
);

CREATE TABLE sales.order_items (
  order_id    bigint NOT NULL REFERENCES sales.orders (id),
  line_no     integer NOT NULL,
  sku         text NOT NULL,
  quantity    integer NOT NULL,
  unit_price  numeric(10, 2) NOT NULL,
  discount    numeric(5, 2),
  write_token uuid,
  PRIMARY KEY (order_id, line_no)
);
`;

export interface DemoRowCounts {
  readonly 'app.customers': number;
  readonly 'app.events': number;
  readonly 'sales.orders': number;
  readonly 'sales.order_items': number;
}

/** How `rows` is split across the tables. */
export function splitRows(rows: number): DemoRowCounts {
  const customers = Math.max(10, Math.round(rows * 0.1));
  const events = Math.round(rows * 0.4);
  const orders = Math.max(1, Math.round(rows * 0.2));
  const items = Math.max(0, rows - customers - events - orders);
  return { 'app.customers': customers, 'app.events': events, 'sales.orders': orders, 'sales.order_items': items };
}

/**
 * Refuses to touch schemas the rehearsal did not create (nothing is changed then); with `dropOwn`, drops its own
 * from an earlier run.
 */
export async function prepareDemoSchemas(
  client: Client,
  where: string,
  options: { readonly dropOwn: boolean },
): Promise<{ droppedPrevious: boolean }> {
  const { rows } = await client.query<{ nspname: string; comment: string | null }>(
    `SELECT nspname, obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = ANY($1)`,
    [DEMO_SCHEMAS],
  );
  const foreign = rows.filter((r) => r.comment !== DEMO_COMMENT);
  if (foreign.length > 0) {
    throw new UsageError(
      `${where} already has schema ${foreign.map((r) => `"${r.nspname}"`).join(', ')} that the rehearsal did not create; ` +
        'use empty databases for --demo; nothing was changed',
    );
  }
  if (rows.length > 0 && options.dropOwn) await dropDemoSchemas(client);
  return { droppedPrevious: rows.length > 0 && options.dropOwn };
}

/** Drops the demo schemas (only ever the rehearsal's own: see prepareDemoSchemas). */
export async function dropDemoSchemas(client: Client): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS ${DEMO_SCHEMAS.map(quoteIdent).join(', ')} CASCADE`);
}

/** Creates the demo schema (empty). Run on the source and, DMS-style, on the target. */
export async function createDemoSchema(client: Client): Promise<void> {
  await client.query(DDL);
}

/** Fills the source with `rows` rows in bulk (generate_series), then analyzes. Returns the row counts. */
export async function loadDemoData(client: Client, rows: number): Promise<DemoRowCounts> {
  const n = splitRows(rows);
  await client.query(
    `INSERT INTO app.customers (email, full_name, country, profile, balance, created_at)
     SELECT 'customer' || g || '@example.com',
            'Customer ' || g,
            CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['US', 'DE', 'FR', 'JP', 'BR'])[1 + g % 5] END,
            CASE WHEN g % 3 = 0 THEN NULL
                 ELSE jsonb_build_object('tier', g % 4, 'newsletter', g % 2 = 0, 'tags', jsonb_build_array('t' || g % 10)) END,
            round((g % 100000) / 7.0, 2),
            timestamptz '2024-01-01 00:00:00+00' + g * interval '37 seconds'
       FROM generate_series(1, $1::int) g`,
    [n['app.customers']],
  );
  await client.query(
    `INSERT INTO app.events (id, customer_id, kind, payload, occurred_at)
     SELECT md5('event' || g)::uuid,
            1 + g % $2::int,
            (ARRAY['login', 'view', 'search', 'checkout'])[1 + g % 4],
            CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('page', '/p/' || g % 1000, 'ms', g % 977) END,
            timestamptz '2024-01-01 00:00:00+00' + g * interval '3 seconds'
       FROM generate_series(1, $1::int) g`,
    [n['app.events'], n['app.customers']],
  );
  await client.query(
    `INSERT INTO sales.orders (customer_id, status, total, note, placed_at)
     SELECT 1 + g % $2::int,
            (ARRAY['new', 'paid', 'shipped', 'delivered', 'returned'])[1 + g % 5],
            round(((g::bigint * 7919) % 100000) / 100.0, 2),
            CASE WHEN g % 5 = 0 THEN 'gift wrap, note ' || g ELSE NULL END,
            timestamptz '2024-01-01 00:00:00+00' + g * interval '11 seconds'
       FROM generate_series(1, $1::int) g`,
    [n['sales.orders'], n['app.customers']],
  );
  await client.query(
    `INSERT INTO sales.order_items (order_id, line_no, sku, quantity, unit_price, discount)
     SELECT 1 + (i - 1) % $2::int,
            1 + (i - 1) / $2::int,
            'SKU-' || lpad((i % 5000)::text, 5, '0'),
            1 + i % 4,
            round(((i::bigint * 104729) % 20000) / 100.0, 2),
            CASE WHEN i % 4 = 0 THEN 0.10 ELSE NULL END
       FROM generate_series(1, $1::int) i`,
    [n['sales.order_items'], n['sales.orders']],
  );
  await client.query('ANALYZE app.customers, app.events, sales.orders, sales.order_items');
  return n;
}

/** Exact row counts of the demo tables. */
export async function countDemoRows(client: Client): Promise<Record<DemoTable, number>> {
  const { rows } = await client.query<Record<string, string>>(
    `SELECT ${DEMO_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS "${t}"`).join(', ')}`,
  );
  return Object.fromEntries(DEMO_TABLES.map((t) => [t, Number(rows[0][t])])) as Record<DemoTable, number>;
}
