import { finding } from '../context';
import type { PreflightCheck } from '../types';
import { chooseSequences } from '../../sequences/choose';
import { guardColumns } from '../../sequences/column-guard';
import { listSequences, userName } from '../../sequences/list';
import { formatTableName } from '../../../../contract';

/**
 * SyncSequences runs inside the write freeze and reads each column's maximum only through an index (a max() on an
 * unindexed column reads the whole table). A column that draws from a sequence without a btree index leading with
 * it is therefore not guarded there: its target sequence is set past the source's value only.
 */
export const sequenceColumnUnindexed: PreflightCheck = {
  code: 'sequence-column-unindexed',
  side: 'source',
  scope: 'tables',
  severity: 'warning',
  description:
    'Columns that draw from a sequence have a btree index leading with them (the freeze reads their maximum through it).',
  fix:
    'Create a btree index on the column (CREATE INDEX CONCURRENTLY) on both sides, or run `zdm sequences --sync` before ' +
    'the cutover when rows carry values past the sequence; without one, the cutover sets the sequence past the ' +
    "source's value only.",
  async run(ctx) {
    const catalog = await listSequences(ctx.db);
    const chosen = chooseSequences(ctx.selection, catalog, catalog);
    const guards = await guardColumns(
      ctx.db,
      chosen.map((s) => ({ s, t: s })),
      true,
    );
    return chosen.flatMap((s, i) => {
      const draws = `draws from sequence ${formatTableName({ schema: s.schema, table: s.name })} and no btree index leads with it`;
      return [
        ...guards[i].notChecked.map((u) =>
          finding(
            sequenceColumnUnindexed,
            userName(u),
            `${draws}: inside the write freeze its maximum is not read (that would scan the table)`,
          ),
        ),
        ...guards[i].scanned.map((u) =>
          finding(
            sequenceColumnUnindexed,
            userName(u),
            `${draws}, but a unique index includes it: its maximum is read by a scan of the table inside the write ` +
              'freeze, which grows the freeze with the table',
            { action: 'Create a btree index leading with the column (CREATE INDEX CONCURRENTLY) on both sides.' },
          ),
        ),
      ];
    });
  },
};
