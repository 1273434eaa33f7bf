import {
  CUTOVER_ENVIRONMENT,
  DEPENDENCY_ENVIRONMENT,
  STEP_SPECS,
  type CutoverEnvironmentVariable,
  type StepName,
} from '../../../contract';

/**
 * The environment of a function serving `steps`: `ALLOWED_STEPS` plus the variables of the dependencies those
 * steps use (STEP_SPECS), taken from `values` (a variable without a value is left out; the handler then uses its
 * default).
 */
export function environmentOf(
  steps: readonly StepName[],
  values: Partial<Record<CutoverEnvironmentVariable, string>>,
): Record<string, string> {
  const names = new Set<CutoverEnvironmentVariable>();
  for (const step of steps) {
    for (const dep of STEP_SPECS[step].deps) for (const name of DEPENDENCY_ENVIRONMENT[dep]) names.add(name);
  }
  const environment: Record<string, string> = {};
  for (const name of [...names].sort()) {
    const value = values[name];
    if (value !== undefined) environment[name] = value;
  }
  environment[CUTOVER_ENVIRONMENT.allowedSteps] = steps.join(',');
  return environment;
}
