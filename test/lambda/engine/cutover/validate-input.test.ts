/** The execution input check (the ValidateInput step): pure, no database; every refusal is ZdmBadInput and writes nothing. */
import { createStepHandler } from '../../../../lambda/engine/cutover/steps';
import {
  MAX_APPLICATION_ROLES,
  MAX_LAG_CHECKS,
  maxLagChecks,
  STARTED_AT_CLOCK_SKEW_SECONDS,
} from '../../../../lambda/engine/cutover/validate-input';
import type { CutoverDeps } from '../../../../lambda/engine/cutover/deps';
import { MemoryStateStore } from '../../../../lambda/engine/state/memory-state-store';
import type { CutoverInput, StepEvent } from '../../../../contract';

const NOW = new Date('2026-03-01T12:00:00.000Z');

function setup(defaults: Record<string, unknown> = {}) {
  const state = new MemoryStateStore();
  const notices: { subject: string; message: string }[] = [];
  const deps = {
    source: async () => 'postgres://unused/db',
    target: async () => 'postgres://unused/db',
    tables: { include: [{ schema: 'public' }] },
    replication: {
      description: 'unused',
      status: async () => ({ state: 'running', fullLoadComplete: true, lagSeconds: 0 }),
      stop: async () => undefined,
    },
    state,
    notifier: { notify: async (subject: string, message: string) => void notices.push({ subject, message }) },
    defaults: { applicationRoles: ['app'], ...defaults },
    now: () => NOW,
  } as unknown as CutoverDeps;
  const handler = createStepHandler(deps);
  const step = (input: unknown) =>
    handler({ step: 'validateInput', input } as unknown as StepEvent) as Promise<CutoverInput>;
  const error = (input: unknown) =>
    step(input).then(
      () => new Error('accepted'),
      (e: Error) => e,
    );
  return { state, notices, step, error };
}

async function expectBadInput(error: Promise<Error>, message: RegExp): Promise<Error> {
  const e = await error;
  expect(e.name).toBe('ZdmBadInput');
  expect(e.message).toMatch(message);
  return e;
}

const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();

describe('execution input', () => {
  it.each([[[]], [null], ['orders'], [42], [[{ migrationId: 'm' }]]])(
    'fails when the execution input is %j, as ZdmBadInput through the step handler, writing nothing',
    async (input) => {
      const { state, notices, error } = setup();
      await expectBadInput(error(input), /execution input field "\(input\)" must be a JSON object/);
      expect(state.snapshot()).toEqual({});
      expect(notices).toEqual([]);
    },
  );

  it('fails when there are many unknown fields, with a bounded message', async () => {
    const input: Record<string, unknown> = { migrationId: 'm' };
    for (let i = 0; i < 5000; i++) input[`typo_${i}`] = i;
    const e = await expectBadInput(setup().error(input), /unknown field\(s\) "typo_0", .* and 4990 more; known fields/);
    expect(e.message.length).toBeLessThan(1000);
  });
});

describe('startedAt', () => {
  it('fails when startedAt is given for a migration that has no earlier execution', async () => {
    const { state, error } = setup();
    await expectBadInput(error({ migrationId: 'fresh', startedAt: ago(60) }), /"startedAt" is set by the workflow/);
    expect(state.snapshot()).toEqual({});
  });

  it('fails when startedAt is in the future (it would disable the sync timeout)', async () => {
    const { state, step, error } = setup();
    await step({ migrationId: 'm', mode: 'execute' });
    const future = new Date(NOW.getTime() + (STARTED_AT_CLOCK_SKEW_SECONDS + 1) * 1000).toISOString();
    await expectBadInput(error({ migrationId: 'm', mode: 'execute', startedAt: future }), /must not be in the future/);
    expect(Object.keys(state.snapshot())).toEqual(['m']);
  });

  it('accepts a resumed startedAt in the past, and one a little ahead (clock skew) bounded to now', async () => {
    const { step } = setup();
    await step({ migrationId: 'm', mode: 'execute' });
    expect((await step({ migrationId: 'm', mode: 'execute', startedAt: ago(600) })).startedAt).toBe(ago(600));
    const skewed = new Date(NOW.getTime() + 30_000).toISOString();
    expect((await step({ migrationId: 'm', mode: 'execute', startedAt: skewed })).startedAt).toBe(NOW.toISOString());
  });

  it('fails when startedAt is older than the execution timeout', async () => {
    const { step, error } = setup({ executionTimeoutSeconds: 3 * 3600 });
    await step({ migrationId: 'm', mode: 'execute' });
    await expect(step({ migrationId: 'm', mode: 'execute', startedAt: ago(3 * 3600 - 1) })).resolves.toBeDefined();
    await expectBadInput(
      error({ migrationId: 'm', mode: 'execute', startedAt: ago(3 * 3600 + 1) }),
      /"startedAt" must be within the execution timeout \(10800 seconds\)/,
    );
  });
});

describe('limits', () => {
  it('fails when syncTimeoutSeconds plus finalSyncTimeoutSeconds do not fit the execution timeout', async () => {
    const { error, step } = setup({ executionTimeoutSeconds: 3600 });
    await expectBadInput(
      error({ migrationId: 'm', syncTimeoutSeconds: 3400, finalSyncTimeoutSeconds: 200 }),
      /"syncTimeoutSeconds" plus finalSyncTimeoutSeconds \(200\) must be less than the execution timeout \(3600 seconds\)/,
    );
    await expect(
      step({ migrationId: 'm', syncTimeoutSeconds: 3399, finalSyncTimeoutSeconds: 200 }),
    ).resolves.toBeDefined();
    // Without the construct's value, its default (2 days) applies.
    await expectBadInput(
      setup().error({ migrationId: 'm', syncTimeoutSeconds: 7 * 24 * 3600 }),
      /execution timeout \(172800/,
    );
  });

  it('fails when the lag loop could take more iterations than the execution history holds', async () => {
    const { error, step } = setup({ pollIntervalSeconds: 30 });
    const limit = (MAX_LAG_CHECKS - 1) * 30;
    await expect(step({ migrationId: 'ok', syncTimeoutSeconds: limit })).resolves.toBeDefined();
    await expectBadInput(
      error({ migrationId: 'm', syncTimeoutSeconds: limit + 30 }),
      new RegExp(`allows ${MAX_LAG_CHECKS + 1} lag checks .* use at most ${limit} seconds`),
    );
  });

  it('fails when consecutiveChecks cannot be reached within the sync timeout', async () => {
    const { error } = setup({ pollIntervalSeconds: 30 });
    await expectBadInput(
      error({ migrationId: 'm', syncTimeoutSeconds: 60, consecutiveChecks: 4 }),
      /"consecutiveChecks" cannot be reached within syncTimeoutSeconds \(60s allows 3 checks/,
    );
  });

  it('maxLagChecks: one check every poll interval until the sync timeout, plus the first', () => {
    expect(maxLagChecks({ syncTimeoutSeconds: 7200 }, 30)).toBe(241);
    expect(maxLagChecks({ syncTimeoutSeconds: 59 }, 30)).toBe(2);
    expect(() => maxLagChecks({ syncTimeoutSeconds: 60 }, 0)).toThrow(/positive/);
  });
});

describe('applicationRoles', () => {
  it.each([
    [['app', ''], /"applicationRoles\[1\]" must be a role name of 1 to 63 characters/],
    [['x'.repeat(64)], /"applicationRoles\[0\]" must be a role name of 1 to 63 characters/],
    [['a\u0000b'], /"applicationRoles\[0\]" must be a role name of 1 to 63 characters without NUL/],
    [[7], /"applicationRoles\[0\]"/],
    [
      ['app_writer', 'pg_monitor'],
      /"applicationRoles\[1\]" must be a role the application logs in as \(reserved: names starting with pg_/,
    ],
    [['public'], /"applicationRoles\[0\]" must be a role the application logs in as \(reserved system role\)/],
    [['app', 'app'], /"applicationRoles" must not repeat a role, got "app"/],
  ])('fails when applicationRoles is %j', async (roles, message) => {
    await expectBadInput(setup().error({ migrationId: 'm', applicationRoles: roles }), message);
  });

  it('fails when 10,000 roles are given, with a bounded message', async () => {
    const roles = Array.from({ length: 10_000 }, (_, i) => `role_${i}`);
    const e = await expectBadInput(
      setup().error({ migrationId: 'm', applicationRoles: roles }),
      new RegExp(`must list at most ${MAX_APPLICATION_ROLES} roles \\(it lists 10000\\)`),
    );
    expect(e.message.length).toBeLessThan(600);
  });

  it('announces at most 20 roles by name', async () => {
    const { step, notices } = setup();
    const roles = Array.from({ length: MAX_APPLICATION_ROLES }, (_, i) => `role_${i}`);
    await step({ migrationId: 'many', applicationRoles: roles });
    expect(notices[0].message).toContain('role_19 and 980 more');
    expect(notices[0].message.length).toBeLessThan(1500);
  });
});

describe('the read-switch modes', () => {
  it('maps each mode to what it does: the cutover, or only the read switch (checked as a dry run)', async () => {
    const { step } = setup({ readTrafficSwitch: true, switchReadsTo: 'reader.example:5432' });
    expect(await step({ migrationId: 'm', mode: 'execute' })).toMatchObject({ mode: 'execute', action: 'cutover' });
    expect(await step({ migrationId: 'm' })).toMatchObject({ mode: 'dry-run', action: 'cutover' });
    expect(await step({ migrationId: 'm', mode: 'switch-reads' })).toMatchObject({
      mode: 'dry-run',
      action: 'switch-reads',
      switchReadsTo: 'reader.example:5432',
    });
    // pointing reads back needs no application role
    const { step: bare } = setup({ readTrafficSwitch: true, applicationRoles: [] });
    expect(await bare({ migrationId: 'm', mode: 'revert-reads' })).toMatchObject({ action: 'revert-reads' });
  });

  it('gives each its own state record: a read switch never shares phases with the execute record', async () => {
    const { state, step } = setup({ readTrafficSwitch: true, switchReadsTo: 'reader.example:5432' });
    await step({ migrationId: 'm', mode: 'switch-reads' });
    expect(Object.keys(state.snapshot())).toEqual([`m#switch-reads#${NOW.toISOString()}`]);
  });

  it.each([
    [
      { mode: 'reads' },
      /"mode" must be "dry-run", "execute", "switch-reads", "revert-reads", "end-fallback-window", got "reads"/,
    ],
    [{ mode: 'switch-reads', switchReadsTo: 'a b' }, /"switchReadsTo" must be an endpoint .* got "a b"/],
    [{ mode: 'switch-reads', switchReadsTo: '' }, /"switchReadsTo" must name the endpoint the reads go to/],
  ])('refuses %j naming the field, writing nothing', async (fields, message) => {
    const { state, notices, error } = setup({ readTrafficSwitch: true });
    await expectBadInput(error({ migrationId: 'm', ...fields }), message);
    expect(state.snapshot()).toEqual({});
    expect(notices).toEqual([]);
  });

  it.each(['switch-reads', 'revert-reads'])('refuses %s without a read switch on the construct', async (mode) => {
    const { state, error } = setup({ switchReadsTo: 'reader.example:5432' });
    await expectBadInput(
      error({ migrationId: 'm', mode }),
      new RegExp(`"mode" needs a read traffic switch: set readTrafficSwitch on the construct, got "${mode}"`),
    );
    expect(state.snapshot()).toEqual({});
  });
});
