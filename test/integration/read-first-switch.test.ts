/**
 * The read-first switch, executed: the synthesized state machine with the real step handlers against two real
 * PostgreSQL servers (native logical replication), the read and write paths as in-memory switches.
 */
import { CutoverError, ERRORS, type StepEvent } from '../../contract';
import { readSwitchKey } from '../../lambda/engine/cutover/state-keys';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import { MemoryTrafficSwitch } from '../../lambda/engine/traffic/memory-traffic-switch';
import {
  appCanWrite,
  dropFixtures,
  fixture,
  roleState,
  run,
  stepsRun,
  subscriptionOn,
  trackingSlots,
  type Fixture,
} from '../support/cutover-fixture';

jest.setTimeout(60_000);
afterAll(dropFixtures);

const SOURCE = 'source.example:5432';
const WRITER = 'orders.cluster-abc.example:5432';
const READER = 'orders.cluster-ro-abc.example:5432';

interface Paths {
  readonly f: Fixture;
  readonly reads: MemoryTrafficSwitch;
  readonly writes: MemoryTrafficSwitch;
  /** Every read-path change, in order. */
  readonly readMoves: string[];
}

async function withPaths(rows = 60): Promise<Paths> {
  const reads = new MemoryTrafficSwitch({ endpoint: SOURCE }, 'read endpoint (in memory)');
  const writes = new MemoryTrafficSwitch({ endpoint: SOURCE }, 'write endpoint (in memory)');
  const readMoves: string[] = [];
  reads.onChange((to) => readMoves.push(to));
  const f = await fixture({
    rows,
    traffic: writes,
    readTraffic: reads,
    defaults: { readTrafficSwitch: true, switchReadsTo: READER, switchTrafficTo: WRITER },
  });
  return { f, reads, writes, readMoves };
}

const outcome = (r: { status: string; error?: string; cause?: string }) => ({
  status: r.status,
  error: r.error,
  cause: r.cause,
});

test('execute: reads move to the reader after the sync gate and before the freeze, then the writes', async () => {
  const { f, reads, writes, readMoves } = await withPaths();
  const result = await run(f, { migrationId: 'reads-then-writes', mode: 'execute' });
  expect(outcome(result)).toEqual({ status: 'SUCCEEDED' });
  const steps = stepsRun(result);
  expect(steps.lastIndexOf('CheckLag')).toBeLessThan(steps.indexOf('SwitchReads'));
  expect(steps.indexOf('SwitchReads')).toBeLessThan(steps.indexOf('FreezeWrites'));
  expect(await reads.current()).toBe(READER);
  expect(await writes.current()).toBe(WRITER);
  expect(readMoves).toEqual([READER]);
  const state = f.deps.state.snapshot();
  expect(state[readSwitchKey('reads-then-writes')].readSwitch).toMatchObject({ from: SOURCE, to: READER });
  expect(state['reads-then-writes'].phases.switchReads?.summary).toMatchObject({ switched: true, from: SOURCE });
  // the consistency rule goes out with the switch
  expect(f.deps.notifier.notices.map((n) => n.message).join('\n')).toMatch(/behind the writes by the replication lag/);
});

test('switch-reads alone stops there; a later execute finds the reads switched and cuts the writes over', async () => {
  const { f, reads, writes, readMoves } = await withPaths();
  const first = await run(f, { migrationId: 'reads-first', mode: 'switch-reads' });
  expect(outcome(first)).toEqual({ status: 'SUCCEEDED' });
  const steps = stepsRun(first);
  expect(steps).toContain('SwitchReads');
  expect(steps.slice(-1)).toEqual(['FinishReadSwitch']);
  expect(steps).not.toContain('FreezeWrites');
  expect(await reads.current()).toBe(READER);
  // writes untouched: the application still writes to the source, replication runs, nothing is left behind
  expect(await writes.current()).toBe(SOURCE);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  expect(await subscriptionOn(f)).toBe(true);
  expect(await trackingSlots(f)).toEqual([]);
  await appCanWrite(f);

  // a mistyped execute fails at once; the watchdog that follows leaves the earlier read switch alone
  const typo = await run(f, { migrationId: 'reads-first', mode: 'execute', lagThresholdSeconds: -1 });
  expect(outcome(typo)).toMatchObject({ status: 'FAILED', error: ERRORS.badInput });
  expect(typo.watchdog).not.toHaveProperty('readsReverted');
  expect(await reads.current()).toBe(READER);

  const second = await run(f, { migrationId: 'reads-first', mode: 'execute' });
  expect(outcome(second)).toEqual({ status: 'SUCCEEDED' });
  expect(await writes.current()).toBe(WRITER);
  expect(await reads.current()).toBe(READER);
  expect(readMoves).toEqual([READER]);
  const state = f.deps.state.snapshot();
  expect(state['reads-first'].phases.switchReads?.summary).toMatchObject({ switched: false, from: SOURCE });
  // past the write switch, reads cannot go back to the (now stale) source
  const revert = await run(f, { migrationId: 'reads-first', mode: 'revert-reads' });
  expect(outcome(revert)).toMatchObject({ status: 'FAILED', error: ERRORS.badInput });
  expect(revert.cause).toMatch(/point of no return/);
  expect(await reads.current()).toBe(READER);
});

test('a failure inside the freeze rolls back the writes and points the reads back', async () => {
  const { f, reads, writes, readMoves } = await withPaths();
  const real = createStepHandler(f.deps);
  const failing = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'proveChanges') throw new CutoverError(ERRORS.validationFailed, 'injected: a row differs');
    return real(event);
  };
  const result = await run(f, { migrationId: 'reads-rollback', mode: 'execute' }, failing);
  expect(outcome(result)).toMatchObject({ status: 'FAILED', error: ERRORS.validationFailed });
  const steps = stepsRun(result);
  expect(steps.slice(-2)).toEqual(['Rollback', 'RollbackReads']);
  expect(readMoves).toEqual([READER, SOURCE]);
  expect(await reads.current()).toBe(SOURCE);
  expect(await writes.current()).toBe(SOURCE);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  // by RollbackReads itself, not left to the watchdog that runs after a failed execution
  expect(f.deps.state.snapshot()[readSwitchKey('reads-rollback')].readSwitch).toMatchObject({
    revertedAt: expect.any(String),
    revertedBy: 'reads-rollback',
  });
  expect(result.watchdog).not.toHaveProperty('readsReverted');
});

test('a dry run moves no path; revert-reads undoes a switch-reads', async () => {
  const { f, reads, writes, readMoves } = await withPaths(30);
  const dry = await run(f, { migrationId: 'reads-dry', mode: 'dry-run' });
  expect(outcome(dry)).toEqual({ status: 'SUCCEEDED' });
  expect(readMoves).toEqual([]);
  expect(await writes.current()).toBe(SOURCE);
  const dryRecord = Object.entries(f.deps.state.snapshot()).find(([k]) => k.startsWith('reads-dry#dry-run#'))![1];
  expect(dryRecord.phases.switchReads?.summary).toMatchObject({ dryRun: true, wouldSwitchTo: READER });
  expect(f.deps.state.snapshot()[readSwitchKey('reads-dry')]).toBeUndefined();

  expect(outcome(await run(f, { migrationId: 'reads-dry', mode: 'switch-reads' }))).toEqual({ status: 'SUCCEEDED' });
  expect(await reads.current()).toBe(READER);
  const revert = await run(f, { migrationId: 'reads-dry', mode: 'revert-reads' });
  expect(outcome(revert)).toEqual({ status: 'SUCCEEDED' });
  expect(stepsRun(revert)).toEqual(['ValidateInput', 'RevertReads']);
  expect(await reads.current()).toBe(SOURCE);
  // again: nothing to undo, said so, nothing moves
  const again = await run(f, { migrationId: 'reads-dry', mode: 'revert-reads' });
  expect(outcome(again)).toEqual({ status: 'SUCCEEDED' });
  expect(readMoves).toEqual([READER, SOURCE]);
});

test('switch-reads without a read switch on the construct is refused before anything is done', async () => {
  const f = await fixture({ rows: 10 });
  const result = await run(f, { migrationId: 'no-read-switch', mode: 'switch-reads' });
  expect(outcome(result)).toMatchObject({ status: 'FAILED', error: ERRORS.badInput });
  expect(result.cause).toMatch(/"mode" needs a read traffic switch.*got "switch-reads"/);
  expect(stepsRun(result)).toEqual(['ValidateInput']);
  expect(f.deps.state.snapshot()).toEqual({});
});
