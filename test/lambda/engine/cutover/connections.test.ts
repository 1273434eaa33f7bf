import { closeSharedPools, sharedPool } from '../../../../lambda/engine/cutover/connections';
import { createContext, withClient, withPools } from '../../../../lambda/engine/cutover/common';
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
      // Pools too: a query through the pool works after its idle connection was ended.
      const before = await backendPid(deps);
      await sql(pair.source, 'select pg_terminate_backend($1)', [before]);
      const n = await withPools(createContext(deps, input), async ({ source }) => {
        const { rows } = await source.query<{ n: number }>('select 1 as n');
        return rows[0].n;
      });
      expect(n).toBe(1);
    } finally {
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
