import {
  CUTOVER_ENVIRONMENT,
  DEPENDENCY_ENVIRONMENT,
  dependenciesOf,
  type CutoverDirection,
  type CutoverEnvironmentVariable,
  type StepName,
} from '../../../contract';

/**
 * The environment of a function serving `steps`: `ALLOWED_STEPS` plus the variables of the dependencies those
 * steps use in each of `directions` (the fallback machine runs the same function with the sides swapped: its
 * StopReplication reads the reverse task), taken from `values` (a variable without a value is left out; the handler
 * then uses its default).
 */
export function environmentOf(
  steps: readonly StepName[],
  values: Partial<Record<CutoverEnvironmentVariable, string>>,
  directions: readonly CutoverDirection[] = ['forward'],
): Record<string, string> {
  const names = new Set<CutoverEnvironmentVariable>();
  for (const step of steps) {
    for (const direction of directions) {
      for (const dep of dependenciesOf(step, direction))
        for (const name of DEPENDENCY_ENVIRONMENT[dep]) names.add(name);
    }
  }
  const environment: Record<string, string> = {};
  for (const name of [...names].sort()) {
    const value = values[name];
    if (value !== undefined) environment[name] = value;
  }
  environment[CUTOVER_ENVIRONMENT.allowedSteps] = steps.join(',');
  return environment;
}
