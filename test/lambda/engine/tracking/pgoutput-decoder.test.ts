/**
 * The pgoutput decoder on real bytes: a real slot on PostgreSQL 16 decodes inserts, updates (plain, key-changing,
 * REPLICA IDENTITY FULL, unchanged TOAST), deletes, truncates, enum types and replication origins.
 */
import { Client } from 'pg';
import { decodePgOutput, UNCHANGED_TOAST, type PgOutputMessage } from '../../../../lambda/engine/tracking';
import { sql } from '../../../support/databases';
import type { Pair } from '../validation/helpers';
import { openTrackingPair } from './helpers';

type Of<T extends PgOutputMessage['tag']> = Extract<PgOutputMessage, { tag: T }>;

interface Row {
  lsn: string;
  xid: string;
  data: Buffer;
  message: PgOutputMessage;
}

describe('pgoutput decoder on real slot bytes', () => {
  let p: Pair;
  let rows: Row[];
  let origin: string;
  let oids: { t: number; full: number; mood: number };
  const of = <T extends PgOutputMessage['tag']>(tag: T): Of<T>[] =>
    rows.map((r) => r.message).filter((m): m is Of<T> => m.tag === tag);

  beforeAll(async () => {
    p = await openTrackingPair('trk_decoder');
    origin = `zdm_test_origin_${p.name}`;
    await sql(
      p.sourceUrl,
      `CREATE TYPE public.mood AS ENUM ('ok', 'sad');
       CREATE TABLE public.t (note text, b text NOT NULL, a int NOT NULL, m public.mood, big text, PRIMARY KEY (a, b));
       ALTER TABLE public.t ALTER COLUMN big SET STORAGE EXTERNAL;
       CREATE TABLE public.full_t (id int PRIMARY KEY, v text);
       ALTER TABLE public.full_t REPLICA IDENTITY FULL;
       CREATE PUBLICATION dec_pub FOR TABLE public.t, public.full_t`,
    );
    await sql(p.sourceUrl, `SELECT pg_create_logical_replication_slot('dec_slot', 'pgoutput')`);
    for (const statement of [
      `INSERT INTO public.t VALUES ('n1', 'x', 1, 'ok', repeat('z', 10000))`,
      `UPDATE public.t SET note = 'n2' WHERE a = 1`,
      `UPDATE public.t SET a = 2 WHERE a = 1`,
      `DELETE FROM public.t`,
      `INSERT INTO public.t (b, a) VALUES ('y', 3)`,
      `INSERT INTO public.full_t VALUES (1, 'a')`,
      `UPDATE public.full_t SET v = 'b'`,
      `DELETE FROM public.full_t`,
      `TRUNCATE public.t, public.full_t`,
      `TRUNCATE public.full_t RESTART IDENTITY`,
    ]) {
      await sql(p.sourceUrl, statement);
    }
    // A transaction applied under a replication origin (as a subscriber's apply worker does) carries an Origin message.
    const c = new Client(p.sourceUrl);
    await c.connect();
    try {
      await c.query(`SELECT pg_replication_origin_create($1)`, [origin]);
      await c.query(`SELECT pg_replication_origin_session_setup($1)`, [origin]);
      await c.query(`INSERT INTO public.full_t VALUES (9, 'o')`);
      await c.query(`SELECT pg_replication_origin_session_reset()`);
    } finally {
      await c.end();
    }
    const raw = await sql<Omit<Row, 'message'>>(
      p.sourceUrl,
      `SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_binary_changes(
         'dec_slot', NULL, NULL, 'proto_version', '1', 'publication_names', 'dec_pub')`,
    );
    rows = raw.map((r) => ({ ...r, message: decodePgOutput(r.data) }));
    const [o] = await sql<{ t: number; full: number; mood: number }>(
      p.sourceUrl,
      `SELECT 'public.t'::regclass::oid::int AS t, 'public.full_t'::regclass::oid::int AS full,
              'public.mood'::regtype::oid::int AS mood`,
    );
    oids = o;
  });

  afterAll(async () => {
    await sql(p.sourceUrl, `SELECT pg_drop_replication_slot('dec_slot')`);
    await sql(p.sourceUrl, `SELECT pg_replication_origin_drop($1)`, [origin]);
    await p.close();
  });

  it('frames every transaction with Begin and Commit whose LSNs and xid match the slot rows', () => {
    const begins = rows.filter((r) => r.message.tag === 'begin');
    const commits = rows.filter((r) => r.message.tag === 'commit');
    expect(begins).toHaveLength(11);
    expect(commits).toHaveLength(11);
    for (const [i, b] of begins.entries()) {
      const begin = b.message as Of<'begin'>;
      const commit = commits[i].message as Of<'commit'>;
      expect(String(begin.xid)).toBe(b.xid);
      expect(commit.endLsn).toBe(commits[i].lsn);
      expect(commit.commitLsn).toBe(begin.finalLsn);
      expect(commit.commitTime).toBe(begin.commitTime);
      expect(Math.abs(Date.parse(commit.commitTime) - Date.now())).toBeLessThan(10 * 60_000);
    }
  });

  it('decodes Relation messages: names, replica identity, key flags, type oids', () => {
    const t = of('relation').find((r) => r.table === 't')!;
    expect(t).toMatchObject({ relationId: oids.t, schema: 'public', replicaIdentity: 'd' });
    expect(t.columns.map((c) => [c.name, c.isKey, c.typeOid, c.typeModifier])).toEqual([
      ['note', false, 25, -1],
      ['b', true, 25, -1],
      ['a', true, 23, -1],
      ['m', false, oids.mood, -1],
      ['big', false, 25, -1],
    ]);
    const full = of('relation').find((r) => r.table === 'full_t')!;
    expect(full.replicaIdentity).toBe('f');
    expect(full.columns.every((c) => c.isKey)).toBe(true);
  });

  it('decodes the Type message of a user type', () => {
    expect(of('type')).toContainEqual({ tag: 'type', typeOid: oids.mood, schema: 'public', name: 'mood' });
  });

  it('decodes inserts, with NULLs', () => {
    const inserts = of('insert').filter((m) => m.relationId === oids.t);
    expect(inserts[0].newTuple).toEqual(['n1', 'x', '1', 'ok', 'z'.repeat(10000)]);
    expect(inserts[1].newTuple).toEqual([null, 'y', '3', null, null]);
  });

  it('decodes updates: unchanged TOAST, old key of a key change, whole old row under REPLICA IDENTITY FULL', () => {
    const [plain, keyChange, full] = of('update');
    expect(plain).toEqual({ tag: 'update', relationId: oids.t, newTuple: ['n2', 'x', '1', 'ok', UNCHANGED_TOAST] });
    expect(keyChange).toEqual({
      tag: 'update',
      relationId: oids.t,
      oldKind: 'key',
      oldTuple: [null, 'x', '1', null, null],
      newTuple: ['n2', 'x', '2', 'ok', UNCHANGED_TOAST],
    });
    expect(full).toEqual({
      tag: 'update',
      relationId: oids.full,
      oldKind: 'old',
      oldTuple: ['1', 'a'],
      newTuple: ['1', 'b'],
    });
  });

  it('decodes deletes by old key and by whole old row', () => {
    expect(of('delete')).toEqual([
      { tag: 'delete', relationId: oids.t, oldKind: 'key', oldTuple: [null, 'x', '2', null, null] },
      { tag: 'delete', relationId: oids.full, oldKind: 'old', oldTuple: ['1', 'b'] },
    ]);
  });

  it('decodes truncates with their relations and options', () => {
    const [both, restart] = of('truncate');
    expect([...both.relationIds].sort()).toEqual([oids.t, oids.full].sort());
    expect(both.options).toBe(0);
    expect(restart).toEqual({ tag: 'truncate', options: 2, relationIds: [oids.full] });
  });

  it('decodes the Origin message of a transaction applied under a replication origin', () => {
    const i = rows.findIndex((r) => r.message.tag === 'origin');
    expect(rows[i].message).toEqual({ tag: 'origin', commitLsn: '0/0', name: origin });
    expect(rows[i - 1].message.tag).toBe('begin');
  });

  it('refuses truncated, overlong and unknown messages instead of skipping a change', () => {
    const insert = rows.find((r) => r.message.tag === 'insert')!.data;
    expect(() => decodePgOutput(insert.subarray(0, insert.length - 1))).toThrow(/truncated/);
    expect(() => decodePgOutput(Buffer.concat([insert, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => decodePgOutput(Buffer.from('S\0\0\0\0', 'latin1'))).toThrow(/unsupported message type "S"/);
    const binary = Buffer.from(insert);
    binary[8] = 'b'.charCodeAt(0); // first column's kind: I, relid(4), N, ncols(2), kind
    expect(() => decodePgOutput(binary)).toThrow(/unsupported kind "b"/);
  });
});
