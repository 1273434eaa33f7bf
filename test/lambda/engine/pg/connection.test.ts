/**
 * Connections that die under us (57P01 admin shutdown / pg_terminate_backend) while idle must become errors of the
 * work that uses them, never an unhandled 'error' event that ends the process.
 */
import {
  connect,
  connectionLost,
  ConnectionLostError,
  createPool,
  withPooledClient,
} from '../../../../lambda/engine/pg/connection';
import { createDatabasePair, dropPair, sql } from '../../../support/databases';

let pair: { name: string; source: string; target: string };

beforeAll(async () => {
  pair = await createDatabasePair('pg_connection');
});
afterAll(async () => {
  if (pair) await dropPair(pair.name);
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function terminate(pid: number): Promise<void> {
  await sql(pair.source, 'SELECT pg_terminate_backend($1)', [pid]);
  // Let the client read the server's 57P01 message and the end of the socket.
  await pause(200);
}

describe('a connection lost while idle', () => {
  const uncaught = jest.fn();
  beforeEach(() => {
    uncaught.mockReset();
    process.on('uncaughtException', uncaught);
  });
  afterEach(() => {
    process.off('uncaughtException', uncaught);
  });

  it('fails when a connect() client is terminated between two queries: the next query rejects', async () => {
    const client = await connect(pair.source, 'zdm-test');
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await terminate(rows[0].pid);
      expect(connectionLost(client)?.message).toMatch(/terminating connection due to administrator command/);
      await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable|terminated/);
      expect(uncaught).not.toHaveBeenCalled();
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('fails when a checked-out pooled client is terminated between two queries: withPooledClient rejects with ConnectionLostError', async () => {
    const pool = await createPool(pair.source, { max: 1 });
    try {
      const error = await withPooledClient(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await terminate(rows[0].pid);
        return client.query('SELECT 1');
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(error).toMatchObject({
        code: '57P01',
        message: expect.stringMatching(
          /^the database connection was lost \(terminating connection due to administrator command, 57P01\)/,
        ),
      });
      expect(uncaught).not.toHaveBeenCalled();
      // The pool replaced it: the next work gets a live connection.
      expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0].n).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('fails when an idle pooled client is terminated: the pool drops it and opens a new one', async () => {
    const pool = await createPool(pair.source, { max: 1 });
    try {
      const first = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await terminate(first);
      expect(uncaught).not.toHaveBeenCalled();
      const second = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(second).not.toBe(first);
    } finally {
      await pool.end();
    }
  });
});
