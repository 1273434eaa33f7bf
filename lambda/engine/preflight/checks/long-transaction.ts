import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** Open transactions delay the slot's initial snapshot and hold back the xmin horizon (server-wide). */
export const longTransaction: PreflightCheck = {
  code: 'long-transaction',
  side: 'source',
  scope: 'server',
  severity: 'warning',
  description: 'No client transaction has been open longer than longTransactionSeconds (default 300).',
  fix: 'Let it finish or end it before starting the task.',
  async run(ctx) {
    const seconds = ctx.options.longTransactionSeconds ?? 300;
    const { rows } = await ctx.db.query<{ pid: number; age: number; state: string; app: string }>(
      `SELECT pid, extract(epoch FROM now() - xact_start)::int AS age, state, application_name AS app
         FROM pg_stat_activity
        WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND now() - xact_start > make_interval(secs => $1)
        ORDER BY xact_start`,
      [seconds],
    );
    return rows.map((t) =>
      finding(
        longTransaction,
        `pid ${t.pid}`,
        `transaction open for ${t.age}s (${t.state}${t.app ? `, ${t.app.slice(0, 64)}` : ''}): it delays the initial snapshot and inflates CDC latency`,
      ),
    );
  },
};
