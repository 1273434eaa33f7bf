import { formatTableName } from '../../../contract';
import { userName, type SequenceRow } from './list';
import type { SequenceResult } from '../validation/types';

export type Described = Pick<SequenceResult, 'sequence' | 'ownedBy' | 'usedBy'>;

/** Name, owner, and every column that draws from the sequence on either side. */
export function describe(s: SequenceRow, t: SequenceRow | undefined): Described {
  const usedBy = [...new Set([...s.users, ...(t?.users ?? [])].map(userName))].sort();
  return {
    sequence: formatTableName({ schema: s.schema, table: s.name }),
    ...(s.owner ? { ownedBy: userName(s.owner) } : {}),
    ...(usedBy.length ? { usedBy } : {}),
  };
}

/** The value the next nextval() returns; null when unknown. */
export function nextValue(lastValue: string | null, isCalled: boolean, increment: bigint): bigint | null {
  if (lastValue === null) return null;
  return isCalled ? BigInt(lastValue) + increment : BigInt(lastValue);
}

export function missingResult(base: Described, sourceNext: bigint | null): SequenceResult {
  return { ...base, sourceNext: String(sourceNext), targetNext: null, targetColumnMax: null, status: 'missing' };
}

export function errorResult(base: Described, error: unknown): SequenceResult {
  return {
    ...base,
    sourceNext: null,
    targetNext: null,
    targetColumnMax: null,
    status: 'error',
    error: error instanceof Error ? error.message : String(error),
  };
}

/**
 * The result for a sequence present on both sides, and (when syncing moves it) the value to pass to
 * setval(v, true), after which the next nextval() returns v + increment. Never moves a sequence backwards.
 */
export function assess(
  base: Described,
  increment: bigint,
  sourceNext: bigint,
  targetNext: bigint,
  colExtreme: bigint | null,
  margin: bigint,
  sync: boolean,
): { result: SequenceResult; setTo?: string } {
  const ascending = increment > 0n;
  // The lowest next value (highest for descending) that collides with nothing seen on either side.
  let needed = sourceNext;
  if (colExtreme !== null) {
    const pastColumn = colExtreme + increment;
    if (ascending ? pastColumn > needed : pastColumn < needed) needed = pastColumn;
  }
  needed = ascending ? needed + margin : needed - margin;
  const behind = ascending ? targetNext < needed : targetNext > needed;
  const moved = sync && behind;
  return {
    result: {
      ...base,
      sourceNext: String(sourceNext),
      targetNext: String(moved ? needed : targetNext),
      targetColumnMax: colExtreme === null ? null : String(colExtreme),
      status: behind && !sync ? 'behind' : 'ok',
      ...(sync ? { action: moved ? ('set' as const) : ('unchanged' as const) } : {}),
    },
    ...(moved ? { setTo: String(needed - increment) } : {}),
  };
}
