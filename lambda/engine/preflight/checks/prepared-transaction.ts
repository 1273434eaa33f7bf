import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** A forgotten prepared transaction holds back WAL removal and the xmin horizon until it is resolved. */
export const preparedTransaction: PreflightCheck = {
  code: 'prepared-transaction',
  side: 'source',
  scope: 'server',
  severity: 'warning',
  description: 'No prepared (two-phase) transaction is pending.',
  fix: 'COMMIT PREPARED or ROLLBACK PREPARED it.',
  async run(ctx) {
    const { rows } = await ctx.db.query<{ gid: string; age: number }>(
      `SELECT gid, extract(epoch FROM now() - prepared)::int AS age FROM pg_prepared_xacts ORDER BY prepared`,
    );
    return rows.map((p) =>
      finding(
        preparedTransaction,
        `prepared transaction ${p.gid.slice(0, 200)}`,
        `prepared transaction open for ${p.age}s holds back WAL and the xmin horizon`,
      ),
    );
  },
};
