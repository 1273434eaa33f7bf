import { finding } from '../context';
import type { PreflightCheck } from '../types';
import { PARTITION_SELECTION_RULE } from './partition-selected';

/** A selection that matches nothing would migrate and validate nothing, and report success. */
export const noTables: PreflightCheck = {
  code: 'no-tables',
  side: 'source',
  scope: 'tables',
  severity: 'error',
  description: 'The table selection matches at least one table on the source.',
  fix: `Check the include/exclude rules (names are case-sensitive; % is the wildcard; ${PARTITION_SELECTION_RULE}).`,
  async run(ctx) {
    const catalog = await ctx.catalog();
    return catalog.tables.length === 0
      ? [finding(noTables, 'selection', 'the table selection matches no table on the source')]
      : [];
  },
};
