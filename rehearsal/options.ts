import { resolve } from 'node:path';
import { redactUrl } from '../lambda/engine/pg/connection';
import { databaseUrl, parseCommandLine, sameDatabase, showValue, UsageError } from '../cli/command-line';

export const SCENARIOS = ['happy', 'lag-timeout', 'fail-during-freeze', 'resume'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const MODES = ['dry-run', 'execute'] as const;
export type RehearsalMode = (typeof MODES)[number];

export interface RehearsalOptions {
  readonly scenario: Scenario;
  readonly mode: RehearsalMode;
  /** Rows loaded into the demo schema before replication starts (split across tables). */
  readonly rows: number;
  /** Target write rate of the application load, writes per second. */
  readonly rate: number;
  /** Concurrent application connections. */
  readonly concurrency: number;
  /** Seconds of load (after the initial copy) before the cutover starts. */
  readonly warmupSeconds: number;
  /** Seconds the load keeps running after the cutover ends. */
  readonly afterSeconds: number;
  /** Path of the JSON report; the HTML report is written next to it. */
  readonly reportPath: string;
  /** Existing servers to rehearse against (both or neither); embedded servers are started otherwise. */
  readonly sourceUrl?: string;
  readonly targetUrl?: string;
  /** The application login role the freeze acts on. */
  readonly appRole: string;
  readonly migrationId: string;
  /** Lag threshold of the wait-for-sync loop (seconds). */
  readonly lagThresholdSeconds: number;
  readonly consecutiveChecks: number;
  /** Wait-for-sync timeout (seconds); the lag-timeout scenario uses a short one. */
  readonly syncTimeoutSeconds: number;
  readonly finalSyncTimeoutSeconds: number;
  /** Every Wait state of the state machine is shortened to this (local poll interval). */
  readonly pollMs: number;
  /** Leave the publication / subscription / slot in place at the end (external servers only). */
  readonly keepReplication: boolean;
  readonly quiet: boolean;
}

export const DEFAULTS = {
  scenario: 'happy' as Scenario,
  mode: 'execute' as RehearsalMode,
  rows: 200_000,
  rate: 300,
  concurrency: 8,
  warmupSeconds: 2,
  afterSeconds: 1.5,
  reportPath: 'rehearsal-report.json',
  appRole: 'app_writer',
  lagThresholdSeconds: 1,
  consecutiveChecks: 3,
  syncTimeoutSeconds: 120,
  lagTimeoutSyncTimeoutSeconds: 3,
  finalSyncTimeoutSeconds: 30,
  pollMs: 50,
};

export const USAGE = `Usage: npm run rehearse -- [options]

Runs a complete zero-downtime cutover on this machine: two PostgreSQL 16 servers, a demo schema,
native logical replication, an application write load, and the real cutover state machine.
Proves that no acknowledged write is lost and measures the write freeze.

Options:
  --scenario <name>      happy | lag-timeout | fail-during-freeze | resume        (default happy)
  --mode <mode>          dry-run | execute                                          (default execute)
  --rows <n>             rows in the demo schema                                   (default 200000)
  --rate <n>             application writes per second                             (default 300)
  --concurrency <n>      application connections                                   (default 8)
  --warmup <seconds>     load before the cutover starts                            (default 2)
  --after <seconds>      load kept running after the cutover                       (default 1.5)
  --report <path>        JSON report; the HTML report goes next to it  (default ./rehearsal-report.json)
  --source <url>         rehearse against this existing source server (needs --target)
  --target <url>         ... and this existing target server; they are left running with the data in place
  --app-role <name>      application login role the freeze acts on                 (default app_writer)
  --migration-id <id>    cutover migrationId                           (default rehearsal-<time>)
  --lag-threshold <s>    wait-for-sync lag threshold in seconds                    (default 1)
  --sync-timeout <s>     wait-for-sync timeout in seconds         (default 120; lag-timeout: 3)
  --poll-ms <ms>         local poll interval for Wait states                        (default 50)
  --keep-replication     leave publication, subscription and slot in place (--source/--target only)
  --quiet                only the summary
  -h, --help             this text

Exit codes: 0 the outcome matched the scenario with no lost write; 1 it did not; 2 bad options.`;

export type ParsedCommand = { help: true } | { help: false; options: RehearsalOptions };

/** Parses `npm run rehearse` arguments. Throws `UsageError` naming the bad value. */
export function parseRehearsalArgs(argv: readonly string[], now: Date = new Date()): ParsedCommand {
  const v = parseCommandLine(argv, {
    scenario: { type: 'string' },
    mode: { type: 'string' },
    rows: { type: 'string' },
    rate: { type: 'string' },
    concurrency: { type: 'string' },
    warmup: { type: 'string' },
    after: { type: 'string' },
    report: { type: 'string' },
    source: { type: 'string' },
    target: { type: 'string' },
    'app-role': { type: 'string' },
    'migration-id': { type: 'string' },
    'lag-threshold': { type: 'string' },
    'sync-timeout': { type: 'string' },
    'poll-ms': { type: 'string' },
    'keep-replication': { type: 'boolean' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, false).values as Record<string, string | undefined> & {
    'keep-replication'?: boolean;
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
        rows: v.rows,
        rate: v.rate,
        concurrency: v.concurrency,
        warmupSeconds: v.warmup,
        afterSeconds: v.after,
        reportPath: v.report,
        sourceUrl: v.source,
        targetUrl: v.target,
        appRole: v['app-role'],
        migrationId: v['migration-id'],
        lagThresholdSeconds: v['lag-threshold'],
        syncTimeoutSeconds: v['sync-timeout'],
        pollMs: v['poll-ms'],
        keepReplication: v['keep-replication'],
        quiet: v.quiet,
      },
      now,
    ),
  };
}

/** Loose input (strings from the command line, or numbers from tests) → validated options. */
export type RehearsalOptionsInput = { [K in keyof RehearsalOptions]?: RehearsalOptions[K] | string };

/** Validates and defaults options; throws `UsageError` naming the bad value. */
export function resolveRehearsalOptions(input: RehearsalOptionsInput, now: Date = new Date()): RehearsalOptions {
  const scenario = oneOf('--scenario', input.scenario, SCENARIOS, DEFAULTS.scenario);
  const mode = oneOf('--mode', input.mode, MODES, DEFAULTS.mode);
  if (scenario === 'resume' && mode === 'dry-run') {
    throw new UsageError(
      '--scenario resume needs --mode execute (every dry-run execution keeps its own state, so there is nothing to resume), got --mode dry-run',
    );
  }
  const rows = num('--rows', input.rows, DEFAULTS.rows, { min: 100, max: 100_000_000, integer: true });
  const rate = num('--rate', input.rate, DEFAULTS.rate, { min: 1, max: 50_000 });
  const concurrency = num('--concurrency', input.concurrency, DEFAULTS.concurrency, {
    min: 1,
    max: 100,
    integer: true,
  });
  const warmupSeconds = num('--warmup', input.warmupSeconds, DEFAULTS.warmupSeconds, { min: 0, max: 3600 });
  const afterSeconds = num('--after', input.afterSeconds, DEFAULTS.afterSeconds, { min: 0.2, max: 3600 });
  const lagThresholdSeconds = num('--lag-threshold', input.lagThresholdSeconds, DEFAULTS.lagThresholdSeconds, {
    min: 0,
    max: 3600,
  });
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
    { min: 1, max: 3600 },
  );
  const consecutiveChecks = num('--consecutive-checks', input.consecutiveChecks, DEFAULTS.consecutiveChecks, {
    min: 1,
    max: 1000,
    integer: true,
  });
  const pollMs = num('--poll-ms', input.pollMs, DEFAULTS.pollMs, { min: 1, max: 60_000, integer: true });

  const reportPath = str('--report', input.reportPath, DEFAULTS.reportPath);
  if (!/\.json$/i.test(reportPath)) {
    throw new UsageError(`--report must be a path ending in .json, got ${showValue(reportPath)}`);
  }

  const appRole = str('--app-role', input.appRole, DEFAULTS.appRole);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(appRole)) {
    throw new UsageError(
      `--app-role must be a lower-case SQL name (letters, digits, _; at most 63), got ${showValue(appRole)}`,
    );
  }
  if (appRole === 'postgres' || appRole.startsWith('pg_')) {
    throw new UsageError(`--app-role must not be a superuser or system role, got ${showValue(appRole)}`);
  }

  const migrationId = str(
    '--migration-id',
    input.migrationId,
    `rehearsal-${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`,
  );
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/.test(migrationId)) {
    throw new UsageError(
      `--migration-id must be 1-80 letters, digits, ".", "_" or "-", got ${showValue(migrationId)}`,
    );
  }

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
  const keepReplication = bool('--keep-replication', input.keepReplication);
  if (keepReplication && !sourceUrl) {
    throw new UsageError('--keep-replication only applies with --source/--target (embedded servers are removed)');
  }

  return {
    scenario,
    mode,
    rows,
    rate,
    concurrency,
    warmupSeconds,
    afterSeconds,
    reportPath: resolve(reportPath),
    sourceUrl,
    targetUrl,
    appRole,
    migrationId,
    lagThresholdSeconds,
    consecutiveChecks,
    syncTimeoutSeconds,
    finalSyncTimeoutSeconds,
    pollMs,
    keepReplication,
    quiet: bool('--quiet', input.quiet),
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

