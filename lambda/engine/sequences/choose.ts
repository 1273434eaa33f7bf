import { formatTableName, isSelected, type TableSelection } from '../../../contract';
import { seqKey, userName, type SequenceCatalog, type SequenceRow } from './list';
import type { SequenceResult } from '../validation/types';

const drawnFromBySelected = (selection: TableSelection, s: SequenceRow): boolean =>
  s.users.some((u) => isSelected(selection, u.table));

/**
 * The selected sequences of the source: those any selected table draws from on either side (owned by one of its
 * columns, backing an identity, or called by one of its defaults, owned or not, in whatever schema), plus every
 * sequence whose own name the selection matches (so `public` / `public.%` takes all of `public`). Sorted by name.
 */
export function chooseSequences(
  selection: TableSelection,
  source: SequenceCatalog,
  target: SequenceCatalog,
): SequenceRow[] {
  const usedOnTarget = new Set(
    target.sequences.filter((s) => drawnFromBySelected(selection, s)).map((s) => seqKey(s.schema, s.name)),
  );
  return source.sequences
    .filter(
      (s) =>
        drawnFromBySelected(selection, s) ||
        usedOnTarget.has(seqKey(s.schema, s.name)) ||
        isSelected(selection, { schema: s.schema, table: s.name }),
    )
    .sort((a, b) => (seqKey(a.schema, a.name) < seqKey(b.schema, b.name) ? -1 : 1));
}

const refused = (sequence: string, usedBy: string[], error: string): SequenceResult => ({
  sequence,
  usedBy,
  sourceNext: null,
  targetNext: null,
  targetColumnMax: null,
  status: 'error',
  error,
});

/**
 * Columns of selected tables that draw from a sequence the run cannot cover, as `error` results: a default whose
 * sequence cannot be resolved (on either side), and, on the target, a sequence the source has none of. Without these
 * a selection that misses sequences would report "OK".
 */
export function uncoveredUses(
  selection: TableSelection,
  source: SequenceCatalog,
  target: SequenceCatalog,
  chosen: readonly SequenceRow[],
): SequenceResult[] {
  const out: SequenceResult[] = [];
  const chosenKeys = new Set(chosen.map((s) => seqKey(s.schema, s.name)));
  for (const [side, catalog] of [
    ['source', source],
    ['target', target],
  ] as const) {
    for (const u of catalog.unresolved) {
      if (!isSelected(selection, u.table)) continue;
      out.push(
        refused(
          '(unresolved)',
          [userName(u)],
          `the default of ${userName(u)} on the ${side} calls nextval on a sequence that cannot be resolved (${u.expression.slice(0, 120)}); set it by hand`,
        ),
      );
    }
  }
  for (const s of target.sequences) {
    // Chosen: every source sequence a selected table draws from on the target.
    if (chosenKeys.has(seqKey(s.schema, s.name))) continue;
    const selectedUsers = s.users.filter((u) => isSelected(selection, u.table));
    if (selectedUsers.length === 0) continue;
    const name = formatTableName({ schema: s.schema, table: s.name });
    out.push(
      refused(
        name,
        selectedUsers.map(userName),
        `on the target ${selectedUsers.map(userName).join(', ')} draw(s) from ${name}, which the source does not have; compare the schemas (zdm schema) and set it by hand`,
      ),
    );
  }
  return out;
}
