/**
 * The rehearsal's command line: scenarios, modes, every option with its default and bounds (`USAGE`), parsed and
 * checked into `RehearsalOptions` (each bad value named, nothing started).
 */
import { resolve } from 'node:path';
import {
  CUTOVER_INPUT_LIMITS,
  parseTableRule,
  reservedRoleName,
  ZDM_SCHEMA,
  type TableRule,
  type TableSelection,
} from '../contract';
import { redactUrl } from '../lambda/engine';
import { databaseUrl, parseCommandLine, sameDatabase, showValue, UsageError } from '../cli/command-line';

export const SCENARIOS = [
  'happy',
  'lag-timeout',
  'fail-during-freeze',
  'resume',
  'read-first',
  'fallback',
  'fallback-rollback',
  'way-back-broken',
] as const;
/** The scenarios with the way back: a cutover, the application on the target, then the fallback execution. */
export const WAY_BACK_SCENARIOS: readonly Scenario[] = ['fallback', 'fallback-rollback', 'way-back-broken'];
export type Scenario = (typeof SCENARIOS)[number];
export const MODES = ['dry-run', 'execute'] as const;
export type RehearsalMode = (typeof MODES)[number];

export interface RehearsalOptions {
  readonly scenario: Scenario;
  readonly mode: RehearsalMode;
  /**
   * The demo schema (a small shop, loaded with `rows` rows) and its application load: the default with embedded
   * servers, `--demo` with `--source/--target`. Otherwise the rehearsal migrates the user's own tables.
   */
  readonly demo: boolean;
  /** Rows loaded into the demo schema before replication starts (split across tables). */
  readonly rows: number;
  /** The user's tables to rehearse (`--include/--exclude`; every user table by default). Not with the demo. */
  readonly selection?: TableSelection;
  /** Target write rate of the rehearsal's writer (the demo load or the probe), writes per second. */
  readonly rate: number;
  /** Concurrent connections of that writer. */
  readonly concurrency: number;
  /**
   * Reads per second of the application's read loop (its own connections, following the read endpoint: the read
   * switch in read-first, the write endpoint otherwise); 0: no reads.
   */
  readonly readRate: number;
  /** read-first: seconds the reads run on the target between the read switch and the write cutover. */
  readonly readObservationSeconds: number;
  /**
   * fallback scenarios: seconds the application writes on the target between the cutover and the fallback (the
   * writes that must flow back to the source).
   */
  readonly targetSeconds: number;
  /** Seconds of load (after the initial copy) before the cutover starts. */
  readonly warmupSeconds: number;
  /** Seconds the load keeps running after the cutover ends (fallback scenarios: after the fallback ends). */
  readonly afterSeconds: number;
  /** Path of the JSON report; the HTML report is written next to it. */
  readonly reportPath: string;
  /** Existing servers to rehearse against (both or neither); embedded servers are started otherwise. */
  readonly sourceUrl?: string;
  readonly targetUrl?: string;
  /**
   * The application login role the freeze acts on (and the `--load` command runs as). Embedded servers:
   * `app_writer`. `--source/--target`: a role the rehearsal creates (`zdm_rh_app_<database>`) when `--load` or
   * `--demo` needs one, else none (the probe role alone is frozen).
   */
  readonly appRole?: string;
  /** Freeze an `--app-role` that the rehearsal did not create (its password is never changed). */
  readonly freezeExistingRole: boolean;
  /** The user's own write load: a shell command run with PG* variables of the source as the application role. */
  readonly load?: string;
  readonly migrationId: string;
  /** Lag threshold of the wait-for-sync loop (seconds). */
  readonly lagThresholdSeconds: number;
  readonly consecutiveChecks: number;
  /** Wait-for-sync timeout (seconds); the lag-timeout scenario uses a short one. */
  readonly syncTimeoutSeconds: number;
  readonly finalSyncTimeoutSeconds: number;
  /** How long the initial copy may take before the rehearsal gives up (seconds). */
  readonly copyTimeoutSeconds: number;
  /** Every Wait state of the state machine is shortened to this (local poll interval). */
  readonly pollMs: number;
  /**
   * Leave the publication / subscription / slot, the replication role and the copied target data in place at the
   * end (external servers only); the summary names each.
   */
  readonly keepReplication: boolean;
  /** Leave the source frozen at the end, as a real cutover does (external servers only). */
  readonly keepFrozen: boolean;
  /**
   * The cutover arms the way back (reverse replication target → source, started after the switch), as the
   * construct does by default (`reverseReplication`). Always in the fallback scenarios; the other execute-mode
   * scenarios but read-first arm it unless `--no-way-back`. A dry run arms nothing.
   */
  readonly wayBack: boolean;
  /** PostgreSQL major of the embedded source / target (12 to 18). @default - `ZDM_PG_MAJOR`, else 16 */
  readonly sourceVersion?: number;
  readonly targetVersion?: number;
  readonly quiet: boolean;
}

export const DEFAULTS = {
  scenario: 'happy' as Scenario,
  mode: 'execute' as RehearsalMode,
  rows: 200_000,
  rate: 300,
  concurrency: 8,
  readRate: 50,
  readObservationSeconds: 2,
  targetSeconds: 3,
  warmupSeconds: 2,
  afterSeconds: 1.5,
  reportPath: 'rehearsal-report.json',
  appRole: 'app_writer',
  lagThresholdSeconds: 1,
  copyTimeoutSeconds: 600,
  consecutiveChecks: 3,
  syncTimeoutSeconds: 120,
  lagTimeoutSyncTimeoutSeconds: 3,
  finalSyncTimeoutSeconds: 30,
  pollMs: 50,
};

export const USAGE = `Usage: npm run rehearse -- [options]

Runs a complete zero-downtime cutover on this machine: two PostgreSQL servers (16, or --source-version and
--target-version), a demo schema, native logical replication, an application write load, and the real cutover
state machine.
Proves that no acknowledged write is lost and measures the write freeze.

With --source/--target it rehearses YOUR database instead: the tables you select, with the data that is
there. The target schema must exist (checked first: every difference is listed and nothing is changed) and
the selected target tables must be empty. A probe writer (its own table zdm_cutover.rehearsal_probe and its
own role) proves that acknowledged writes survive and measures the freeze; --load runs your own load.
At the end the servers are left as they were: the source accepts writes again, and what the rehearsal
created (roles, replication, probe, markers, the copy on the target) is removed, or named in the summary.

Options:
  --scenario <name>      happy | lag-timeout | fail-during-freeze | resume | read-first | fallback |
                         fallback-rollback | way-back-broken                        (default happy)
                         read-first: an execution with mode switch-reads moves the application's reads to the
                         target while the writes stay on the source; after --observe-reads seconds the cutover
                         (--mode) moves the writes
                         fallback: the cutover (with the way back: reverse replication target → source), the
                         application writes on the target for --on-target seconds, then the fallback execution
                         moves it back to the source, where it writes for --after seconds; every acknowledged
                         write must be on the source at the end
                         fallback-rollback: as fallback, but a failure inside the fallback's freeze: it rolls
                         back, the application stays on the target, the reverse replication keeps running
                         way-back-broken: as fallback, but another session writes a row on the old source
                         while the application is on the target: the watch names it at once (table, key,
                         writer), the fallback refuses in its preflight and nothing moves
                         (the three need --mode execute)
  --mode <mode>          dry-run | execute                                          (default execute)
  --rows <n>             rows in the demo schema                                   (default 200000)
  --rate <n>             writes per second of the demo load / the probe            (default 300)
  --concurrency <n>      connections of the demo load / the probe                  (default 8)
  --read-rate <n>        reads per second of the application (2 connections of its own; each looks up the
                         latest acknowledged write; 0: no reads)                   (default 50)
  --observe-reads <s>    read-first: seconds of reads on the target before the write cutover (default 2)
  --on-target <s>        fallback scenarios: seconds the application writes on the target before the
                         fallback                                                  (default 3)
  --warmup <seconds>     load before the cutover starts                            (default 2)
  --after <seconds>      load kept running after the cutover (fallback: after the fallback) (default 1.5)
  --report <path>        JSON report; the HTML report goes next to it  (default ./rehearsal-report.json)
  --source <url>         rehearse against this existing source database (needs --target; a superuser)
  --target <url>         ... and this existing target database (its schema must exist)
  --include <schema[.table]>  --source/--target: tables to rehearse, repeatable; % is a wildcard
                         (default: every user table)
  --exclude <schema[.table]>  tables to leave out, repeatable
  --load "<command>"     your own write load, e.g. "pgbench -n -c 4 -T 600 -f my.sql"; run by the shell with
                         PGHOST, PGPORT, PGDATABASE, PGUSER (the application role) and, for a role the
                         rehearsal created, PGPASSWORD of the source; stopped after the cutover
  --app-role <name>      application login role the freeze acts on and --load runs as
                         (embedded: app_writer; --source/--target: one the rehearsal creates)
  --freeze-existing-role  allow an --app-role that the rehearsal did not create: its LOGIN and CONNECTION LIMIT
                         are frozen and restored (its password is never changed; --load then authenticates
                         as your environment does: PGPASSWORD, ~/.pgpass)
  --demo                 with --source/--target: create the demo schema there (removed at the end)
  --migration-id <id>    cutover migrationId                           (default rehearsal-<time>)
  --lag-threshold <s>    wait-for-sync lag threshold in seconds                    (default 1)
  --sync-timeout <s>     wait-for-sync timeout in seconds         (default 120; lag-timeout: 3)
  --copy-timeout <s>     give up when the initial copy takes longer                (default 600)
  --poll-ms <ms>         local poll interval for Wait states                        (default 50)
  --keep-replication     leave publication, subscription, slot, replication role and the copied target data
                         in place (--source/--target only)
  --keep-frozen          leave the source frozen at the end, as a real cutover does (--source/--target only)
  --no-way-back          the cutover does not arm the way back (the construct's reverseReplication: false);
                         by default it does, as the construct does (not with read-first or --mode dry-run)
  --source-version <n>   PostgreSQL major of the embedded source: 12 to 18 (default ZDM_PG_MAJOR, else 16)
  --target-version <n>   ... and of the embedded target: 13 to 17 are Aurora's (default ZDM_PG_MAJOR, else 16)
  --quiet                only the summary
  -h, --help             this text

Exit codes: 0 the outcome matched the scenario with no lost write; 1 it did not; 2 bad options or refused
(nothing was changed); 130 / 143 interrupted (SIGINT / SIGTERM) — the freeze is ended and what the rehearsal
created is removed first, and the summary says what state each server is in.`;

export type ParsedCommand = { help: true } | { help: false; options: RehearsalOptions };

/** Parses `npm run rehearse` arguments. Throws `UsageError` naming the bad value. */
export function parseRehearsalArgs(argv: readonly string[], now: Date = new Date()): ParsedCommand {
  const v = parseCommandLine(
    argv,
    {
      scenario: { type: 'string' },
      mode: { type: 'string' },
      rows: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      'read-rate': { type: 'string' },
      'observe-reads': { type: 'string' },
      'on-target': { type: 'string' },
      warmup: { type: 'string' },
      after: { type: 'string' },
      report: { type: 'string' },
      source: { type: 'string' },
      target: { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      load: { type: 'string' },
      'app-role': { type: 'string' },
      'freeze-existing-role': { type: 'boolean' },
      demo: { type: 'boolean' },
      'migration-id': { type: 'string' },
      'lag-threshold': { type: 'string' },
      'sync-timeout': { type: 'string' },
      'copy-timeout': { type: 'string' },
      'poll-ms': { type: 'string' },
      'keep-replication': { type: 'boolean' },
      'keep-frozen': { type: 'boolean' },
      'no-way-back': { type: 'boolean' },
      'source-version': { type: 'string' },
      'target-version': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  ).values as Record<string, string | undefined> & {
    include?: string[];
    exclude?: string[];
    'freeze-existing-role'?: boolean;
    demo?: boolean;
    'keep-replication'?: boolean;
    'keep-frozen'?: boolean;
    'no-way-back'?: boolean;
    quiet?: boolean;
    help?: boolean;
  };
  if (v.help) return { help: true };
  return {
    help: false,
    options: resolveRehearsalOptions(
      {
        scenario: v.scenario,
        mode: v.mode,
        demo: v.demo,
        rows: v.rows,
        include: v.include,
        exclude: v.exclude,
        rate: v.rate,
        concurrency: v.concurrency,
        readRate: v['read-rate'],
        readObservationSeconds: v['observe-reads'],
        targetSeconds: v['on-target'],
        warmupSeconds: v.warmup,
        afterSeconds: v.after,
        reportPath: v.report,
        sourceUrl: v.source,
        targetUrl: v.target,
        load: v.load,
        appRole: v['app-role'],
        freezeExistingRole: v['freeze-existing-role'],
        migrationId: v['migration-id'],
        lagThresholdSeconds: v['lag-threshold'],
        syncTimeoutSeconds: v['sync-timeout'],
        copyTimeoutSeconds: v['copy-timeout'],
        pollMs: v['poll-ms'],
        keepReplication: v['keep-replication'],
        keepFrozen: v['keep-frozen'],
        ...(v['no-way-back'] ? { wayBack: false } : {}),
        sourceVersion: v['source-version'],
        targetVersion: v['target-version'],
        quiet: v.quiet,
      },
      now,
    ),
  };
}

/** Loose input (strings from the command line, or numbers from tests) → validated options. */
export type RehearsalOptionsInput = {
  [K in Exclude<keyof RehearsalOptions, 'selection'>]?: RehearsalOptions[K] | string;
} & {
  /** `--include` / `--exclude` texts (`schema`, `schema.table`, quoted names; `%` wildcards). */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
};

type Resolved<K extends keyof RehearsalOptions> = Pick<RehearsalOptions, K>;

/** `--scenario` and `--mode`, and the scenarios that need an executed cutover. */
function resolveScenario(input: RehearsalOptionsInput): Resolved<'scenario' | 'mode' | 'wayBack'> {
  const scenario = oneOf('--scenario', input.scenario, SCENARIOS, DEFAULTS.scenario);
  const mode = oneOf('--mode', input.mode, MODES, DEFAULTS.mode);
  if (scenario === 'resume' && mode === 'dry-run') {
    throw new UsageError(
      '--scenario resume needs --mode execute (every dry-run execution keeps its own state, so there is nothing to resume), got --mode dry-run',
    );
  }
  if (WAY_BACK_SCENARIOS.includes(scenario) && mode === 'dry-run') {
    throw new UsageError(
      `--scenario ${scenario} needs --mode execute (a dry-run cutover switches nothing and arms no way back, so there is nothing to fall back from), got --mode dry-run`,
    );
  }
  const wanted = bool('--no-way-back', input.wayBack === undefined ? true : input.wayBack);
  if (WAY_BACK_SCENARIOS.includes(scenario)) {
    if (!wanted) throw new UsageError(`--scenario ${scenario} rehearses the way back: --no-way-back contradicts it`);
    return { scenario, mode, wayBack: true };
  }
  return { scenario, mode, wayBack: wanted && mode === 'execute' && scenario !== 'read-first' };
}

/** The demo data and the application's load: its size, writes, reads, and how long each period lasts. */
function resolveLoad(
  input: RehearsalOptionsInput,
  scenario: Scenario,
): Resolved<
  | 'rows'
  | 'rate'
  | 'concurrency'
  | 'readRate'
  | 'readObservationSeconds'
  | 'targetSeconds'
  | 'warmupSeconds'
  | 'afterSeconds'
> {
  const rows = num('--rows', input.rows, DEFAULTS.rows, { min: 100, max: 100_000_000, integer: true });
  const rate = num('--rate', input.rate, DEFAULTS.rate, { min: 1, max: 50_000 });
  const concurrency = num('--concurrency', input.concurrency, DEFAULTS.concurrency, {
    min: 1,
    max: 100,
    integer: true,
  });
  const readRate = num('--read-rate', input.readRate, DEFAULTS.readRate, { min: 0, max: 10_000 });
  if (scenario === 'read-first' && readRate === 0) {
    throw new UsageError('--scenario read-first shows where the reads go: it needs --read-rate above 0, got 0');
  }
  if (scenario !== 'read-first' && input.readObservationSeconds !== undefined) {
    throw new UsageError(
      `--observe-reads applies to --scenario read-first (reads on the target before the write cutover), got --scenario ${scenario}`,
    );
  }
  const readObservationSeconds = num('--observe-reads', input.readObservationSeconds, DEFAULTS.readObservationSeconds, {
    min: 0,
    max: 3600,
  });
  if (!WAY_BACK_SCENARIOS.includes(scenario) && input.targetSeconds !== undefined) {
    throw new UsageError(
      `--on-target applies to --scenario ${WAY_BACK_SCENARIOS.join(', ')} (writes on the target before the fallback), got --scenario ${scenario}`,
    );
  }
  const targetSeconds = num('--on-target', input.targetSeconds, DEFAULTS.targetSeconds, { min: 0, max: 3600 });
  const warmupSeconds = num('--warmup', input.warmupSeconds, DEFAULTS.warmupSeconds, { min: 0, max: 3600 });
  const afterSeconds = num('--after', input.afterSeconds, DEFAULTS.afterSeconds, { min: 0.2, max: 3600 });
  return { rows, rate, concurrency, readRate, readObservationSeconds, targetSeconds, warmupSeconds, afterSeconds };
}

/** The cutover's timing (the execution input's, within its ranges: CUTOVER_INPUT_LIMITS), polling and the copy. */
function resolveTiming(
  input: RehearsalOptionsInput,
  scenario: Scenario,
): Resolved<
  | 'lagThresholdSeconds'
  | 'syncTimeoutSeconds'
  | 'finalSyncTimeoutSeconds'
  | 'consecutiveChecks'
  | 'pollMs'
  | 'copyTimeoutSeconds'
> {
  const lagThresholdSeconds = num(
    '--lag-threshold',
    input.lagThresholdSeconds,
    DEFAULTS.lagThresholdSeconds,
    CUTOVER_INPUT_LIMITS.lagThresholdSeconds,
  );
  const syncTimeoutSeconds = num(
    '--sync-timeout',
    input.syncTimeoutSeconds,
    scenario === 'lag-timeout' ? DEFAULTS.lagTimeoutSyncTimeoutSeconds : DEFAULTS.syncTimeoutSeconds,
    { min: 1, max: 86_400 },
  );
  const finalSyncTimeoutSeconds = num(
    '--final-sync-timeout',
    input.finalSyncTimeoutSeconds,
    DEFAULTS.finalSyncTimeoutSeconds,
    CUTOVER_INPUT_LIMITS.finalSyncTimeoutSeconds,
  );
  const consecutiveChecks = num(
    '--consecutive-checks',
    input.consecutiveChecks,
    DEFAULTS.consecutiveChecks,
    CUTOVER_INPUT_LIMITS.consecutiveChecks,
  );
  const pollMs = num('--poll-ms', input.pollMs, DEFAULTS.pollMs, { min: 1, max: 60_000, integer: true });
  const copyTimeoutSeconds = num('--copy-timeout', input.copyTimeoutSeconds, DEFAULTS.copyTimeoutSeconds, {
    min: 1,
    max: 86_400,
  });
  return {
    lagThresholdSeconds,
    syncTimeoutSeconds,
    finalSyncTimeoutSeconds,
    consecutiveChecks,
    pollMs,
    copyTimeoutSeconds,
  };
}

/** `--report` (a .json path; the HTML report goes beside it), as given. */
function resolveReportPath(input: RehearsalOptionsInput): string {
  const reportPath = str('--report', input.reportPath, DEFAULTS.reportPath);
  if (!/\.json$/i.test(reportPath)) {
    throw new UsageError(`--report must be a path ending in .json, got ${showValue(reportPath)}`);
  }
  return reportPath;
}

/** `--app-role` as given: a plain SQL name, never a reserved one. */
function resolveAppRole(input: RehearsalOptionsInput): string | undefined {
  const appRole = input.appRole === undefined ? undefined : str('--app-role', input.appRole, DEFAULTS.appRole);
  if (appRole !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(appRole)) {
    throw new UsageError(
      `--app-role must be a lower-case SQL name (letters, digits, _; at most 63), got ${showValue(appRole)}`,
    );
  }
  // The rule the construct and the cutover apply (contract/roles.ts).
  if (appRole !== undefined && reservedRoleName(appRole) !== undefined) {
    throw new UsageError(`--app-role must not be a superuser or system role, got ${showValue(appRole)}`);
  }
  return appRole;
}

function resolveMigrationId(input: RehearsalOptionsInput, now: Date): string {
  const migrationId = str(
    '--migration-id',
    input.migrationId,
    `rehearsal-${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`,
  );
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/.test(migrationId)) {
    throw new UsageError(`--migration-id must be 1-80 letters, digits, ".", "_" or "-", got ${showValue(migrationId)}`);
  }
  return migrationId;
}

/** `--source/--target`: both or neither, each with a user name, two different databases. */
function resolveServers(input: RehearsalOptionsInput): Resolved<'sourceUrl' | 'targetUrl'> {
  const sourceUrl = input.sourceUrl === undefined ? undefined : databaseUrl('--source', input.sourceUrl);
  const targetUrl = input.targetUrl === undefined ? undefined : databaseUrl('--target', input.targetUrl);
  for (const [flag, url] of [
    ['--source', sourceUrl],
    ['--target', targetUrl],
  ] as const) {
    if (url && !new URL(url).username) throw new UsageError(`${flag} must include a user name: ${redactUrl(url)}`);
  }
  if ((sourceUrl === undefined) !== (targetUrl === undefined)) {
    throw new UsageError(
      sourceUrl ? '--source needs --target as well (or neither)' : '--target needs --source as well (or neither)',
    );
  }
  if (sourceUrl && targetUrl && sameDatabase(sourceUrl, targetUrl)) {
    throw new UsageError(`--source and --target are the same database (${redactUrl(sourceUrl)})`);
  }
  return { sourceUrl, targetUrl };
}

/** The flags that apply only to the user's servers, and what is rehearsed there (the demo or their tables). */
function resolveExternalFlags(
  input: RehearsalOptionsInput,
  external: boolean,
): Resolved<'keepReplication' | 'keepFrozen' | 'freezeExistingRole' | 'demo'> {
  const onlyExternal = (flag: string, value: boolean, why: string): boolean => {
    if (value && !external) throw new UsageError(`${flag} only applies with --source/--target (${why})`);
    return value;
  };
  const keepReplication = onlyExternal(
    '--keep-replication',
    bool('--keep-replication', input.keepReplication),
    'embedded servers are removed',
  );
  const keepFrozen = onlyExternal(
    '--keep-frozen',
    bool('--keep-frozen', input.keepFrozen),
    'embedded servers are removed',
  );
  const freezeExistingRole = onlyExternal(
    '--freeze-existing-role',
    bool('--freeze-existing-role', input.freezeExistingRole),
    'embedded servers are new',
  );
  const demo = external ? onlyExternal('--demo', bool('--demo', input.demo), 'it is the default') : true;
  if (demo && (input.include?.length || input.exclude?.length)) {
    throw new UsageError(
      '--include/--exclude select your own tables (with --source/--target); the demo schema is rehearsed whole',
    );
  }
  if (!demo && input.rows !== undefined) {
    throw new UsageError('--rows sizes the demo schema (embedded servers or --demo); your own tables keep their data');
  }
  return { keepReplication, keepFrozen, freezeExistingRole, demo };
}

/** Validates and defaults options; throws `UsageError` naming the bad value (the first, in the order below). */
export function resolveRehearsalOptions(input: RehearsalOptionsInput, now: Date = new Date()): RehearsalOptions {
  const { scenario, mode, wayBack } = resolveScenario(input);
  const load = resolveLoad(input, scenario);
  const timing = resolveTiming(input, scenario);
  const reportPath = resolveReportPath(input);
  const appRole = resolveAppRole(input);
  const migrationId = resolveMigrationId(input, now);
  const { sourceUrl, targetUrl } = resolveServers(input);
  const external = sourceUrl !== undefined;
  const flags = resolveExternalFlags(input, external);
  const command = input.load === undefined ? undefined : str('--load', input.load, '');
  const major = (flag: string, value: number | string | undefined): { [k: string]: number } => {
    if (value === undefined) return {};
    if (external) {
      throw new UsageError(`${flag} picks the embedded server's PostgreSQL; --source/--target run their own`);
    }
    const n = num(flag, value, 0, { min: 12, max: 18, integer: true });
    return { [flag === '--source-version' ? 'sourceVersion' : 'targetVersion']: n };
  };

  return {
    scenario,
    mode,
    wayBack,
    demo: flags.demo,
    rows: load.rows,
    ...(flags.demo ? {} : { selection: tableSelection(input.include ?? [], input.exclude ?? []) }),
    rate: load.rate,
    concurrency: load.concurrency,
    readRate: load.readRate,
    readObservationSeconds: load.readObservationSeconds,
    targetSeconds: load.targetSeconds,
    warmupSeconds: load.warmupSeconds,
    afterSeconds: load.afterSeconds,
    reportPath: resolve(reportPath),
    sourceUrl,
    targetUrl,
    appRole: appRole ?? (external ? undefined : DEFAULTS.appRole),
    freezeExistingRole: flags.freezeExistingRole,
    ...(command !== undefined ? { load: command } : {}),
    migrationId,
    lagThresholdSeconds: timing.lagThresholdSeconds,
    consecutiveChecks: timing.consecutiveChecks,
    syncTimeoutSeconds: timing.syncTimeoutSeconds,
    finalSyncTimeoutSeconds: timing.finalSyncTimeoutSeconds,
    copyTimeoutSeconds: timing.copyTimeoutSeconds,
    pollMs: timing.pollMs,
    keepReplication: flags.keepReplication,
    keepFrozen: flags.keepFrozen,
    ...major('--source-version', input.sourceVersion),
    ...major('--target-version', input.targetVersion),
    quiet: bool('--quiet', input.quiet),
  };
}

/**
 * `--include/--exclude` → the selection (every user table by default). The workflow's own schema is never the
 * user's data: it is always left out (its marker and probe tables are replicated separately).
 */
export function tableSelection(include: readonly string[], exclude: readonly string[]): TableSelection {
  const rules = (texts: readonly string[], flag: string): TableRule[] =>
    texts.map((text) => {
      try {
        return parseTableRule(text);
      } catch (error) {
        throw new UsageError(`${flag}: ${(error as Error).message}`);
      }
    });
  const included = rules(include, '--include');
  return {
    include: included.length ? included : [{ schema: '%' }],
    exclude: [...rules(exclude, '--exclude'), { schema: ZDM_SCHEMA }],
  };
}

/** The HTML report path: next to the JSON report, same base name. */
export function htmlReportPath(reportPath: string): string {
  return reportPath.replace(/\.json$/i, '.html');
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${showValue(value)}`);
}

function num(
  flag: string,
  value: unknown,
  fallback: number,
  limits: { min: number; max: number; integer?: boolean },
): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  const kind = limits.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(n) || (limits.integer && !Number.isInteger(n)) || n < limits.min || n > limits.max) {
    throw new UsageError(
      `${flag} must be ${kind} from ${limits.min} to ${limits.max}, got ${showValue(String(value))}`,
    );
  }
  return n;
}

function str(flag: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new UsageError(`${flag} must be a non-empty string, got ${showValue(value)}`);
  }
  return value;
}

function bool(flag: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  throw new UsageError(`${flag} is a flag (true/false), got ${showValue(value)}`);
}
