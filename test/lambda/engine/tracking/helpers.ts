import { sql } from '../../../support/databases';
import { openPair, type Pair } from '../validation/helpers';

/**
 * A database pair whose commits are flushed at once: the test servers run with `synchronous_commit = off`, and
 * logical decoding only sees flushed WAL, so a change committed just before a read could otherwise be missed.
 */
export async function openTrackingPair(prefix: string): Promise<Pair> {
  const p = await openPair(prefix);
  for (const url of [p.sourceUrl, p.targetUrl]) {
    await sql(url, `ALTER DATABASE ${JSON.stringify(p.name)} SET synchronous_commit = on`);
  }
  await p.reconnect();
  return p;
}
