/**
 * The local run checks each step the way its function would run it in AWS: the function its Task state invokes in
 * the synthesized template serves the step, and builds every dependency the step reads, in its direction, from its
 * own environment.
 */
import type { StepEvent } from '../../../contract';
import { synthesizeWayBackDefinitions } from '../../../rehearsal/local/run-state-machine';
import { checkServedBy, functionOfStates, type TemplateFunction } from '../../../rehearsal/local/template-functions';

let machines: Awaited<ReturnType<typeof synthesizeWayBackDefinitions>>;
beforeAll(async () => {
  machines = await synthesizeWayBackDefinitions();
});

const event = (step: StepEvent['step'], direction: 'forward' | 'fallback'): StepEvent =>
  ({ step, input: { migrationId: 'm', mode: 'execute', direction } }) as unknown as StepEvent;

function functionOf(definition: string, state: string): TemplateFunction {
  const arn = functionOfStates(definition).get(state);
  const fn = arn === undefined ? undefined : machines.functions.get(arn);
  if (!fn) throw new Error(`no function for ${state}`);
  return fn;
}

test('every Task state of both machines invokes a function of the template that serves its step', () => {
  for (const definition of [machines.forward, machines.fallback]) {
    const states = functionOfStates(definition);
    expect(states.size).toBeGreaterThan(10);
    for (const arn of states.values()) expect(machines.functions.has(arn)).toBe(true);
  }
  expect(() =>
    checkServedBy(functionOf(machines.fallback, 'StopReplication'), event('stopReplication', 'fallback')),
  ).not.toThrow();
  expect(() =>
    checkServedBy(functionOf(machines.forward, 'StopReplication'), event('stopReplication', 'forward')),
  ).not.toThrow();
});

test('a function without the reverse task in its environment fails the fallback StopReplication, as in AWS', () => {
  const fn = functionOf(machines.fallback, 'StopReplication');
  const environment = { ...fn.environment };
  delete environment.REVERSE_REPLICATION_TASK_ARN;
  const crippled = { ...fn, environment };
  expect(() => checkServedBy(crippled, event('stopReplication', 'fallback'))).toThrow(
    new RegExp(`function ${fn.logicalId} \\(stopReplication, fallback\\): the fallback needs the reverse replication`),
  );
  // The forward direction does not need it.
  expect(() => checkServedBy(crippled, event('stopReplication', 'forward'))).not.toThrow();
});

test('a step the function does not serve is refused with its ALLOWED_STEPS', () => {
  const fn = functionOf(machines.forward, 'StopReplication');
  expect(() => checkServedBy(fn, event('freezeWrites', 'forward'))).toThrow(
    /step "freezeWrites" is not served by this function/,
  );
});
