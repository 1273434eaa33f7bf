import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** DMS writes every column; a generated column on the target refuses the write. */
export const generatedColumn: PreflightCheck = {
  code: 'generated-column',
  side: 'source',
  scope: 'tables',
  severity: 'warning',
  description: 'Selected tables have no generated column (DMS tries to write it).',
  fix: 'Define it as generated on the target too and leave it out of the task (transformation rule remove-column).',
  async run(ctx) {
    const catalog = await ctx.catalog();
    return catalog.tables.flatMap((t) =>
      t.columns
        .filter((c) => c.generated)
        .map((c) =>
          finding(
            generatedColumn,
            `${t.display}.${c.name}`,
            'generated column: DMS tries to write it and the load fails on the target',
          ),
        ),
    );
  },
};
