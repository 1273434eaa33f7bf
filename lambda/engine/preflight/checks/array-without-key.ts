import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** DMS cannot apply changes to array columns of a table without a primary key. */
export const arrayWithoutKey: PreflightCheck = {
  code: 'array-without-key',
  side: 'source',
  scope: 'tables',
  severity: 'warning',
  description: 'Array columns are only in tables with a primary key.',
  fix: 'Add a primary key.',
  async run(ctx) {
    const catalog = await ctx.catalog();
    return catalog.tables
      .filter((t) => t.keySource !== 'primary-key')
      .flatMap((t) =>
        t.columns
          .filter((c) => c.typeCategory === 'A')
          .map((c) =>
            finding(
              arrayWithoutKey,
              `${t.display}.${c.name}`,
              'array column in a table without a primary key: DMS cannot apply its changes',
            ),
          ),
      );
  },
};
