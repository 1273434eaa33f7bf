/** Key extraction edge cases no everyday workload produces: TOASTed keys, keys not sent, relations re-sent. */
import { ChangedKeys, type PublishedTables } from '../../../../lambda/engine/tracking/changed-keys';
import { UNCHANGED_TOAST, type PgOutputMessage } from '../../../../lambda/engine/tracking';

const docs = { schema: 'public', table: 'docs' };
const published: PublishedTables = {
  tableOf: (id) => (id === 1 || id === 2 ? docs : undefined),
  keyColumnsOf: () => ['title'],
  partitioned: [],
};
const relation = (relationId: number, columns = ['body', 'title']): PgOutputMessage => ({
  tag: 'relation',
  relationId,
  schema: 'public',
  table: 'docs',
  replicaIdentity: 'd',
  columns: columns.map((name) => ({ name, isKey: name === 'title', typeOid: 25, typeModifier: -1 })),
});
const collect = (messages: PgOutputMessage[], tables = published): ChangedKeys => {
  const c = new ChangedKeys(tables, 100);
  for (const m of messages) c.add(m);
  return c;
};

describe('ChangedKeys', () => {
  it('takes an unchanged TOASTed key of the new row from the old key', () => {
    const c = collect([
      relation(1),
      {
        tag: 'update',
        relationId: 1,
        oldKind: 'key',
        oldTuple: [null, 'long title'],
        newTuple: ['b', UNCHANGED_TOAST],
      },
    ]);
    expect(c.result()['public.docs'].keys).toEqual([['long title']]);
  });

  it('flags the table when a key value was not sent', () => {
    const c = collect([relation(1), { tag: 'update', relationId: 1, newTuple: ['b', UNCHANGED_TOAST] }]);
    expect(c.result()['public.docs']).toMatchObject({ keys: [], rangeCheck: 'a changed key value was not sent' });
  });

  it('follows a relation re-sent with another layout (after ALTER TABLE) within one read', () => {
    const c = collect([
      relation(1),
      { tag: 'insert', relationId: 1, newTuple: ['b', 'first'] },
      relation(1, ['extra', 'title', 'body']),
      { tag: 'insert', relationId: 1, newTuple: ['x', 'second', 'b'] },
    ]);
    expect(c.result()['public.docs'].keys).toEqual([['first'], ['second']]);
  });

  it('refuses a change before its relation message', () => {
    expect(() => collect([{ tag: 'insert', relationId: 1, newTuple: ['b', 't'] }])).toThrow(/before its relation/);
  });

  it('flags, never skips, changes of a relation unknown at the read (a partition created or dropped since)', () => {
    const change: PgOutputMessage = { tag: 'insert', relationId: 3, newTuple: ['b', 't'] };
    const plain = collect([relation(3), change]).result();
    expect(plain['public.docs']).toMatchObject({ keys: [], rangeCheck: expect.stringMatching(/not in the catalog/) });
    const events = { schema: 'public', table: 'events' };
    const partitioned = collect([relation(3), change, { tag: 'truncate', options: 0, relationIds: [3] }], {
      ...published,
      partitioned: [events],
    });
    expect(Object.keys(partitioned.result())).toEqual(['public.events']);
    expect(partitioned.result()['public.events'].rangeCheck).toMatch(/not in the catalog/);
    expect([...partitioned.truncated]).toEqual(['public.events']);
  });
});
