import { finding } from '../context';
import type { PreflightCheck } from '../types';

/** DMS requires wal_sender_timeout 0 (off) or at least 10 seconds, or its replication connection is dropped. */
export const walSenderTimeout: PreflightCheck = {
  code: 'wal-sender-timeout',
  side: 'source',
  scope: 'server',
  severity: 'error',
  description: 'wal_sender_timeout is 0 or at least 10000 ms, as DMS needs.',
  fix: 'Set wal_sender_timeout to 0 or at least 10000 (ms) and reload.',
  async run(ctx) {
    const s = await ctx.settings();
    const ms = s.walSenderTimeoutMs;
    return ms === 0 || ms >= 10_000
      ? []
      : [
          finding(
            walSenderTimeout,
            'wal_sender_timeout',
            `wal_sender_timeout is ${s.walSenderTimeout}; DMS needs 0 or at least 10s`,
          ),
        ];
  },
};
