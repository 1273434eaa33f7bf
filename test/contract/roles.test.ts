/**
 * One rule for the roles the cutover may freeze (contract/roles.ts): the construct (synth time), the execution input
 * (ValidateInput) and the freeze's own check refuse exactly the same names, and the construct's defaults are the
 * contract's.
 */
import { Template } from 'aws-cdk-lib/assertions';
import {
  applicationRolesProblem,
  CUTOVER_INPUT_DEFAULTS,
  CUTOVER_WORKFLOW_DEFAULTS,
  MAX_APPLICATION_ROLES,
  parseCutoverDefaults,
  RESERVED_ROLE_NAMES,
  reservedRoleName,
} from '../../contract';
import { parseExecutionInput } from '../../lambda/engine/cutover/validate-input';
import { workflowStack } from '../lib/cutover/support';

const NOW = new Date('2026-03-01T12:00:00.000Z');

/** What the construct says about `roles`: undefined when it accepts them. */
function construct(roles: string[]): string | undefined {
  try {
    workflowStack({ applicationRoles: roles });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** What the execution input check says about `roles`: undefined when it accepts them. */
function engine(roles: unknown[]): string | undefined {
  try {
    parseExecutionInput({ migrationId: 'm', applicationRoles: roles }, { now: () => NOW });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('reserved role names', () => {
  it('include what the construct and the engine each refused before they shared one list', () => {
    for (const name of ['postgres', 'public', 'rdsadmin', 'rds_superuser', 'rds_replication', 'rdsrepladmin']) {
      expect(RESERVED_ROLE_NAMES).toContain(name);
    }
    for (const name of ['rdstopmgr', 'rds_password', 'rds_iam', 'rds_ad']) expect(RESERVED_ROLE_NAMES).toContain(name);
    expect(reservedRoleName('pg_monitor')).toMatch(/pg_/);
    expect(reservedRoleName('app_rw')).toBeUndefined();
  });

  it.each([...RESERVED_ROLE_NAMES, 'pg_monitor', 'pg_write_all_data'])(
    'the construct and the execution input both refuse %s, with the same words',
    (name) => {
      const expected = `applicationRoles[1] must be a role the application logs in as (${reservedRoleName(name)})`;
      expect(construct(['app_rw', name])).toContain(expected);
      expect(engine(['app_rw', name])).toContain(`"applicationRoles[1]" must be a role the application logs in as`);
      expect(engine(['app_rw', name])).toContain(`(${reservedRoleName(name)})`);
    },
  );

  it.each([[['app_rw', 'orders_app']], [['a'.repeat(63)]]])('both accept %j', (roles) => {
    expect(construct(roles)).toBeUndefined();
    expect(engine(roles)).toBeUndefined();
    expect(applicationRolesProblem(roles)).toBeUndefined();
  });

  it.each([[['']], [['x'.repeat(64)]], [['a\u0000b']], [['app', 'app']]])('both refuse %j', (roles) => {
    expect(construct(roles)).toBeDefined();
    expect(engine(roles)).toBeDefined();
    expect(applicationRolesProblem(roles)).toBeDefined();
  });

  it('names the problem: too many, not a name, repeated', () => {
    const many = Array.from({ length: MAX_APPLICATION_ROLES + 1 }, (_, i) => `r${i}`);
    expect(applicationRolesProblem(many)).toMatchObject({ kind: 'too-many', count: MAX_APPLICATION_ROLES + 1 });
    expect(applicationRolesProblem(['app', 7])).toMatchObject({ kind: 'not-a-name', index: 1 });
    expect(applicationRolesProblem(['a', 'b', 'a'])).toEqual({ kind: 'repeated', role: 'a' });
    expect(applicationRolesProblem('app')).toMatchObject({ kind: 'not-a-list' });
    // Deploy-time tokens are checked only for repeats.
    expect(applicationRolesProblem(['${Token[X]}'], { isUnresolved: (r) => r.startsWith('${Token') })).toBeUndefined();
  });
});

describe('cutover defaults', () => {
  it("the construct's defaults are the contract's", () => {
    const { stack } = workflowStack({ applicationRoles: ['app_rw'] });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const written = Object.values(functions)
      .map((f) => (f as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties)
      .map((p) => p.Environment?.Variables?.DEFAULTS_JSON)
      .filter((v): v is string => typeof v === 'string');
    expect(written.length).toBeGreaterThan(0);
    for (const json of written) {
      expect(parseCutoverDefaults(JSON.parse(json))).toEqual({
        applicationRoles: ['app_rw'],
        acknowledgedWriters: [],
        lagThresholdSeconds: CUTOVER_INPUT_DEFAULTS.lagThresholdSeconds,
        consecutiveChecks: CUTOVER_INPUT_DEFAULTS.consecutiveChecks,
        syncTimeoutSeconds: CUTOVER_INPUT_DEFAULTS.syncTimeoutSeconds,
        finalSyncTimeoutSeconds: CUTOVER_INPUT_DEFAULTS.finalSyncTimeoutSeconds,
        requireApproval: CUTOVER_INPUT_DEFAULTS.requireApproval,
        readTrafficSwitch: false,
        executionTimeoutSeconds: CUTOVER_WORKFLOW_DEFAULTS.executionTimeoutSeconds,
        pollIntervalSeconds: CUTOVER_WORKFLOW_DEFAULTS.pollIntervalSeconds,
      });
    }
  });

  it('reads DEFAULTS_JSON by its declared shape, naming a field of the wrong type', () => {
    expect(parseCutoverDefaults({ lagThresholdSeconds: 2, newerField: 1 })).toEqual({ lagThresholdSeconds: 2 });
    expect(() => parseCutoverDefaults({ applicationRoles: 'app' })).toThrow(
      /DEFAULTS_JSON field "applicationRoles" must be a list of strings, got "app"/,
    );
    expect(() => parseCutoverDefaults({ requireApproval: 'yes' })).toThrow(/"requireApproval" must be a boolean/);
    expect(() => parseCutoverDefaults([])).toThrow(/must be a JSON object/);
  });
});
