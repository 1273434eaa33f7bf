/**
 * The shape of one preflight check (one rule per file under `checks/`, like cdk-nag rules) and what it reads.
 */
import type { Pool } from 'pg';
import type { Catalog } from '../catalog';
import type { SavedRoleSettings } from '../ports';
import type { PreflightFinding, PreflightOptions, Severity } from '../validation/types';
import type { TableSelection } from '../../../contract';

/** Everything `preflight()` accepts: the public options plus what the cutover's preflight step adds. */
export interface PreflightRunOptions extends PreflightOptions {
  /**
   * Replication slots (and WAL senders) the replication engine still needs on the source: 1 for a DMS task that is
   * not running yet, 0 once it runs (its slot and WAL sender exist already). @default 1
   */
  readonly replicationSlots?: number;
  /**
   * Logical replication slots the workflow's own change tracking still needs on EACH side (one on the source, one on
   * the target; read through SQL functions, so no WAL sender). @default 1
   */
  readonly trackingSlots?: number;
  /** Also check the target (logical decoding, free slots for change tracking). @default - source only */
  readonly target?: Pool;
  /** A reverse replication (the way back) will write on the source: its user's write privileges are checked. @default false */
  readonly reverseReplication?: boolean;
  /** Source roles the cutover will freeze: checked that they may be (see checks/application-roles.ts). */
  readonly applicationRoles?: readonly string[];
  /**
   * Other login roles that can write a selected table and that the operator accepts (not frozen): the
   * unfrozen-writers check does not name them.
   */
  readonly acknowledgedWriters?: readonly string[];
  /**
   * The roles this migration froze already (the state store's saved freeze record, when not restored): such a role
   * is NOLOGIN because of the freeze, not by design.
   */
  readonly frozenRoles?: readonly SavedRoleSettings[];
  /**
   * DMS `LobMaxSize` in KiB (limited LOB mode): a LOB-typed value larger than this fails the DMS task.
   * @default 32 (the construct's `lobMaxSize` default)
   */
  readonly lobMaxSizeKiB?: number;
  /**
   * The replication engine's LOB limit is not known here (native logical replication carries any value, as in the
   * rehearsal): values over `lobMaxSizeKiB` are warnings (DMS, as deployed by default, would fail on them), not errors.
   * @default false
   */
  readonly lobLimitUnknown?: boolean;
  /** DMS runs in full LOB mode (no size limit): the LOB size check is skipped. @default false */
  readonly fullLobMode?: boolean;
  /** Tables larger than this are not scanned for LOB sizes (reported as unknown). @default 2 GiB */
  readonly lobScanMaxTableBytes?: number;
  /** Statement timeout of each table's LOB size scan (over it: reported as unknown). @default 30000 */
  readonly lobScanTimeoutMs?: number;
}

export type PreflightSide = 'source' | 'target';

/** Server settings and capacity every server-level check reads (one query per side). */
export interface ServerSettings {
  readonly version: string;
  readonly versionNum: number;
  readonly walLevel: string;
  /** `rds.logical_replication` (RDS / Aurora), null elsewhere. */
  readonly rdsLogicalReplication: string | null;
  readonly maxReplicationSlots: number;
  readonly usedReplicationSlots: number;
  readonly maxWalSenders: number;
  readonly usedWalSenders: number;
  /** As `SHOW` prints it (`60s`). */
  readonly walSenderTimeout: string;
  readonly walSenderTimeoutMs: number;
  /** `max_slot_wal_keep_size` in MB, −1 when unlimited (or the setting does not exist). */
  readonly maxSlotWalKeepSizeMb: number;
}

/** What a check runs against. Reads are memoized: the checks of one run share one settings query and one catalog. */
export interface PreflightContext {
  readonly side: PreflightSide;
  readonly db: Pool;
  readonly selection: TableSelection;
  readonly options: PreflightRunOptions;
  settings(): Promise<ServerSettings>;
  /** The selected tables (source side). */
  catalog(): Promise<Catalog>;
}

/** One preflight rule. */
export interface PreflightCheck {
  /** Stable machine-readable id, the `code` of its findings (and its file name). */
  readonly code: string;
  readonly side: PreflightSide;
  /**
   * `server`: settings, sessions and roles; `tables`: reads the selected tables' catalog (PostgreSQL 12 or later: these
   * checks are skipped on an older server, which the server-version check reports).
   */
  readonly scope: 'server' | 'tables';
  /** The severity of its findings (a finding may be milder, e.g. an accepted opt-in). */
  readonly severity: Severity;
  /** What it checks and why the migration needs it. */
  readonly description: string;
  /** What to do about a finding. */
  readonly fix: string;
  run(ctx: PreflightContext): Promise<PreflightFinding[]>;
}
