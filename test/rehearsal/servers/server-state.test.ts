import { readServerState } from '../../../rehearsal/servers/server-state';
import { createDatabasePair, dropPair, sql } from '../../support/databases';

let pair: { name: string; source: string; target: string };
beforeAll(async () => {
  pair = await createDatabasePair('state');
});
afterAll(async () => {
  await sql(pair.source, `SELECT pg_drop_replication_slot('zdm_rh_left_behind')`).catch(() => undefined);
  await dropPair(pair.name);
});

test('a server that cannot be read back is named; what is left on the one that can is still listed', async () => {
  await sql(pair.source, `SELECT pg_create_logical_replication_slot('zdm_rh_left_behind', 'pgoutput')`);
  const unreachable = 'postgres://postgres:secret@127.0.0.1:1/nowhere';
  const state = await readServerState({
    servers: {
      kind: 'external',
      sourceUrl: pair.source,
      targetUrl: unreachable,
      sameServer: false,
      clockOffsetMs: { source: 0, target: 0 },
    },
    migrationId: 'rehearsal-state',
    demo: false,
  });
  expect(state.leftBehind).toContainEqual(
    expect.objectContaining({ server: 'source', kind: 'replication slot', name: 'zdm_rh_left_behind' }),
  );
  expect(state.unreadable).toMatch(/^the target \(/);
  expect(state.unreadable).not.toContain('the source');
  expect(state.unreadable).not.toContain('secret');
});
