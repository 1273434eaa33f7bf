import type { Pool } from 'pg';
import { createPool } from '../../../../lambda/engine/pg/connection';
import { createDatabasePair, dropPair, sql } from '../../../support/databases';

export interface Pair {
  readonly name: string;
  readonly sourceUrl: string;
  readonly targetUrl: string;
  source: Pool;
  target: Pool;
  /** Runs the same SQL on both databases. */
  both(text: string): Promise<void>;
  /** Reconnects the pools (after ALTER DATABASE ... SET). */
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

export async function openPair(prefix: string): Promise<Pair> {
  const db = await createDatabasePair(prefix);
  const pair: Pair = {
    name: db.name,
    sourceUrl: db.source,
    targetUrl: db.target,
    source: await createPool(db.source, { max: 3 }),
    target: await createPool(db.target, { max: 3 }),
    both: async (text) => {
      await Promise.all([sql(db.source, text), sql(db.target, text)]);
    },
    reconnect: async () => {
      await Promise.all([pair.source.end(), pair.target.end()]);
      pair.source = await createPool(db.source, { max: 3 });
      pair.target = await createPool(db.target, { max: 3 });
    },
    close: async () => {
      await Promise.all([pair.source.end(), pair.target.end()]);
      await dropPair(db.name);
    },
  };
  return pair;
}
