/**
 * Many small statements in one round trip. One query of N `UNION ALL` branches costs the server a plan of all N at
 * once (a 301-branch union of per-table max() subqueries took ~300 ms to plan); N statements sent together in one
 * simple-protocol message are planned one by one (well under a millisecond each) and answered in one round trip.
 * Only for statements without parameters: every identifier in them must already be quoted.
 */
import type { ClientBase, Pool, QueryResult, QueryResultRow } from 'pg';

type Queryable = Pick<Pool | ClientBase, 'query'>;

/** Statements sent per round trip at most (bounds the message size). */
const PER_MESSAGE = 500;

/** Runs each statement (no parameters, no `;` of its own) and returns each one's rows, in order. */
export async function queryEach<R extends QueryResultRow>(
  db: Queryable,
  statements: readonly string[],
): Promise<R[][]> {
  const out: R[][] = [];
  for (let from = 0; from < statements.length; from += PER_MESSAGE) {
    const chunk = statements.slice(from, from + PER_MESSAGE);
    const result = (await db.query(chunk.join(';\n'))) as unknown as QueryResult<R> | QueryResult<R>[];
    const results = Array.isArray(result) ? result : [result];
    if (results.length !== chunk.length) {
      throw new Error(`expected ${chunk.length} results from one message, got ${results.length}`);
    }
    for (const r of results) out.push(r.rows);
  }
  return out;
}
