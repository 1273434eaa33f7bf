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

interface Resolved {
  /** The table the relation's changes count for; several (all flagged) when the relation is unknown. */
  readonly tables: Collected[];
  /** Positions of the key columns (in key order) among the relation's columns; undefined unless all are there. */
  readonly keyIndexes?: number[];
}

interface Relation {
  readonly name: TableName;
  readonly columns: readonly RelationColumn[];
  /** Set on the relation's first change. */
  resolved?: Resolved;
}

/** The published tables as of the read: which selected table a relation (a partition: its root) belongs to. */
export interface PublishedTables {
  /** The selected table a published relation (by oid) belongs to; undefined if unknown at the read's start. */
  tableOf(relationId: number): TableName | undefined;
  /** A selected table's key columns (in key order); an empty list when it has none. */
  keyColumnsOf(table: TableName): string[];
  /** The published partitioned tables. */
  readonly partitioned: readonly TableName[];
}

/** A partition created or dropped since: which table it belongs to is unknown, so its tables get range-checked. */
const UNKNOWN_RELATION =
  'changes in a relation not in the catalog when the read started (a partition created or dropped since?)';

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
          for (const t of this.resolve(id).tables) {
            this.truncated.add(formatTableName(t.table));
            this.needsRangeCheck(t, 'truncated');
          }
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

  private collected(name: TableName): Collected {
    const display = formatTableName(name);
    let table = this.tables.get(display);
    if (!table) {
      table = { table: name, keyColumns: this.published.keyColumnsOf(name), keys: new Map() };
      this.tables.set(display, table);
    }
    return table;
  }

  private resolve(relationId: number): Resolved {
    const r = this.relations.get(relationId);
    if (!r) throw new Error(`pgoutput: change for relation ${relationId} before its relation message`);
    if (r.resolved) return r.resolved;
    const name = this.published.tableOf(relationId);
    if (!name) {
      // Never skip it, never stall on it: flag the tables it may belong to (itself when no table is partitioned).
      const tables = (this.published.partitioned.length ? this.published.partitioned : [r.name]).map((n) =>
        this.collected(n),
      );
      for (const t of tables) this.needsRangeCheck(t, UNKNOWN_RELATION);
      r.resolved = { tables };
      return r.resolved;
    }
    const table = this.collected(name);
    const indexes = table.keyColumns.map((k) => r.columns.findIndex((c) => c.name === k));
    const complete = indexes.length > 0 && indexes.every((i) => i >= 0);
    r.resolved = { tables: [table], ...(complete ? { keyIndexes: indexes } : {}) };
    return r.resolved;
  }

  /** Records the key of a tuple. An unchanged TOASTed key column of a new tuple takes the old tuple's value. */
  private key(relationId: number, tuple: readonly TupleValue[], old?: readonly TupleValue[]): void {
    const { tables, keyIndexes } = this.resolve(relationId);
    const t = tables[0];
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
