/**
 * One engine, two directions. The fallback runs the cutover's steps with the databases' roles swapped: Aurora is the
 * side that is frozen and read from, the old source the side that must catch up, the reverse replication the one that
 * is waited for and stopped. Steps never know which way they run; they get these dependencies.
 */
import { FALLBACK_DEPENDENCY, type CutoverDirection } from '../../../contract';
import type { CutoverDeps } from './deps';

/** Fields the fallback reads from another field of the forward dependencies (null: none in that direction). */
const FALLBACK_FIELDS: Partial<Record<keyof CutoverDeps, keyof CutoverDeps | null>> = FALLBACK_DEPENDENCY;

const fallbacks = new WeakMap<CutoverDeps, CutoverDeps>();

/**
 * The dependencies of the fallback direction: lazy (a field is read only when a step uses it, as the Lambda
 * environment's getters are) and one object per forward one (its connection pools are reused across steps).
 */
export function fallbackDeps(deps: CutoverDeps): CutoverDeps {
  let out = fallbacks.get(deps);
  if (!out) {
    out = new Proxy(deps, {
      get(target, property, receiver) {
        if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(FALLBACK_FIELDS, property)) {
          const from = FALLBACK_FIELDS[property as keyof CutoverDeps];
          if (from === null || from === undefined) return undefined;
          if (property === 'replication' && !target.reverse) {
            throw new Error('the fallback needs the reverse replication, and none is configured');
          }
          return Reflect.get(target, from, receiver);
        }
        return Reflect.get(target, property, receiver);
      },
    });
    fallbacks.set(deps, out);
  }
  return out;
}

/** The dependencies of `direction`. */
export function depsFor(deps: CutoverDeps, direction: CutoverDirection | undefined): CutoverDeps {
  return direction === 'fallback' ? fallbackDeps(deps) : deps;
}

/** The fallback dependencies made so far for `deps` (to close their connections too). */
export function existingFallbackDeps(deps: CutoverDeps): CutoverDeps | undefined {
  return fallbacks.get(deps);
}
