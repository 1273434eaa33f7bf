import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { closeSharedPools, LIVENESS_TIMEOUT_MS, sharedPool } from '../../../../lambda/engine/cutover/connections';
import { createContext } from '../../../../lambda/engine/cutover/step-context';
import { withClient, withPools } from '../../../../lambda/engine/cutover/pools';
import { ConnectionLostError } from '../../../../lambda/engine/pg/connection';
import type { CutoverDeps } from '../../../../lambda/engine/cutover/deps';
import type { CutoverInput } from '../../../../contract';
import { createDatabasePair, dropPair, serverPort, sql } from '../../../support/databases';

let pair: { name: string; source: string; target: string };
const input = { migrationId: 'conn', mode: 'execute', startedAt: new Date().toISOString() } as CutoverInput;

function depsFor(source: () => Promise<string>, target: () => Promise<string>): CutoverDeps {
  return { source, target } as unknown as CutoverDeps;
}

async function backendPid(deps: CutoverDeps): Promise<number> {
  return withClient(createContext(deps, input), 'source', async (c) => {
    const { rows } = await c.query<{ pid: number }>('select pg_backend_pid() as pid');
    return rows[0].pid;
  });
}

/**
 * A TCP proxy to the source server whose existing connections can be black-holed: bytes stop flowing both ways but
 * neither socket is closed, as when a frozen Lambda's socket was dropped by a NAT or the network. A client on such a
 * connection notices nothing until it waits for an answer that never comes. New connections pass normally.
 */
interface BlackholeProxy {
  readonly port: number;
  blackhole(): void;
  close(): Promise<void>;
}

async function blackholeProxy(port: number): Promise<BlackholeProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; dead: boolean }>();
  const server: Server = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    const pair = { client, upstream, dead: false };
    pairs.add(pair);
    client.on('data', (d) => void (pair.dead || upstream.write(d)));
    upstream.on('data', (d) => void (pair.dead || client.write(d)));
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('end', end);
      s.on('close', end);
      s.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    blackhole: () => pairs.forEach((p) => (p.dead = true)),
    close: async () => {
      pairs.forEach((p) => (p.client.destroy(), p.upstream.destroy()));
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

beforeAll(async () => {
  pair = await createDatabasePair('cutover_connections');
});

afterAll(async () => {
  if (pair) await dropPair(pair.name);
});

describe('shared cutover connections', () => {
  it('reuses one connection across steps instead of opening one per step', async () => {
    const deps = depsFor(
      async () => pair.source,
      async () => pair.target,
    );
    try {
      const first = await backendPid(deps);
      expect(await backendPid(deps)).toBe(first);
      const pools = await withPools(createContext(deps, input), async (p) => p);
      expect(pools.source).toBe(await sharedPool(deps, 'source'));
    } finally {
      await closeSharedPools(deps);
    }
  });

  it('replaces a pooled connection that died while idle instead of failing the step', async () => {
    // Ended by the server: the socket closes, the pool drops the connection by itself.
    const deps = depsFor(
      async () => pair.source,
      async () => pair.target,
    );
    try {
      const first = await backendPid(deps);
      await sql(pair.source, 'select pg_terminate_backend($1)', [first]);
      await new Promise((r) => setTimeout(r, 50));
      const second = await backendPid(deps);
      expect(second).not.toBe(first);
    } finally {
      await closeSharedPools(deps);
    }
    // Dropped silently (no FIN, no RST): only the liveness ping on checkout finds it; without it the step hangs.
    const proxy = await blackholeProxy(serverPort('source'));
    const viaProxy = pair.source.replace(`:${serverPort('source')}/`, `:${proxy.port}/`);
    const silent = depsFor(
      async () => viaProxy,
      async () => pair.target,
    );
    try {
      const before = await backendPid(silent);
      proxy.blackhole();
      const after = await within(
        LIVENESS_TIMEOUT_MS + 5_000,
        'a step on a silently dropped connection',
        backendPid(silent),
      );
      expect(after).not.toBe(before);
      // The replacement serves the pool's own queries too.
      const n = await withPools(createContext(silent, input), async ({ source }) => {
        const { rows } = await source.query<{ n: number }>('select 1 as n');
        return rows[0].n;
      });
      expect(n).toBe(1);
    } finally {
      await proxy.close();
      await closeSharedPools(silent);
    }
  });

  it('fails when the connection is terminated while the step waits between two queries: the step, not the process', async () => {
    const deps = depsFor(
      async () => pair.source,
      async () => pair.target,
    );
    const uncaught = jest.fn();
    process.on('uncaughtException', uncaught);
    try {
      const error = await withClient(createContext(deps, input), 'source', async (c) => {
        const { rows } = await c.query<{ pid: number }>('select pg_backend_pid() as pid');
        // Another session ends this backend (57P01) while the step sleeps between polls.
        await sql(pair.source, 'select pg_terminate_backend($1)', [rows[0].pid]);
        await new Promise((r) => setTimeout(r, 200));
        return c.query('select 1');
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect((error as ConnectionLostError).code).toBe('57P01');
      expect((error as Error).message).toMatch(
        /the database connection was lost \(terminating connection due to administrator command/,
      );
      expect(uncaught).not.toHaveBeenCalled();
      // The next step gets a fresh connection.
      expect(await backendPid(deps)).toEqual(expect.any(Number));
    } finally {
      process.off('uncaughtException', uncaught);
      await closeSharedPools(deps);
    }
  });

  it('fails when the password is wrong, without the password in the message', async () => {
    const secret = 'wrong-Secret-pw-123';
    const bad = `postgres://postgres:${secret}@127.0.0.1:${serverPort('source')}/${pair.name}_nosuchdb`;
    const deps = depsFor(
      async () => bad,
      async () => pair.target,
    );
    try {
      const error = await backendPid(deps).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/cannot connect/);
      expect((error as Error).message).not.toContain(secret);
    } finally {
      await closeSharedPools(deps);
    }
  });

  it('opens a new pool when the connection spec changes (rotated secret)', async () => {
    let url = pair.source;
    const deps = depsFor(
      async () => url,
      async () => pair.target,
    );
    try {
      const first = await sharedPool(deps, 'source');
      url = `${pair.source}${pair.source.includes('?') ? '&' : '?'}application_name=rotated`;
      const second = await sharedPool(deps, 'source');
      expect(second).not.toBe(first);
      expect(first.ending || first.ended).toBe(true);
    } finally {
      await closeSharedPools(deps);
    }
  });
});
