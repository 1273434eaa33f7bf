import { clip, difference } from './difference';
import type { SchemaDifference, SchemaObjectType, Severity } from '../validation/types';

/** One schema object of one database, as compared. */
export interface SchemaObject {
  readonly objectType: SchemaObjectType;
  /** Identifies the object across the two databases (a name, or a table and a definition). */
  readonly key: string;
  /** Shown as `SchemaDifference.object`. */
  readonly name: string;
  /** Two objects with the same key are the same when their definitions are equal. */
  readonly definition: string;
}

export interface ComparePolicy<T extends SchemaObject> {
  /** Words for the object in messages, e.g. `CHECK constraint`. */
  readonly what: string;
  /** @default 'error' */
  readonly missingSeverity?: Severity;
  /** @default 'error' */
  readonly differentSeverity?: Severity;
  readonly extraSeverity: Severity | ((target: T) => Severity);
  /** What makes the target have the source's object. */
  readonly fixMissing?: (source: T) => string | undefined;
  /** What removes the target-only object (only where that is clearly the thing to do). */
  readonly fixExtra?: (target: T) => string | undefined;
  /** What makes the target's object the source's. */
  readonly fixDifferent?: (source: T, target: T) => string | undefined;
}

const byKey = <T extends SchemaObject>(objects: readonly T[]): Map<string, T> =>
  new Map(objects.map((o) => [o.key, o]));
const inParentheses = (definition: string): string => (definition ? ` (${clip(definition)})` : '');

/** Objects on the source only (`missing`), on the target only (`extra`) and on both but defined differently. */
export function compareObjects<T extends SchemaObject>(
  source: readonly T[],
  target: readonly T[],
  policy: ComparePolicy<T>,
): SchemaDifference[] {
  const s = byKey(source);
  const t = byKey(target);
  const keys = [...new Set([...s.keys(), ...t.keys()])].sort();
  const out: SchemaDifference[] = [];
  for (const key of keys) {
    const a = s.get(key);
    const b = t.get(key);
    if (a && !b) {
      out.push(
        difference({
          objectType: a.objectType,
          object: a.name,
          kind: 'missing',
          severity: policy.missingSeverity ?? 'error',
          source: a.definition,
          message: `${policy.what} ${a.name}${inParentheses(a.definition)} is missing on the target`,
          fix: policy.fixMissing?.(a),
        }),
      );
    } else if (b && !a) {
      out.push(
        difference({
          objectType: b.objectType,
          object: b.name,
          kind: 'extra',
          severity: typeof policy.extraSeverity === 'function' ? policy.extraSeverity(b) : policy.extraSeverity,
          target: b.definition,
          message: `${policy.what} ${b.name}${inParentheses(b.definition)} exists on the target only`,
          fix: policy.fixExtra?.(b),
        }),
      );
    } else if (a && b && a.definition !== b.definition) {
      out.push(
        difference({
          objectType: a.objectType,
          object: a.name,
          kind: 'different',
          severity: policy.differentSeverity ?? 'error',
          source: a.definition,
          target: b.definition,
          message: `${policy.what} ${a.name} differs: ${clip(a.definition)} on the source, ${clip(b.definition)} on the target`,
          fix: policy.fixDifferent?.(a, b),
        }),
      );
    }
  }
  return out;
}
