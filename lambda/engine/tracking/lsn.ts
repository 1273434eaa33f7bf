/** PostgreSQL log sequence numbers (`16/B374D848`) as text, compared as 64-bit numbers. */

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(lsn: string): bigint {
  const m = LSN.exec(lsn);
  if (!m) throw new Error(`invalid LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The later of two LSNs (either may be null). */
export function maxLsn(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return parseLsn(a) >= parseLsn(b) ? a : b;
}
