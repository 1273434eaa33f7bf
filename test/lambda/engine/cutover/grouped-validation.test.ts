import type { CutoverInput, StepEvent } from '../../../../contract';
import { createStepHandler } from '../../../../lambda/engine/cutover/steps';
import { MAX_VALIDATION_ITEMS, type ValidationItem } from '../../../../lambda/engine/cutover/validation-items';
import type { ReplicationPort } from '../../../../lambda/engine/ports';
import { createLocalCutoverDeps } from '../../../../rehearsal/local/local-cutover-deps';
import { createDatabasePair, dropPair, sql } from '../../../support/databases';

// Many tiny ranges (50 rows over 3 tables × 1,500 rows = 90 ranges) fold into fewer Map items: a planted
// difference must still be found, down to its key, through the grouped (span) path.
const SCHEMA = ['a', 'b', 'c'].map((t) => `create table public.${t} (id int primary key, v text not null)`).join(';');

const replication: ReplicationPort = {
  description: 'idle replication (stopped)',
  status: async () => ({ state: 'stopped', fullLoadComplete: true, lagSeconds: 0 }),
  stop: async () => undefined,
};

let pair: { name: string; source: string; target: string };

beforeAll(async () => {
  pair = await createDatabasePair('grouped_validation');
  for (const url of [pair.source, pair.target]) {
    await sql(url, SCHEMA);
    for (const t of ['a', 'b', 'c']) {
      await sql(url, `insert into public.${t} select g, 'v' || g from generate_series(1, 1500) g`);
      await sql(url, `analyze public.${t}`);
    }
  }
});
afterAll(async () => {
  await dropPair(pair.name);
});

async function run(phase: 'preValidation' | 'postValidation', migrationId: string) {
  const deps = createLocalCutoverDeps({
    sourceUrl: pair.source,
    targetUrl: pair.target,
    tables: { include: [{ schema: 'public' }] },
    replication,
    rowsPerRange: 50,
  });
  const handler = createStepHandler(deps);
  const step = <T>(e: Partial<StepEvent> & { step: StepEvent['step'] }): Promise<T> =>
    handler(e as StepEvent) as Promise<T>;
  const input = await step<CutoverInput>({
    step: 'validateInput',
    input: { migrationId, mode: 'execute', applicationRoles: ['nobody'] } as never,
  });
  const plan = await step<{ items: ValidationItem[]; plan: unknown }>({ step: 'planValidation', input, phase });
  const rangeResults = [];
  for (const range of plan.items)
    rangeResults.push(await step<unknown>({ step: 'validateRange', input, phase, range }));
  return {
    plan,
    verdict: step<Record<string, unknown>>({
      step: 'aggregateValidation',
      input,
      phase,
      rangeResults,
      plan: plan.plan,
    } as never),
  };
}

test('many small ranges fold into bounded items and match', async () => {
  const { plan, verdict } = await run('postValidation', 'grouped-ok');
  expect(plan.items.length).toBeGreaterThan(3); // tables are split across items
  expect(plan.items.length).toBeLessThanOrEqual(MAX_VALIDATION_ITEMS);
  expect(plan.items.some((i) => i.from.key || i.to.key)).toBe(true);
  await expect(verdict).resolves.toMatchObject({ ok: true, tables: 3, sourceRows: 4500, targetRows: 4500 });
});

test('one row differs after the switch: the grouped path reports it down to its key', async () => {
  await sql(pair.target, `update public.b set v = 'changed' where id = 777`);
  await sql(pair.target, `delete from public.c where id = 1499`);
  try {
    const { verdict } = await run('postValidation', 'grouped-diff');
    // After the switch the application writes to the target: differences are reported, not fatal.
    const result = (await verdict) as { differences: number; warning?: string; firstDifferences: unknown[] };
    expect(result.differences).toBe(2);
    expect(result.warning).toMatch(/after the switch/);
    expect(result.firstDifferences).toEqual(
      expect.arrayContaining([expect.objectContaining({ table: 'public.b', key: { id: 777 }, kind: 'changed' })]),
    );
  } finally {
    await sql(pair.target, `update public.b set v = 'v777' where id = 777`);
    await sql(pair.target, `insert into public.c values (1499, 'v1499')`);
  }
});
