/**
 * What both loads (writes and reads) share: the clock they stamp with, where they connect, and which errors an
 * application retries.
 */
import { performance } from 'node:perf_hooks';

/** Where the application reads its database endpoint from (the same TrafficSwitch the workflow updates). */
export interface EndpointSource {
  current(): Promise<string | undefined>;
}

/** `performance`-based epoch milliseconds with sub-millisecond precision (monotonic within the process). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const RETRYABLE_CODES = new Set([
  '57P01', // admin_shutdown: our backend was terminated (the freeze ends sessions)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '28000', // invalid_authorization_specification: role is not permitted to log in (NOLOGIN)
  '53300', // too_many_connections (CONNECTION LIMIT 0)
  '25006', // read_only_sql_transaction (default_transaction_read_only freeze)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/** Errors an application retries: its connection was refused, ended, or its role may not log in right now. */
export function isRetryable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && RETRYABLE_CODES.has(e.code)) return true;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed|ECONNREFUSED|ECONNRESET/i.test(
    message,
  );
}

/** A short code for an error: its SQLSTATE / errno, or `terminated` / `timeout` / `other`. */
export function errorCode(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (/Connection terminated/i.test(message)) return 'terminated';
  if (/timeout/i.test(message)) return 'timeout';
  return 'other';
}
