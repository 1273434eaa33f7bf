/**
 * The way back, executed: the synthesized cutover machine (with ArmReverse / StartReverse) and the synthesized
 * fallback machine, both run with the real step handlers against two real PostgreSQL servers. Forward replication is
 * a native subscription on the target, the reverse one a native subscription on the source (`origin = none`).
 */
import { CutoverError, ERRORS, type StepEvent } from '../../contract';
import type { CutoverDeps } from '../../lambda/engine/cutover/deps';
import { createStepHandler } from '../../lambda/engine/cutover/steps';
import { wayBackBreak } from '../../lambda/engine/cutover/way-back';
import { MemoryTrafficSwitch } from '../../lambda/engine/traffic/memory-traffic-switch';
import { runCutover, synthesizeCutoverDefinition } from '../../rehearsal/local/run-state-machine';
import { dropFixtures, fixture, roleState, stepsRun, subscriptionOn, type Fixture } from '../support/cutover-fixture';
import { serverMajor, sql } from '../support/databases';
import { figures } from '../support/figures';

jest.setTimeout(90_000);

const SOURCE = 'source.example:5432';
const TARGET = 'aurora.example:5432';
let forward: string;
let fallback: string;

beforeAll(async () => {
  [forward, fallback] = await Promise.all([
    synthesizeCutoverDefinition({ validationMaxConcurrency: 2, wayBack: 'forward' }),
    synthesizeCutoverDefinition({ validationMaxConcurrency: 2, wayBack: 'fallback' }),
  ]);
});
const roles: { server: string; role: string }[] = [];
afterAll(async () => {
  await dropFixtures();
  for (const r of roles) await sql(r.server, `DROP ROLE IF EXISTS ${r.role}`).catch(() => undefined);
});

interface WayBack {
  readonly f: Fixture;
  readonly traffic: MemoryTrafficSwitch;
}

/** A fixture with the way back, the application role on both servers, the application on the source. */
/** `fallbackTrafficTo: null`: none configured. */
async function withWayBack(fallbackTrafficTo: string | null = SOURCE): Promise<WayBack> {
  const traffic = new MemoryTrafficSwitch({ endpoint: SOURCE }, 'application endpoint (in memory)');
  const f = await fixture({
    rows: 80,
    reverse: true,
    traffic,
    defaults: { switchTrafficTo: TARGET, ...(fallbackTrafficTo ? { fallbackTrafficTo } : {}) },
  });
  // the application logs in on Aurora after the cutover: its role exists there too
  const targetServer = f.target.replace(/\/[^/]+$/, '/postgres');
  await sql(targetServer, `DROP ROLE IF EXISTS ${f.role}`);
  await sql(targetServer, `CREATE ROLE ${f.role} LOGIN PASSWORD 'app'`);
  roles.push({ server: targetServer, role: f.role });
  await sql(f.target, `GRANT ALL ON public.orders, public.orders_id_seq TO ${f.role}`);
  return { f, traffic };
}

const outcome = (r: { status: string; error?: string; cause?: string }) => ({
  status: r.status,
  error: r.error,
  cause: r.cause,
});

async function rows(url: string): Promise<string[]> {
  return (
    await sql<{ r: string }>(
      url,
      `SELECT id || ':' || note || ':' || coalesce(amount::text, '') AS r FROM public.orders ORDER BY id`,
    )
  ).map((x) => x.r);
}

/** Whether the application role may log in on Aurora (the fallback froze it there, or not). */
async function auroraCanLogin(w: WayBack): Promise<boolean> {
  const [aurora] = await sql<{ rolcanlogin: boolean }>(
    w.f.target,
    `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`,
    [w.f.role],
  );
  return aurora.rolcanlogin;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cutOver(w: WayBack, migrationId: string): Promise<void> {
  const result = await runCutover({
    definition: forward,
    stepHandler: createStepHandler(w.f.deps),
    input: { migrationId, mode: 'execute' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(result)).toEqual({ status: 'SUCCEEDED' });
  const steps = stepsRun(result);
  // its slot created before the freeze; armed inside it, before the switch; started only after the forward stop
  expect(steps.indexOf('PrepareReverse')).toBeLessThan(steps.indexOf('FreezeWrites'));
  expect(steps.indexOf('ArmReverse')).toBeGreaterThan(steps.indexOf('SyncSequences'));
  expect(steps.indexOf('ArmReverse')).toBeLessThan(steps.indexOf('SwitchTraffic'));
  expect(steps.indexOf('StartReverse')).toBeGreaterThan(steps.lastIndexOf('StopReplication'));
}

/**
 * As an operator would: the fallback's preflight needs the reverse replication streaming, not still starting (its
 * apply worker takes a moment to start, longer on a loaded machine and on older majors).
 */
async function untilReverseStreams(w: WayBack): Promise<void> {
  const reverse = w.f.deps.reverse;
  for (let waited = 0; reverse && (await reverse.status()).state === 'starting'; waited += 50) {
    if (waited > 60_000) throw new Error('the reverse replication did not start streaming in 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function fallBack(w: WayBack, migrationId: string, handler = createStepHandler(w.f.deps)) {
  await untilReverseStreams(w);
  return runCutover({
    definition: fallback,
    stepHandler: handler,
    input: { migrationId, mode: 'execute' },
    waitTimeOverrideMs: 50,
  });
}

test('cutover arms the way back; writes on the target flow back once; the fallback returns everything to the source', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back');
  const record = f.deps.state.snapshot()['way-back'];
  expect(record.reverse).toMatchObject({
    slot: `${f.name}_rev`,
    lsn: expect.any(String),
    startedAt: expect.any(String),
  });
  expect(f.deps.reverseAlarms.calls).toEqual(['enable']);
  expect(await w.traffic.current()).toBe(TARGET);
  // forward stopped, reverse running; with origin = none where the source has it (16+: what forward replication
  // applied never flows back); older sources go without (forward replication is stopped before the reverse starts)
  expect(await subscriptionOn(f)).toBe(false);
  const withOrigin = serverMajor('source') >= 16;
  const [reverseSub] = await sql<{ enabled: boolean; origin?: string }>(
    f.source,
    `SELECT subenabled AS enabled${withOrigin ? ', suborigin AS origin' : ''} FROM pg_subscription WHERE subname = $1`,
    [`${f.name}_rev`],
  );
  expect(reverseSub).toEqual(withOrigin ? { enabled: true, origin: 'none' } : { enabled: true });

  // the application writes on Aurora: inserts, an update, a delete
  await sql(
    f.target,
    `INSERT INTO public.orders (note, amount) SELECT 'on aurora ' || g, g FROM generate_series(1, 25) g`,
  );
  await sql(f.target, `UPDATE public.orders SET note = 'changed on aurora' WHERE id = 3`);
  await sql(f.target, `DELETE FROM public.orders WHERE id = 4`);
  await waitFor('the reverse replication', async () => (await rows(f.source)).join() === (await rows(f.target)).join());
  // each write once: no duplicate, nothing echoed
  expect((await rows(f.source)).filter((r) => /^\d+:on aurora \d+:/.test(r))).toHaveLength(25);

  const result = await fallBack(w, 'way-back');
  expect(outcome(result)).toEqual({ status: 'SUCCEEDED' });
  expect(result.lastState).toBe('FallbackSucceeded');
  const steps = stepsRun(result);
  expect(steps.indexOf('ReopenSource')).toBeLessThan(steps.indexOf('SwitchTraffic'));
  expect(steps.slice(-2)).toEqual(['CloseWayBack', 'Complete']);
  // the application is on the source again, its role as it was; Aurora's role is frozen
  expect(await w.traffic.current()).toBe(SOURCE);
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  const [aurora] = await sql<{ rolcanlogin: boolean }>(
    f.target,
    `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`,
    [f.role],
  );
  expect(aurora.rolcanlogin).toBe(false);
  // every row, equal; the source's sequence past every id Aurora handed out
  expect(await rows(f.source)).toEqual(await rows(f.target));
  const [seq] = await sql<{ last_value: string }>(f.source, `SELECT last_value FROM public.orders_id_seq`);
  const [max] = await sql<{ m: string }>(f.target, `SELECT max(id) AS m FROM public.orders`);
  expect(Number(seq.last_value)).toBeGreaterThanOrEqual(Number(max.m));
  // the way back is closed: reverse stopped, its slot dropped, alarms muted again
  const state = f.deps.state.snapshot();
  expect(state['way-back#fallback'].status).toBe('succeeded');
  // both freezes: the cutover's and the fallback's, from their records (FreezeWrites start to SwitchTraffic end)
  const freezeOf = (key: string): number =>
    Date.parse(state[key].phases.switchTraffic!.endedAt!) - Date.parse(state[key].freeze!.frozenAt);
  const phaseMs = (key: string, phase: 'prepareReverse' | 'armReverse' | 'reopenSource'): number =>
    Date.parse(state[key].phases[phase]!.endedAt!) - Date.parse(state[key].phases[phase]!.startedAt);
  figures(
    `write freeze: cutover ${freezeOf('way-back')} ms (armReverse ${phaseMs('way-back', 'armReverse')} ms; ` +
      `prepareReverse before it ${phaseMs('way-back', 'prepareReverse')} ms), ` +
      `fallback ${freezeOf('way-back#fallback')} ms (reopenSource ${phaseMs('way-back#fallback', 'reopenSource')} ms)`,
  );
  expect(state['way-back'].reverse?.endedAt).toEqual(expect.any(String));
  expect(await sql(f.target, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`${f.name}_rev`])).toEqual([]);
  expect(f.deps.reverseAlarms.calls).toEqual(['enable', 'disable', 'disable']);
});

test('a failure inside the fallback freeze rolls back to "on Aurora, way back open"; a second fallback succeeds', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-rollback');
  const real = createStepHandler(f.deps);
  const failing = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'proveChanges') throw new CutoverError(ERRORS.validationFailed, 'injected: a row differs');
    return real(event);
  };
  const failed = await fallBack(w, 'way-back-rollback', failing);
  expect(outcome(failed)).toMatchObject({ status: 'FAILED', error: ERRORS.validationFailed });
  expect(failed.lastState).toBe('RolledBack');
  // still on Aurora: traffic there, Aurora's role writable, the source's still frozen, reverse replication running
  expect(await w.traffic.current()).toBe(TARGET);
  expect(await auroraCanLogin(w)).toBe(true);
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  await sql(f.target, `INSERT INTO public.orders (note) VALUES ('after the failed fallback')`);
  await waitFor('the reverse replication', async () => (await rows(f.source)).join() === (await rows(f.target)).join());

  const again = await fallBack(w, 'way-back-rollback');
  expect(outcome(again)).toEqual({ status: 'SUCCEEDED' });
  expect(await w.traffic.current()).toBe(SOURCE);
  expect(await rows(f.source)).toEqual(await rows(f.target));
});

test('a dry-run fallback changes nothing; end-fallback-window closes the way back', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-end');
  await untilReverseStreams(w);
  const dry = await runCutover({
    definition: fallback,
    stepHandler: createStepHandler(f.deps),
    input: { migrationId: 'way-back-end', mode: 'dry-run' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(dry)).toEqual({ status: 'SUCCEEDED' });
  expect(await w.traffic.current()).toBe(TARGET);
  expect(await roleState(f)).toEqual({ canLogin: false, connectionLimit: 0 });
  expect(await auroraCanLogin(w)).toBe(true);

  const end = await runCutover({
    definition: forward,
    stepHandler: createStepHandler(f.deps),
    input: { migrationId: 'way-back-end', mode: 'end-fallback-window' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(end)).toEqual({ status: 'SUCCEEDED' });
  expect(end.lastState).toBe('FallbackWindowEnded');
  expect(await sql(f.target, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`${f.name}_rev`])).toEqual([]);
  // nothing to fall back over any more: the fallback refuses in its preflight, changing nothing
  const late = await fallBack(w, 'way-back-end');
  expect(outcome(late)).toMatchObject({ status: 'FAILED', error: ERRORS.preflightFailed });
  expect(late.cause).toMatch(/replication/i);
  expect(await w.traffic.current()).toBe(TARGET);
});

test('a cutover that fails after arming the way back (before its switch) drops the reverse slot in its rollback', async () => {
  const w = await withWayBack();
  const { f } = w;
  const real = createStepHandler(f.deps);
  const failing = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'switchTraffic') throw new CutoverError(ERRORS.replicationFailed, 'injected: the switch failed');
    return real(event);
  };
  const result = await runCutover({
    definition: forward,
    stepHandler: failing,
    input: { migrationId: 'way-back-unarmed', mode: 'execute' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(result)).toMatchObject({ status: 'FAILED', error: ERRORS.replicationFailed });
  expect(stepsRun(result)).toContain('ArmReverse');
  expect(await sql(f.target, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`${f.name}_rev`])).toEqual([]);
  expect(f.deps.state.snapshot()['way-back-unarmed'].reverse).toMatchObject({ endedBy: 'rollback' });
  expect(await roleState(f)).toEqual({ canLogin: true, connectionLimit: -1 });
  expect(await w.traffic.current()).toBe(SOURCE);
});

test('a slot gone after PrepareReverse is created by ArmReverse in the freeze, and the way back starts there', async () => {
  const w = await withWayBack();
  const { f } = w;
  const real = createStepHandler(f.deps);
  // someone drops the prepared slot before the freeze
  const dropping = async (event: StepEvent): Promise<unknown> => {
    const r = await real(event);
    if (event.step === 'prepareReverse') {
      await sql(f.target, `SELECT pg_drop_replication_slot($1)`, [`${f.name}_rev`]);
    }
    return r;
  };
  const result = await runCutover({
    definition: forward,
    stepHandler: dropping,
    input: { migrationId: 'way-back-recreated', mode: 'execute' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(result)).toEqual({ status: 'SUCCEEDED' });
  const reverse = f.deps.state.snapshot()['way-back-recreated'].reverse!;
  // created again inside the freeze: its creation point is where the way back starts
  expect(reverse.createdLsn).toBe(reverse.lsn);
  expect(reverse.preparedAt).toEqual(expect.any(String));
  await sql(f.target, `INSERT INTO public.orders (note) VALUES ('written on Aurora after the switch')`);
  await waitFor('the reverse replication', async () => (await rows(f.source)).join() === (await rows(f.target)).join());
  const end = await runCutover({
    definition: forward,
    stepHandler: real,
    input: { migrationId: 'way-back-recreated', mode: 'end-fallback-window' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(end)).toEqual({ status: 'SUCCEEDED' });
});

test('a fallback with no endpoint configured points the application back where the cutover found it', async () => {
  const w = await withWayBack(null);
  await cutOver(w, 'way-back-recorded');
  const back = await fallBack(w, 'way-back-recorded');
  expect(outcome(back)).toEqual({ status: 'SUCCEEDED' });
  expect(await w.traffic.current()).toBe(SOURCE);
});

test('rows changed on the old source behind the way back: the fallback refuses before freezing Aurora, naming them', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-differs');
  // A superuser edits the old source while the application runs on Aurora: these rows never change again there.
  await sql(
    f.source,
    `SET session_replication_role = replica;
     DELETE FROM public.orders WHERE id BETWEEN 1 AND 3;
     UPDATE public.orders SET note = 'edited on the old source' WHERE id = 10`,
  );
  const result = await fallBack(w, 'way-back-differs');
  expect(outcome(result)).toMatchObject({ status: 'FAILED', error: ERRORS.validationFailed });
  expect(result.lastState).toBe('RolledBack');
  expect(stepsRun(result)).not.toContain('FreezeWrites');
  expect(result.cause).toContain('public.orders: 4 row(s)');
  // Nothing moved: the application stays on Aurora, which stays writable.
  expect(await w.traffic.current()).toBe(TARGET);
  expect(await auroraCanLogin(w)).toBe(true);
});

test('a write on the old source that breaks the way back: the reverse replication says failed, the fallback refuses naming it', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-broken');
  await untilReverseStreams(w);
  expect((await f.deps.reverse!.status()).state).toBe('running');
  // Someone writes on the old source while the application runs on Aurora: the guard names it at once (any major)…
  await sql(f.source, `INSERT INTO public.orders (id, note) VALUES (900001, 'written on the old source')`);
  expect(await wayBackBreak(f.deps)).toMatch(
    /^the way back is broken here: 1 write\(s\) .*public\.orders INSERT \{"id": 900001\} by /,
  );
  // …then the application writes the same key.
  await sql(f.target, `INSERT INTO public.orders (id, note) VALUES (900001, 'written on Aurora')`);
  const reverse = f.deps.reverse!;
  if (serverMajor('source') >= 15) {
    // PostgreSQL 15+ counts the apply errors: the stopped apply worker is the way back broken, not a start.
    await waitFor(
      'the reverse replication to say failed',
      async () => (await reverse.status()).state === 'failed',
      60_000,
    );
    expect((await reverse.status()).detail).toMatch(/the way back is broken: .*[1-9]\d* apply error\(s\)/);
  }
  // PostgreSQL < 15 keeps no apply error counters: a stopped worker there looks like one restarting, now and then
  // running (the README's version table says so). The guard's record names the cause all the same.
  const result = await runCutover({
    definition: fallback,
    stepHandler: createStepHandler(f.deps),
    input: { migrationId: 'way-back-broken', mode: 'execute' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(result)).toMatchObject({ status: 'FAILED', error: ERRORS.preflightFailed });
  expect(stepsRun(result)).not.toContain('FreezeWrites');
  expect(result.cause).toMatch(
    serverMajor('source') >= 15
      ? /is failed \(the way back is broken/
      : /the way back is broken here: .*\{"id": 900001\}/,
  );
  expect(await w.traffic.current()).toBe(TARGET);
  expect(await auroraCanLogin(w)).toBe(true);
});

test('a write on the old source that conflicts with nothing is reported at once, with table, key and writer; the fallback refuses it; closing the window removes the guard', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-guarded');
  await untilReverseStreams(w);
  const guardTriggers = async (): Promise<number> =>
    Number(
      (
        await sql<{ n: string }>(
          f.source,
          `SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND tgname LIKE 'zdm_way_back_guard%'`,
        )
      )[0].n,
    );
  expect(await guardTriggers()).toBe(2);
  // What the way back itself writes there is never reported: inserts, an update and a delete made on Aurora.
  await sql(f.target, `INSERT INTO public.orders (note) SELECT 'on aurora ' || g FROM generate_series(1, 5) g`);
  await sql(f.target, `UPDATE public.orders SET note = 'changed on aurora' WHERE id = 7`);
  await sql(f.target, `DELETE FROM public.orders WHERE id = 8`);
  await waitFor('the reverse replication', async () => (await rows(f.source)).join() === (await rows(f.target)).join());
  expect(await wayBackBreak(f.deps)).toBeUndefined();
  // A new key written on the old source by another session: nothing conflicts, the reverse replication keeps running.
  await sql(
    f.source,
    `SET application_name = 'nightly-fix'; INSERT INTO public.orders (id, note) VALUES (900002, 'only on the old source'); UPDATE public.orders SET note = 'fixed' WHERE id = 9`,
  );
  // A plain role with nothing but INSERT on the table writes too: the guard records it, and never makes it fail.
  const plain = `zdm_plain_${process.pid}`;
  await sql(f.source, `DROP ROLE IF EXISTS ${plain}; CREATE ROLE ${plain} LOGIN PASSWORD 'p'`);
  roles.push({ server: f.source.replace(/\/[^/]+$/, '/postgres'), role: plain });
  await sql(f.source, `GRANT USAGE ON SCHEMA public TO ${plain}; GRANT INSERT ON public.orders TO ${plain}`);
  const asPlain = new URL(f.source);
  [asPlain.username, asPlain.password] = [plain, 'p'];
  await sql(asPlain.toString(), `INSERT INTO public.orders (id, note) VALUES (900005, 'by a plain role')`);
  const seen = await wayBackBreak(f.deps);
  expect(seen).toMatch(/^the way back is broken here: 3 write\(s\) on the old source outside the way back/);
  expect(seen).toContain(`public.orders INSERT {"id": 900005} by ${plain}`);
  expect(seen).toContain('public.orders INSERT {"id": 900002} by postgres, application "nightly-fix"');
  expect(seen).toContain('public.orders UPDATE {"id": 9} by postgres, application "nightly-fix"');
  expect((await f.deps.reverse!.status()).state).toBe('running');

  const refused = await fallBack(w, 'way-back-guarded');
  expect(outcome(refused)).toMatchObject({ status: 'FAILED', error: ERRORS.preflightFailed });
  expect(stepsRun(refused)).not.toContain('FreezeWrites');
  expect(refused.cause).toContain('writes-outside-way-back');
  expect(refused.cause).toContain('public.orders INSERT {"id": 900002}');
  expect(await w.traffic.current()).toBe(TARGET);

  const end = await runCutover({
    definition: forward,
    stepHandler: createStepHandler(f.deps),
    input: { migrationId: 'way-back-guarded', mode: 'end-fallback-window' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(end)).toEqual({ status: 'SUCCEEDED' });
  const state = f.deps.state.snapshot();
  const ended = state[state['way-back-guarded'].reverse!.endedBy!].phases.endFallbackWindow!.summary;
  expect(ended).toMatchObject({ guardRemoved: true, writesOutsideWayBack: 3 });
  expect(await guardTriggers()).toBe(0);
  expect(await sql(f.source, `SELECT to_regclass('zdm_cutover.way_back_writes') AS t`)).toEqual([{ t: null }]);
  // The old source is the user's again: its writes are theirs, nothing records them.
  await sql(f.source, `INSERT INTO public.orders (id, note) VALUES (900003, 'after the window')`);
  expect(await wayBackBreak(f.deps)).toBeUndefined();
});

test("a write on the old source after the fallback's proof, before it reopens there: the fallback rolls back, the guard stays", async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-late');
  const real = createStepHandler(f.deps);
  const writing = async (event: StepEvent): Promise<unknown> => {
    if (event.step === 'reopenSource') {
      await sql(f.source, `INSERT INTO public.orders (id, note) VALUES (900004, 'written during the fallback freeze')`);
    }
    return real(event);
  };
  const result = await fallBack(w, 'way-back-late', writing);
  expect(outcome(result)).toMatchObject({ status: 'FAILED', error: ERRORS.lateWrites });
  expect(result.lastState).toBe('RolledBack');
  expect(result.cause).toContain('public.orders INSERT {"id": 900004}');
  expect(await w.traffic.current()).toBe(TARGET);
  expect(await auroraCanLogin(w)).toBe(true);
  expect(await wayBackBreak(f.deps)).toContain('{"id": 900004}');
});

test("the way back's watch (AWS's schedule): one notice per write outside the way back, naming table, key and writer; none while the reverse replication does not run, without a connection", async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-watched');
  await untilReverseStreams(w);
  const watch = (deps: CutoverDeps = f.deps) => createStepHandler(deps)({ step: 'watchWayBack' } as StepEvent);
  const notices = () => f.deps.notifier.notices.filter((n) => n.attributes.event === 'way-back-broken');
  // The way back's own writes are not reported.
  await sql(f.target, `INSERT INTO public.orders (id, note) VALUES (900009, 'on aurora')`);
  await waitFor('the reverse replication', async () => (await rows(f.source)).join() === (await rows(f.target)).join());
  expect(await watch()).toEqual({
    open: true,
    reverseState: 'running',
    guarded: true,
    newWrites: 0,
    writes: 0,
    notified: false,
  });
  expect(notices()).toEqual([]);

  // A write on the old source: one notice at the next watch, naming it.
  await sql(
    f.source,
    `SET application_name = 'forgotten-cron'; INSERT INTO public.orders (id, note) VALUES (900010, 'on the old source')`,
  );
  expect(await watch()).toMatchObject({ open: true, newWrites: 1, writes: 1, notified: true });
  expect(notices()).toHaveLength(1);
  expect(notices()[0].subject).toBe('zdm: the way back is broken — 1 write(s) on the old source outside it');
  expect(notices()[0].message).toContain(
    '- public.orders INSERT key {"id": 900010} by postgres, application "forgotten-cron"',
  );
  // Reported once: the next watch says nothing.
  expect(await watch()).toMatchObject({ open: true, newWrites: 0, writes: 1, notified: false });
  expect(notices()).toHaveLength(1);

  // A notice that cannot be sent is sent by the next watch (the writes stay unreported until then).
  await sql(f.source, `UPDATE public.orders SET note = 'fixed by hand' WHERE id = 3`);
  const down: CutoverDeps = {
    ...f.deps,
    notifier: {
      notify: async () => {
        throw new Error('SNS is down');
      },
    },
  };
  await expect(watch(down)).rejects.toThrow('SNS is down');
  expect(await watch()).toMatchObject({ newWrites: 1, writes: 2, notified: true });
  expect(notices()).toHaveLength(2);
  expect(notices()[1].message).toContain('- public.orders UPDATE key {"id": 3} by postgres');
  expect(notices()[1].message).not.toContain('900010');
  expect(await watch()).toMatchObject({ newWrites: 0, writes: 2, notified: false });
  // The fallback's preflight still sees every write: the watch's memory hides none.
  expect(await wayBackBreak(f.deps)).toMatch(/^the way back is broken here: 2 write\(s\)/);

  // No reverse replication configured, or stopped: the watch reads its status only, never a database.
  const noDatabase = (deps: CutoverDeps): CutoverDeps => ({
    ...deps,
    source: () => Promise.reject(new Error('the watch connected to the old source')),
    target: () => Promise.reject(new Error('the watch connected to Aurora')),
  });
  expect(await watch(noDatabase({ ...f.deps, reverse: undefined }))).toEqual({
    open: false,
    reason: 'no reverse replication is configured',
    notified: false,
  });
  await f.deps.reverse!.stop();
  await waitFor('the reverse replication to stop', async () => (await f.deps.reverse!.status()).state === 'stopped');
  await sql(f.source, `INSERT INTO public.orders (id, note) VALUES (900011, 'after the stop')`);
  expect(await watch(noDatabase(f.deps))).toMatchObject({ open: false, reverseState: 'stopped', notified: false });
  expect(notices()).toHaveLength(2);
});

test('end-fallback-window with the old source out of reach still closes the way back, and names the guard it left there', async () => {
  const w = await withWayBack();
  const { f } = w;
  await cutOver(w, 'way-back-unreachable');
  await untilReverseStreams(w);
  // The reverse replication stops (DMS needs no connection of ours to the old source for that); the guard cannot go.
  const unreachable: CutoverDeps = {
    ...f.deps,
    source: () => Promise.reject(new Error('connect ECONNREFUSED old-source.example:5432')),
  };
  const end = await runCutover({
    definition: forward,
    stepHandler: createStepHandler(unreachable),
    input: { migrationId: 'way-back-unreachable', mode: 'end-fallback-window' },
    waitTimeOverrideMs: 50,
  });
  expect(outcome(end)).toEqual({ status: 'SUCCEEDED' });
  const state = f.deps.state.snapshot();
  const closed = state['way-back-unreachable'].reverse!;
  expect(closed.endedAt).toEqual(expect.any(String));
  expect(state[closed.endedBy!].phases.endFallbackWindow!.summary).toMatchObject({
    guardRemoved: false,
    guardLeftBehind: expect.stringContaining('ECONNREFUSED'),
  });
  expect(f.deps.notifier.notices.map((n) => n.message).join('\n')).toMatch(
    /Left behind: the guard on the old source \(connect ECONNREFUSED[^)]*\); remove it there by hand: DROP FUNCTION zdm_cutover\.way_back_write\(\) CASCADE/,
  );
  // Still there, as the notice says: removed by hand.
  expect(await sql(f.source, `SELECT to_regclass('zdm_cutover.way_back_writes') IS NOT NULL AS t`)).toEqual([
    { t: true },
  ]);
  await sql(f.source, 'DROP FUNCTION zdm_cutover.way_back_write() CASCADE; DROP TABLE zdm_cutover.way_back_writes');
});
