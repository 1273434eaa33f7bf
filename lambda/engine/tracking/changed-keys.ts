/**
 * Turns decoded `pgoutput` messages into the set of changed keys per table: the new key of an insert, the old and
 * the new key of an update, the old key of a delete; a partition's changes count for its partitioned table.
 * Relation messages map relation ids to tables; they are resent at the start of every read, so the map lives for
 * one read only.
 */
import { formatTableName, type TableName } from '../../../contract';
import { UNCHANGED_TOAST, type PgOutputMessage, type RelationColumn, type TupleValue } from './pgoutput-decoder';
import type { TableChanges } from './types';

interface Collected {
  readonly table: TableName;
  readonly keyColumns: string[];
  readonly keys: Map<string, string[]>;
  rangeCheck?: string;
}

interface Relation {
  readonly name: TableName;
  readonly columns: readonly RelationColumn[];
  /** Set on the relation's first change. */
  resolved?: {
    readonly table: Collected;
    /** Positions of the key columns (in key order) among the relation's columns; undefined unless all are there. */
    readonly keyIndexes?: number[];
  };
}

/** The published tables as of the read: which selected table a relation (a partition: its root) belongs to. */
export interface PublishedTables {
  /** The selected table a published relation (by oid) belongs to; undefined if unknown at the read's start. */
  tableOf(relationId: number): TableName | undefined;
  /** A selected table's key columns (in key order); an empty list when it has none. */
  keyColumnsOf(table: TableName): string[];
}

export class ChangedKeys {
  private readonly relations = new Map<number, Relation>();
  private readonly tables = new Map<string, Collected>();
  readonly truncated = new Set<string>();
  changes = 0;

  constructor(
    private readonly published: PublishedTables,
    private readonly maxKeysPerTable: number,
  ) {}

  add(message: PgOutputMessage): void {
    switch (message.tag) {
      case 'relation':
        this.relations.set(message.relationId, {
          name: { schema: message.schema, table: message.table },
          columns: message.columns,
        });
        return;
      case 'insert':
        this.changes++;
        return this.key(message.relationId, message.newTuple);
      case 'update':
        this.changes++;
        if (message.oldTuple) this.key(message.relationId, message.oldTuple);
        return this.key(message.relationId, message.newTuple, message.oldTuple);
      case 'delete':
        this.changes++;
        return this.key(message.relationId, message.oldTuple);
      case 'truncate':
        for (const id of message.relationIds) {
          const { table } = this.resolve(id);
          this.truncated.add(formatTableName(table.table));
          this.needsRangeCheck(table, 'truncated');
        }
        return;
      default:
        return; // begin, commit, origin, type: no keys
    }
  }

  result(): Record<string, TableChanges> {
    const out: Record<string, TableChanges> = {};
    for (const [display, t] of this.tables) {
      out[display] = {
        table: t.table,
        keyColumns: t.keyColumns,
        keys: [...t.keys.values()],
        ...(t.rangeCheck ? { rangeCheck: t.rangeCheck } : {}),
      };
    }
    return out;
  }

  private resolve(relationId: number): NonNullable<Relation['resolved']> {
    const r = this.relations.get(relationId);
    if (!r) throw new Error(`pgoutput: change for relation ${relationId} before its relation message`);
    if (r.resolved) return r.resolved;
    const name = this.published.tableOf(relationId);
    if (!name) {
      // Created or published after the read started (a new partition): its table is unknown, so fail; read again.
      throw new Error(`changes for ${formatTableName(r.name)}, not a published table when the read started`);
    }
    const display = formatTableName(name);
    let table = this.tables.get(display);
    if (!table) {
      table = { table: name, keyColumns: this.published.keyColumnsOf(name), keys: new Map() };
      this.tables.set(display, table);
    }
    const indexes = table.keyColumns.map((k) => r.columns.findIndex((c) => c.name === k));
    const complete = indexes.length > 0 && indexes.every((i) => i >= 0);
    r.resolved = { table, ...(complete ? { keyIndexes: indexes } : {}) };
    return r.resolved;
  }

  /** Records the key of a tuple. An unchanged TOASTed key column of a new tuple takes the old tuple's value. */
  private key(relationId: number, tuple: readonly TupleValue[], old?: readonly TupleValue[]): void {
    const { table: t, keyIndexes } = this.resolve(relationId);
    if (t.rangeCheck) return;
    if (!keyIndexes) return this.needsRangeCheck(t, 'changed rows cannot be matched by key (no usable key)');
    const key: string[] = [];
    for (const i of keyIndexes) {
      const v = tuple[i] === UNCHANGED_TOAST && old ? old[i] : tuple[i];
      if (typeof v !== 'string') return this.needsRangeCheck(t, 'a changed key value was not sent');
      key.push(v);
    }
    t.keys.set(JSON.stringify(key), key);
    if (t.keys.size > this.maxKeysPerTable) this.needsRangeCheck(t, `more than ${this.maxKeysPerTable} changed keys`);
  }

  private needsRangeCheck(t: Collected, reason: string): void {
    t.rangeCheck ??= reason;
    t.keys.clear();
  }
}
