/** What every cutover step runs with: its dependencies, the validated input, its state key and the clock. */
import type { CutoverInput } from '../../../contract';
import type { CutoverDeps } from './deps';
import { stateKey } from './state-keys';

/** The dependencies, the validated input and the state key of one step invocation. */
export interface StepContext {
  readonly deps: CutoverDeps;
  readonly input: CutoverInput;
  readonly key: string;
  now(): Date;
  iso(): string;
}

export function createContext(deps: CutoverDeps, input: CutoverInput): StepContext {
  const now = deps.now ?? (() => new Date());
  return { deps, input, key: stateKey(input), now, iso: () => now().toISOString() };
}
