/** Many statements per round trip: each one's rows, in order, across message boundaries; a failure fails all. */
import { createPool } from '../../../../lambda/engine/pg/connection';
import { queryEach } from '../../../../lambda/engine/pg/statements';
import { serverUrl } from '../../../support/databases';

test('returns each statement’s rows in order, one statement or 1,201 (three messages)', async () => {
  const pool = await createPool(serverUrl('source'), { max: 1 });
  let messages = 0;
  const counted = {
    query: (text: string) => {
      messages += 1;
      return pool.query(text);
    },
  } as unknown as Parameters<typeof queryEach>[0];
  try {
    expect(await queryEach(counted, ['SELECT 7 AS n'])).toEqual([[{ n: 7 }]]);
    const many = Array.from({ length: 1201 }, (_, i) => `SELECT ${i} AS n, 'x' AS s WHERE ${i} % 2 = 0`);
    messages = 0;
    const rows = await queryEach<{ n: number }>(counted, many);
    expect(messages).toBe(3);
    expect(rows).toHaveLength(1201);
    expect(rows[0]).toEqual([{ n: 0, s: 'x' }]);
    expect(rows[1]).toEqual([]);
    expect(rows[1200]).toEqual([{ n: 1200, s: 'x' }]);
    await expect(queryEach(counted, ['SELECT 1', 'SELECT * FROM zdm_no_such_table'])).rejects.toThrow(
      /zdm_no_such_table/,
    );
  } finally {
    await pool.end();
  }
});
