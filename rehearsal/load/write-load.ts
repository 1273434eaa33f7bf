import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { errorCode, isRetryable, nowMs, type EndpointSource } from './load-errors';
import { pacedOptions, PacedWorkers } from './paced-workers';

export { errorCode, isRetryable, nowMs, type EndpointSource };

export type WriteKind = 'event' | 'order' | 'customer' | 'update' | 'probe';

/** What the writer writes: the demo shop's mix, or probe rows into the rehearsal's own table (user tables). */
export type Workload = 'demo' | 'probe';

/** A write the database acknowledged (its commit returned). */
export interface AckedWrite {
  readonly kind: WriteKind;
  /** `app.events` id, `sales.orders` id, `app.customers` id, probe row id (as text). */
  readonly key: string;
  /** Unique token the write stored (inserts: `write_token` / `signup_token`; updates: the new `write_token`). */
  readonly token: string;
  /** Updates: the row's `version` after this update. */
  readonly version?: number;
  /** Epoch milliseconds (sub-millisecond precision) when the commit was acknowledged. */
  readonly at: number;
  /** The server's clock (epoch ms) when the statement ran, just before its commit. */
  readonly serverAt: number;
  /** Label of the server that acknowledged it (`source` / `target`). */
  readonly server: string;
  /** Milliseconds from the first attempt to the acknowledgement (retries included). */
  readonly latencyMs: number;
}

export const WRITE_TABLE: Record<WriteKind, string> = {
  event: 'app.events',
  order: 'sales.orders',
  customer: 'app.customers',
  update: 'app.customers',
  probe: 'zdm_cutover.rehearsal_probe',
};

export interface WriteLoadOptions {
  /** Writes per second to aim for. */
  readonly rate: number;
  /** Concurrent connections (each a worker). */
  readonly concurrency: number;
  readonly workload: Workload;
  readonly role: string;
  /** Undefined: the role's password comes from the environment (PGPASSWORD, ~/.pgpass). */
  readonly password?: string;
  readonly endpoints: EndpointSource;
  /** Names the server an endpoint points at, for the acknowledgement record. */
  readonly label: (endpoint: string) => string;
  /** Demo: existing customer ids are 1..customerIds (updates pick one at random). */
  readonly customerIds?: number;
  /** Retry back-off after a rejected write, ms (a random value in [min, max]). @default [10, 20] */
  readonly backoffMs?: readonly [number, number];
}

export interface WriteFailure {
  readonly kind: WriteKind;
  readonly at: number;
  readonly server: string;
  readonly code?: string;
  readonly message: string;
}

export interface WriteLoadStats {
  readonly acknowledged: number;
  readonly retries: number;
  readonly failed: number;
  /** Retried errors by code (`57P01`, `28000`, `ECONNREFUSED`, ...). */
  readonly retriedByCode: Record<string, number>;
  /** Workers currently waiting to retry a rejected write. */
  readonly blocked: number;
}

/** Server clock in epoch milliseconds, returned by every write (its commit follows at once: autocommit). */
const SERVER_TIME = `(extract(epoch FROM clock_timestamp()) * 1000)::float8`;

/**
 * An application under load: `concurrency` connections as the application role, writing at `rate` writes/s.
 * Before every attempt it re-reads where to connect; a rejected write (connection refused or ended, NOLOGIN, ...)
 * is retried after a short back-off, like an application's retry policy. Only writes whose commit returned are
 * recorded as acknowledged; a write interrupted mid-commit is not (its outcome is unknown to the application).
 */
export class WriteLoad {
  readonly acks: AckedWrite[] = [];
  readonly failures: WriteFailure[] = [];
  private readonly workers: PacedWorkers;

  constructor(private readonly options: WriteLoadOptions) {
    this.workers = new PacedWorkers(
      // After a stall, at most 250 ms worth of writes are made up.
      pacedOptions(options, {
        workers: options.concurrency,
        catchUpMs: 250,
        applicationName: `rehearsal-${options.workload}`,
      }),
      () => {
        const kind = this.options.workload === 'probe' ? 'probe' : pickKind();
        return {
          attempt: async (conn, server, first) => {
            const ack = await this.write(conn.client, kind, server, first);
            if (ack) this.acks.push(ack);
          },
          failed: (error, server) =>
            this.failures.push({
              kind,
              at: nowMs(),
              server,
              code: (error as { code?: string }).code,
              message: (error as Error).message,
            }),
        };
      },
    );
  }

  start(): void {
    this.workers.start();
  }

  get running(): boolean {
    return this.workers.running;
  }

  /** The most recently acknowledged write (what the application's reads look up). */
  latestAck(): AckedWrite | undefined {
    return this.acks[this.acks.length - 1];
  }

  /** Stops issuing writes, waits for those in flight, closes the connections. */
  async stop(): Promise<void> {
    await this.workers.stop();
  }

  stats(): WriteLoadStats {
    return { acknowledged: this.acks.length, failed: this.failures.length, ...this.workers.stats() };
  }

  private async write(
    client: Client,
    kind: WriteKind,
    server: string,
    firstAttempt: number,
  ): Promise<AckedWrite | undefined> {
    const token = randomUUID();
    const done = (key: string, serverAt: unknown, version?: number): AckedWrite => {
      const at = nowMs();
      return { kind, key, token, version, at, serverAt: Number(serverAt), server, latencyMs: at - firstAttempt };
    };
    switch (kind) {
      case 'probe': {
        const id = randomUUID();
        const { rows } = await client.query<{ ts: string }>(
          `INSERT INTO zdm_cutover.rehearsal_probe (id, token) VALUES ($1, $2) RETURNING ${SERVER_TIME} AS ts`,
          [id, token],
        );
        return done(id, rows[0].ts);
      }
      case 'event': {
        const id = randomUUID();
        const { rows } = await client.query<{ ts: string }>(
          `INSERT INTO app.events (id, customer_id, kind, payload, write_token) VALUES ($1, $2, 'rehearsal', $3, $4)
           RETURNING ${SERVER_TIME} AS ts`,
          [id, this.randomCustomer(), JSON.stringify({ token, n: this.acks.length }), token],
        );
        return done(id, rows[0].ts);
      }
      case 'order': {
        const total = (Math.random() * 500).toFixed(2);
        const { rows } = await client.query<{ order_id: string; ts: string }>(
          `WITH o AS (
             INSERT INTO sales.orders (customer_id, status, total, note, write_token)
             VALUES ($1, 'new', $2, $3, $4) RETURNING id)
           INSERT INTO sales.order_items (order_id, line_no, sku, quantity, unit_price, write_token)
           SELECT o.id, l, 'SKU-R' || l, l, $2::numeric / 2, $4 FROM o, generate_series(1, 2) l
           RETURNING order_id, ${SERVER_TIME} AS ts`,
          [this.randomCustomer(), total, Math.random() < 0.3 ? null : 'rehearsal order', token],
        );
        return done(String(rows[0].order_id), rows[0].ts);
      }
      case 'customer': {
        const { rows } = await client.query<{ id: string; ts: string }>(
          `INSERT INTO app.customers (email, full_name, country, profile, signup_token)
           VALUES ($1, 'Rehearsal Customer', NULL, $2, $3) RETURNING id, ${SERVER_TIME} AS ts`,
          [`${token}@rehearsal.test`, JSON.stringify({ source: 'rehearsal' }), token],
        );
        return done(String(rows[0].id), rows[0].ts);
      }
      case 'update': {
        const id = this.randomCustomer();
        const { rows } = await client.query<{ version: string; ts: string }>(
          `UPDATE app.customers SET balance = balance + $2, version = version + 1, write_token = $3, updated_at = now()
            WHERE id = $1 RETURNING version, ${SERVER_TIME} AS ts`,
          [id, (Math.random() * 10).toFixed(2), token],
        );
        return rows.length ? done(String(id), rows[0].ts, Number(rows[0].version)) : undefined;
      }
    }
  }

  private randomCustomer(): number {
    return 1 + Math.floor(Math.random() * (this.options.customerIds ?? 1));
  }
}

/** Write mix: 35% event inserts (uuid key), 25% orders with two items (bigserial + composite key), 10% customer
 * inserts (identity key), 30% customer updates. */
function pickKind(): WriteKind {
  const r = Math.random();
  if (r < 0.35) return 'event';
  if (r < 0.6) return 'order';
  if (r < 0.7) return 'customer';
  return 'update';
}
