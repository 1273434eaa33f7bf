/**
 * The state machines as deployed: each synthesized DefinitionString, its intrinsics resolved to realistic ARNs
 * (rehearsal/local/resolve-intrinsics.ts with test/support/resolve-template.ts's physical names), is valid Amazon
 * States Language by a kept validator (asl-validator: the ASL JSON schemas, JSONPath syntax, every transition target
 * present, a terminal state reachable, no duplicate state names), and within Step Functions' definition size quota.
 */
import aslValidator from 'asl-validator';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { resolveIntrinsics } from '../../../rehearsal/local/resolve-intrinsics';
import { TEST_ENVIRONMENT } from '../../support/iam-authorizer';
import { intrinsicValuesOf, templateResolver } from '../../support/resolve-template';
import { reverseReplicationBinding, workflowStack } from './support';

/** Step Functions' quota on a state machine definition: 1 MB. */
const DEFINITION_QUOTA_BYTES = 1024 * 1024;
/**
 * The bound asserted: 1/16 of the quota. The definitions resolve to 22-26 KB (48 states in the cutover machine, 55
 * with the way back, 43 in the fallback machine); growing past 64 KiB is a design change worth noticing.
 */
const DEFINITION_BOUND_BYTES = DEFINITION_QUOTA_BYTES / 16;

interface Definition {
  readonly StartAt: string;
  readonly States: Record<string, { Type: string; Next?: string; End?: boolean }>;
}

/** The state machines of `stack` (logical id → ASL), definitions resolved as CloudFormation would. */
function definitionsOf(stack: Stack): Record<string, { text: string; asl: Definition }> {
  const template = Template.fromStack(stack).toJSON();
  const values = intrinsicValuesOf(templateResolver(template, stack.stackName, TEST_ENVIRONMENT), TEST_ENVIRONMENT);
  const machines = Object.entries<{ Type: string; Properties: { DefinitionString: unknown } }>(template.Resources);
  return Object.fromEntries(
    machines
      .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
      .map(([id, r]) => {
        const text = resolveIntrinsics(r.Properties.DefinitionString, values);
        if (Array.isArray(text)) throw new Error(`${id}: the definition resolved to a list`);
        return [id, { text, asl: JSON.parse(text) as Definition }];
      }),
  );
}

/** The validator's complaints about `asl` (none when it is valid). */
function problemsOf(asl: object): string[] {
  // a copy: the validator writes each state's default QueryLanguage into what it is given
  const result = aslValidator(structuredClone(asl));
  return result.isValid ? [] : result.errors.map((e) => `${e['Error code']}: ${e.Message}`);
}

const APPS = {
  'the default app': workflowStack().stack,
  'the way-back app': workflowStack((s) => ({
    reverseReplication: reverseReplicationBinding(s),
    fallbackEndpoint: 'db.internal:5432',
  })).stack,
};

describe.each(Object.entries(APPS))('%s', (app, stack) => {
  const definitions = definitionsOf(stack);

  test('has the cutover machine, and with the way back the fallback machine', () => {
    const ids = Object.keys(definitions).map((id) => id.replace(/[0-9A-F]{8}$/, ''));
    expect(ids.sort()).toEqual(
      app === 'the way-back app' ? ['CutoverFallbackStateMachine', 'CutoverStateMachine'] : ['CutoverStateMachine'],
    );
  });

  test('every state machine definition is valid ASL', () => {
    for (const [id, { asl }] of Object.entries(definitions)) {
      expect({ id, problems: problemsOf(asl) }).toEqual({ id, problems: [] });
      // every ARN resolved: no intrinsic is left in the deployed text
      expect(JSON.stringify(asl)).not.toMatch(/"(Ref|Fn::[A-Za-z]+)"/);
    }
  });

  test("every definition is within Step Functions' size quota, with room to grow", () => {
    for (const [id, { text }] of Object.entries(definitions)) {
      const bytes = Buffer.byteLength(text, 'utf8');
      expect({ id, bytes, withinBound: bytes < DEFINITION_BOUND_BYTES }).toEqual({ id, bytes, withinBound: true });
    }
  });
});

describe('the validator itself', () => {
  const [{ asl }] = Object.values(definitionsOf(APPS['the default app']));

  test('rejects the definition with a Next that points to a missing state', () => {
    const name = Object.keys(asl.States).find((n) => asl.States[n].Next !== undefined)!;
    const broken: Definition = {
      ...asl,
      States: { ...asl.States, [name]: { ...asl.States[name], Next: 'NoSuchState' } },
    };
    expect(problemsOf(broken)).toContain(
      "MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: NoSuchState",
    );
  });

  test('rejects the definition that starts at a missing state, and one with an invalid ResultPath', () => {
    expect(problemsOf({ ...asl, StartAt: 'NoSuchState' })).toContain(
      "MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: NoSuchState",
    );
    const name = Object.keys(asl.States).find((n) => asl.States[n].Type === 'Task')!;
    const badPath: Definition = {
      ...asl,
      States: {
        ...asl.States,
        [name]: { ...asl.States[name], ResultPath: '$.results[' } as Definition['States'][string],
      },
    };
    expect(problemsOf(badPath)).toContainEqual(expect.stringContaining(`/States/${name}/ResultPath is invalid`));
  });
});
