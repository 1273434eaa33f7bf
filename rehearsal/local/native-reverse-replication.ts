/**
 * The way back in the rehearsal and the tests: native logical replication target → source standing in for the
 * reverse DMS task. The publication is created on the target before the engine creates the slot (pgoutput reads the
 * publication as of each change, so it must exist before the slot's start); `start` creates the subscription on the
 * source on that slot, without a copy (`copy_data = false`) and without what the target itself received by
 * replication (`origin = none` on PostgreSQL 16+: no echo of forward changes; older sources go without, see `start`).
 */
import {
  type ConnectionSpec,
  NativeLogicalReplication,
  publicationMembers,
  quoteIdent,
  quoteLiteral,
  type ReplicationStatus,
  type ReverseReplicationPort,
} from '../../lambda/engine';
import { MARKER_TABLE, ZDM_SCHEMA, selectTables, type TableName, type TableSelection } from '../../contract';
import { listTables, toConnInfo, withClient } from './native-replication-setup';

/** The first major whose subscriptions take `origin = none`. */
export const ORIGIN_FILTER_MAJOR = 16;
/** The first major whose subscriptions take `disable_on_error` (and count apply errors). */
const DISABLE_ON_ERROR_MAJOR = 15;

export interface NativeReverseReplicationOptions {
  /** The old source: where the subscription lives and the target's changes are applied. */
  readonly source: ConnectionSpec;
  /** The target (Aurora's stand-in): the publisher. */
  readonly target: ConnectionSpec;
  readonly tables: TableSelection;
  /** Name of the publication, the subscription and the slot. */
  readonly name: string;
  /** How the source server reaches the target. @default - built from `target` */
  readonly targetConnInfo?: string;
  /** Tables published besides the selection and the marker table (e.g. the rehearsal's probe table). */
  readonly extraTables?: readonly TableName[];
  /**
   * The target as the subscription logs in to it (its role and password). `prepare` — before anything is frozen —
   * logs in with it, so a login the way back would fail on is found while the cutover can still stop.
   * @default - not checked
   */
  readonly targetLogin?: ConnectionSpec;
}

export class NativeReverseReplication implements ReverseReplicationPort {
  readonly description: string;
  readonly slotName: string;
  readonly slotPlugin = 'pgoutput';
  private readonly port: NativeLogicalReplication;
  /** This process stopped it (the fallback, the end of the window): a stopped subscription is then no failure. */
  private stopRequested = false;

  constructor(private readonly options: NativeReverseReplicationOptions) {
    this.slotName = options.name;
    this.description = `native reverse replication ${JSON.stringify(options.name)} (target → source)`;
    // The same port, the other way round: the target publishes, the source subscribes.
    this.port = new NativeLogicalReplication({
      source: options.target,
      target: options.source,
      subscription: options.name,
    });
  }

  async prepare(): Promise<void> {
    const login = this.options.targetLogin;
    if (login) {
      await withClient(login, (c) => c.query('SELECT 1')).catch((error: Error) => {
        throw new Error(
          `the way back could not start: its subscription cannot log in to the target (${error.message.slice(0, 200)})`,
        );
      });
    }
    await withClient(this.options.target, async (c) => {
      const exists = await c.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [this.options.name]);
      if (exists.rows.length > 0) return;
      const tables = selectTables(this.options.tables, await listTables(c)).filter(
        (t) => !(t.schema === ZDM_SCHEMA && t.table === MARKER_TABLE),
      );
      const extra = (this.options.extraTables ?? []).filter(
        (t) => !tables.some((x) => x.schema === t.schema && x.table === t.table),
      );
      const { list, withClause } = await publicationMembers(
        c,
        [...tables, ...extra, { schema: ZDM_SCHEMA, table: MARKER_TABLE }],
        { viaPartitionRoot: true },
      );
      await c.query(`CREATE PUBLICATION ${quoteIdent(this.options.name)} FOR TABLE ${list}${withClause}`);
    });
  }

  async start(): Promise<void> {
    await withClient(this.options.source, async (c) => {
      const { rows } = await c.query(`SELECT subenabled FROM pg_subscription WHERE subname = $1`, [this.options.name]);
      if (rows.length > 0) return;
      const name = quoteIdent(this.options.name);
      // `origin` is PostgreSQL 16+. Older subscribers go without: the engine starts the way back only once forward
      // replication has stopped, from a position past its last write, so nothing it applied can flow back.
      const [{ v }] = (await c.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`)).rows;
      const origin = v >= ORIGIN_FILTER_MAJOR * 10_000 ? ', origin = none' : '';
      // As the reverse DMS task stops on an apply conflict (STOP_TASK): PostgreSQL 15+ disables the subscription at
      // its first apply error instead of retrying it forever; `status` then says failed, for good.
      const stopOnError = v >= DISABLE_ON_ERROR_MAJOR * 10_000 ? ', disable_on_error = true' : '';
      await c.query(
        `CREATE SUBSCRIPTION ${name} CONNECTION ${quoteLiteral(this.options.targetConnInfo ?? toConnInfo(this.options.target))}
           PUBLICATION ${name}
           WITH (create_slot = false, slot_name = ${quoteLiteral(this.options.name)}, copy_data = false${origin}${stopOnError}, enabled = true)`,
      );
    });
  }

  /**
   * No initial copy: ready as soon as the subscription exists. Stopped by an apply error (PostgreSQL 15+ disables it
   * at the first one), or without an apply worker after one, is the way back broken (typically a write on the old
   * source that conflicts with one on the target), not a start or a stop: `failed`.
   */
  async status(): Promise<ReplicationStatus> {
    const { status, errors } = await this.port.statusWithErrors();
    if (status.state === 'unknown') return status;
    const ready: ReplicationStatus = { ...status, fullLoadComplete: true };
    const stoppedByError = status.state === 'stopped' && !this.stopRequested;
    if (status.state !== 'starting' && !stoppedByError) return ready;
    if (!errors || errors.apply === 0) return ready;
    return { ...ready, state: 'failed', detail: `the way back is broken: its apply worker stopped (${status.detail})` };
  }

  stop(): Promise<void> {
    this.stopRequested = true;
    return this.port.stop();
  }

  close(): Promise<void> {
    return this.port.close();
  }

  /** Drops the subscription (its slot stays: the engine drops it) and the publication. */
  async teardown(): Promise<void> {
    await this.close();
    await withClient(this.options.source, async (c) => {
      const { rows } = await c.query(`SELECT 1 FROM pg_subscription WHERE subname = $1`, [this.options.name]);
      if (rows.length === 0) return;
      const name = quoteIdent(this.options.name);
      await c.query(`ALTER SUBSCRIPTION ${name} DISABLE`);
      await c.query(`ALTER SUBSCRIPTION ${name} SET (slot_name = NONE)`);
      await c.query(`DROP SUBSCRIPTION ${name}`);
    });
    await withClient(this.options.target, async (c) => {
      await c.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(this.options.name)}`);
      await c.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
        [this.options.name],
      );
    });
  }
}
