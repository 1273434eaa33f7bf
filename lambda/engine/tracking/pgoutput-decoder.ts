/**
 * Decoder for the messages of PostgreSQL's `pgoutput` logical decoding plugin, protocol version 1
 * (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html), as returned one per row in
 * the `data` column of `pg_logical_slot_peek_binary_changes`. Integers are big-endian; strings are NUL-terminated.
 */

/** A column sent as "unchanged TOASTed value" (`u`): its value is not in the message. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged toast');

/** One column of a tuple: its text form, SQL NULL, or not sent. */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

export interface RelationColumn {
  readonly name: string;
  /** Part of the replica identity (the key sent for deletes and key-changing updates). */
  readonly isKey: boolean;
  readonly typeOid: number;
  readonly typeModifier: number;
}

export type PgOutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: string; readonly commitTime: string; readonly xid: number }
  | {
      readonly tag: 'commit';
      readonly flags: number;
      readonly commitLsn: string;
      readonly endLsn: string;
      readonly commitTime: string;
    }
  | { readonly tag: 'origin'; readonly commitLsn: string; readonly name: string }
  | {
      readonly tag: 'relation';
      readonly relationId: number;
      readonly schema: string;
      readonly table: string;
      /** `d` default, `n` nothing, `f` full, `i` index. */
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: 'type'; readonly typeOid: number; readonly schema: string; readonly name: string }
  | { readonly tag: 'insert'; readonly relationId: number; readonly newTuple: readonly TupleValue[] }
  | {
      readonly tag: 'update';
      readonly relationId: number;
      /** `key`: the old replica identity (`K`, the key changed); `old`: the whole old row (`O`, REPLICA IDENTITY FULL). */
      readonly oldKind?: 'key' | 'old';
      readonly oldTuple?: readonly TupleValue[];
      readonly newTuple: readonly TupleValue[];
    }
  | {
      readonly tag: 'delete';
      readonly relationId: number;
      readonly oldKind: 'key' | 'old';
      readonly oldTuple: readonly TupleValue[];
    }
  | {
      readonly tag: 'truncate';
      /** Bit 1: CASCADE, bit 2: RESTART IDENTITY. */
      readonly options: number;
      readonly relationIds: readonly number[];
    };

/** Milliseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

class MessageReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new Error(`pgoutput message truncated: needs ${n} byte(s) at offset ${this.offset} of ${this.buf.length}`);
    }
  }
  byte(): number {
    this.need(1);
    return this.buf.readUInt8(this.offset++);
  }
  char(): string {
    return String.fromCharCode(this.byte());
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  lsn(): string {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
  }
  timestamp(): string {
    this.need(8);
    // Microseconds since 2000-01-01 fit a double exactly for centuries; no BigInt on this hot path.
    const us = this.buf.readInt32BE(this.offset) * 2 ** 32 + this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return new Date(Math.floor(us / 1000) + PG_EPOCH_MS).toISOString();
  }
  string(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new Error(`pgoutput message truncated: unterminated string at offset ${this.offset}`);
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }
  text(length: number): string {
    this.need(length);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
  tuple(): TupleValue[] {
    const n = this.int16();
    const values: TupleValue[] = [];
    for (let i = 0; i < n; i++) {
      const kind = this.char();
      if (kind === 'n') values.push(null);
      else if (kind === 'u') values.push(UNCHANGED_TOAST);
      else if (kind === 't') values.push(this.text(this.int32()));
      else
        throw new Error(`pgoutput tuple column ${i}: unsupported kind ${JSON.stringify(kind)} (binary not requested)`);
    }
    return values;
  }
  /** `K`/`O` (old tuple follows) or `N` (new tuple follows). */
  tupleMarker(allowed: string): string {
    const m = this.char();
    if (!allowed.includes(m)) throw new Error(`pgoutput: expected one of ${allowed} before a tuple, got ${m}`);
    return m;
  }
  end(tag: string): void {
    if (this.offset !== this.buf.length) {
      throw new Error(`pgoutput ${tag} message: ${this.buf.length - this.offset} unexpected trailing byte(s)`);
    }
  }
}

const oldKindOf = (marker: string): 'key' | 'old' => (marker === 'K' ? 'key' : 'old');

/** Decodes one message. Throws on a message type or layout it does not know, so no change is silently skipped. */
export function decodePgOutput(data: Buffer): PgOutputMessage {
  const r = new MessageReader(data);
  const tag = r.char();
  const message = ((): PgOutputMessage => {
    switch (tag) {
      case 'B':
        return { tag: 'begin', finalLsn: r.lsn(), commitTime: r.timestamp(), xid: r.uint32() };
      case 'C':
        return { tag: 'commit', flags: r.byte(), commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.timestamp() };
      case 'O':
        return { tag: 'origin', commitLsn: r.lsn(), name: r.string() };
      case 'R': {
        const relationId = r.uint32();
        const schema = r.string();
        const table = r.string();
        const replicaIdentity = r.char();
        const columns: RelationColumn[] = [];
        for (let i = r.int16(); i > 0; i--) {
          const flags = r.byte();
          columns.push({ isKey: (flags & 1) === 1, name: r.string(), typeOid: r.uint32(), typeModifier: r.int32() });
        }
        return { tag: 'relation', relationId, schema, table, replicaIdentity, columns };
      }
      case 'Y':
        return { tag: 'type', typeOid: r.uint32(), schema: r.string(), name: r.string() };
      case 'I': {
        const relationId = r.uint32();
        r.tupleMarker('N');
        return { tag: 'insert', relationId, newTuple: r.tuple() };
      }
      case 'U': {
        const relationId = r.uint32();
        const marker = r.tupleMarker('KON');
        if (marker === 'N') return { tag: 'update', relationId, newTuple: r.tuple() };
        const oldTuple = r.tuple();
        r.tupleMarker('N');
        return { tag: 'update', relationId, oldKind: oldKindOf(marker), oldTuple, newTuple: r.tuple() };
      }
      case 'D': {
        const relationId = r.uint32();
        const oldKind = oldKindOf(r.tupleMarker('KO'));
        return { tag: 'delete', relationId, oldKind, oldTuple: r.tuple() };
      }
      case 'T': {
        const count = r.int32();
        const options = r.byte();
        const relationIds: number[] = [];
        for (let i = 0; i < count; i++) relationIds.push(r.uint32());
        return { tag: 'truncate', options, relationIds };
      }
      default:
        throw new Error(`pgoutput: unsupported message type ${JSON.stringify(tag)} (protocol version 1 expected)`);
    }
  })();
  r.end(tag);
  return message;
}
