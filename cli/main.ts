/**
 * `zdm`'s entry: parses the command line, connects to the source and target (libpq conventions), runs the command
 * (preflight, validate, sequences, schema) and maps its outcome to the exit code; `cutover` is handed to cli/cutover.ts.
 */
import type { Pool, QueryConfig } from 'pg';
import { version } from '../package.json';
import { shouldFallBack, type ConninfoContext, type ResolvedConnection } from './conninfo';
import {
  compareSequences,
  createPool,
  diffSchema,
  PARTITION_SELECTION_RULE,
  partitionSelectedMessage,
  preflight,
  qualify,
  readCatalog,
  type Progress,
  recheck,
  selectedPartitions,
  syncSequences,
  validate,
} from '../lambda/engine';
import { commandLineRedactor, parseCli, UsageError, USAGE, type CliOptions, type Command } from './args';
import { formatPreflight, formatSchema, formatSequences, formatValidation, sequenceCounts } from './output';
import { detailDifferences } from './row-columns';
import { writePatch } from './patch';
import { formatTableName } from '../contract';
import { createProgressReporter } from './progress';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** stderr is a terminal: progress is a bar rewritten in place, else a line every few seconds. @default false */
  readonly stderrIsTTY?: boolean;
  /** Clock of the progress rate and ETA (tests). @default Date.now */
  readonly now?: () => number;
  /** Waits between `zdm cutover watch` polls (tests). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The environment the PG* variables come from (tests). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The home directory of ~/.pgpass, ~/.pg_service.conf and ~/.postgresql/root.crt (tests). @default os.homedir() */
  readonly home?: string;
}

/** Opens a pool the way libpq connects: the first config, then the one sslmode allow/prefer falls back to. */
async function openConnection(c: ResolvedConnection, max: number, readOnly: boolean): Promise<Pool> {
  let lastError: unknown;
  for (const [i, attempt] of c.attempts.entries()) {
    // validate only reads: its sessions cannot write, whatever a --where condition calls.
    const config = readOnly
      ? { ...attempt, options: [attempt.options, '-c default_transaction_read_only=on'].filter(Boolean).join(' ') }
      : attempt;
    try {
      return await createPool(config, { max, applicationName: c.applicationName });
    } catch (error) {
      lastError = error;
      if (i === c.attempts.length - 1 || !shouldFallBack(c.sslmode, error)) break;
    }
  }
  const message = lastError instanceof Error ? lastError.message : String(lastError);
  // Name the side the way it was resolved (host, port, database, user, sslmode), never the password.
  throw new Error(`${message.replace(/^cannot connect to \S+:/, `cannot connect to ${c.description}:`)}`);
}

export const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  stderrIsTTY: Boolean(process.stderr.isTTY),
};

/** A validate or schema run over zero tables proves nothing: it must not exit 0. */
function selectedNothing(result: unknown): boolean {
  const r = result as { command: string; tables?: unknown[]; tablesChecked?: number };
  if (r.command === 'validate') return r.tables?.length === 0;
  if (r.command === 'schema') return r.tablesChecked === 0;
  return false;
}

function describeSelection(opts: CliOptions): string {
  const rule = (r: { schema: string; table?: string }): string => `${r.schema}.${r.table ?? '%'}`;
  const exclude = opts.selection.exclude ?? [];
  return `include ${opts.selection.include.map(rule).join(', ')}${exclude.length ? `; exclude ${exclude.map(rule).join(', ')}` : ''}`;
}

/** Every --exclude-column must name a column of a selected table on the source: a typo would compare it anyway. */
async function checkExcludedColumns(source: Pool, opts: CliOptions): Promise<void> {
  if (!opts.excludeColumns.length) return;
  const { rows } = await source.query<{ i: number; key: boolean | null }>(
    `SELECT x.i, (SELECT bool_or(a.attnum = ANY (ix.indkey)) FROM pg_index ix
                   WHERE ix.indrelid = r.oid AND ix.indisprimary) AS key
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS x(s, t, c, i)
       LEFT JOIN pg_namespace n ON n.nspname = x.s
       LEFT JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = x.t
       LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = x.c AND a.attnum > 0 AND NOT a.attisdropped
      WHERE a.attnum IS NULL OR (SELECT bool_or(a.attnum = ANY (ix.indkey)) FROM pg_index ix
                                  WHERE ix.indrelid = r.oid AND ix.indisprimary)
      ORDER BY x.i`,
    [
      opts.excludeColumns.map((c) => c.schema),
      opts.excludeColumns.map((c) => c.table),
      opts.excludeColumns.map((c) => c.column),
    ],
  );
  if (rows.length) {
    const c = opts.excludeColumns[Number(rows[0].i) - 1];
    throw new UsageError(
      `--exclude-column ${formatTableName(c)}.${c.column}: ` +
        (rows[0].key
          ? 'a primary-key column identifies the rows: it cannot be left out'
          : 'no such column on the source') +
        ' (nothing was compared)',
    );
  }
}

/**
 * Every --where must name a selected table and be a valid condition on both sides: EXPLAIN (plans, runs nothing)
 * with the extended protocol (one statement only), wrapped as the checksums wrap it. The sessions are read-only.
 */
async function checkRowFilters(source: Pool, target: Pool, opts: CliOptions): Promise<void> {
  if (!opts.rowFilters.length) return;
  const catalog = await readCatalog(source, opts.selection);
  for (const f of opts.rowFilters) {
    const name = { schema: f.schema, table: f.table };
    const shown = formatTableName(name);
    if (!catalog.byName(name)) {
      throw new UsageError(
        `--where ${shown}: not among the selected tables on the source (${describeSelection(opts)})`,
      );
    }
    for (const [side, pool] of [
      ['source', source],
      ['target', target],
    ] as const) {
      try {
        await pool.query({
          text: `EXPLAIN SELECT 1 FROM ${qualify(name)} t WHERE (\n${f.predicate}\n)`,
          queryMode: 'extended',
        } as QueryConfig);
      } catch (error) {
        throw new UsageError(
          `--where ${shown}: the condition does not run on the ${side}: ${(error as Error).message.slice(0, 300)} (nothing was compared)`,
        );
      }
    }
  }
}

/** Runs `zdm` with the given arguments; returns the exit code (0 ok, 1 differences, 2 usage/connection error). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  // Every URL and password given on the command line, whatever its position, is removed from what is printed.
  if (argv[0] === 'cutover') {
    // Loaded on demand: the AWS SDK clients are not initialised for the database commands (start-up time).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { cutoverMain } = require('./cutover') as typeof import('./cutover');
    return cutoverMain(argv.slice(1), io);
  }
  const env = io.env ?? process.env;
  const parsed = await parseOptions(argv, io, env);
  if (typeof parsed === 'number') return parsed;
  const opts = parsed.options;
  // Passwords found in the environment, a service or a password file are removed from messages too.
  const redact = commandLineRedactor(argv, [env.PGPASSWORD, opts.source.password, opts.target?.password]);
  for (const w of parsed.warnings) io.stderr(`zdm: warning: ${redact(w)}\n`);
  return runCommand(opts, io, redact);
}

/**
 * The command line, checked; with --source-secret / --target-secret, the secrets are read once everything else is
 * valid and the sides resolved again with them. A number is the exit code when there is nothing to run (--help,
 * --version, a usage error, an unreadable secret).
 */
async function parseOptions(
  argv: readonly string[],
  io: CliIo,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ options: CliOptions; warnings: string[] } | number> {
  const redact = commandLineRedactor(argv, [env.PGPASSWORD]);
  let options: CliOptions | 'help' | 'version';
  const warnings: string[] = [];
  const ctx: ConninfoContext = { env, ...(io.home ? { home: io.home } : {}), warn: (m) => warnings.push(m) };
  try {
    options = parseCli(argv, ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      const message = redact(error.message);
      // --json promises one JSON document on stdout, whatever happens.
      if (argv.includes('--json')) io.stdout(`${JSON.stringify({ ok: false, error: message })}\n`);
      io.stderr(`zdm: ${message}\nRun "zdm --help" for usage.\n`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  if (options === 'version') {
    io.stdout(`zdm ${version}\n`);
    return 0;
  }
  if (options.sourceSecret || options.targetSecret) {
    const withSecrets = await parseWithSecrets(argv, options, ctx, io, redact);
    if (typeof withSecrets === 'number') return withSecrets;
    options = withSecrets;
  }
  return { options, warnings };
}

/** Reads the secrets the command line names, then parses it again with their keywords (exit code 2 on failure). */
async function parseWithSecrets(
  argv: readonly string[],
  options: CliOptions,
  ctx: ConninfoContext,
  io: CliIo,
  redactCommandLine: (text: string) => string,
): Promise<CliOptions | number> {
  let redact = redactCommandLine;
  // Everything else on the command line is valid: now read the secrets, then resolve the sides with them.
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { readDatabaseSecret } = require('./secrets') as typeof import('./secrets');
    const [source, target] = await Promise.all(
      [options.sourceSecret, options.targetSecret].map((id) => (id ? readDatabaseSecret(id) : undefined)),
    );
    redact = commandLineRedactor(argv, [ctx.env.PGPASSWORD, source?.password, target?.password]);
    return parseCli(argv, ctx, { ...(source ? { source } : {}), ...(target ? { target } : {}) }) as CliOptions;
  } catch (error) {
    const message = redact(error instanceof Error ? error.message : String(error));
    if (argv.includes('--json')) io.stdout(`${JSON.stringify({ ok: false, error: message })}\n`);
    io.stderr(`zdm: ${message}\n`);
    return 2;
  }
}

/** What a command found: whether everything matches, the JSON document and the human-readable report. */
interface Outcome {
  readonly ok: boolean;
  readonly json: unknown;
  readonly human: string;
}

/** Connects both sides, runs the command and prints its outcome; every pool is closed whatever happens. */
async function runCommand(opts: CliOptions, io: CliIo, redact: (text: string) => string): Promise<number> {
  const pools: Pool[] = [];
  // Progress goes to stderr whatever the output format: stdout carries only the result.
  const bar = opts.quiet
    ? undefined
    : createProgressReporter({ write: io.stderr, tty: Boolean(io.stderrIsTTY), ...(io.now ? { now: io.now } : {}) });
  try {
    const { source, target } = await connectSides(opts, pools);
    // One way to select partitions, the same words as preflight's partition-selected finding (preflight reports it).
    if (opts.command !== 'preflight') await rejectSelectedPartitions(source, opts);
    const onProgress = bar ? (p: Progress) => bar.update(p) : undefined;
    const { ok, json, human } = await COMMAND_RUNNERS[opts.command](source, target, opts, onProgress);
    bar?.done();
    if (selectedNothing(json)) {
      throw new UsageError(
        `no table matches the selection (${describeSelection(opts)}); for partitions, ${PARTITION_SELECTION_RULE}`,
      );
    }
    io.stdout(opts.json ? `${JSON.stringify(json, null, 2)}\n` : human);
    return ok ? 0 : 1;
  } catch (error) {
    bar?.done();
    const message = redact(error instanceof Error ? error.message : String(error));
    if (opts.json) io.stdout(`${JSON.stringify({ ok: false, command: opts.command, error: message })}\n`);
    io.stderr(`zdm: ${message}\n`);
    return 2;
  } finally {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  }
}

/**
 * Both connections at once (one round trip less before any work); on failure the source's error is reported first.
 * Every pool opened is added to `pools` (for the caller to close), even when the other side failed.
 */
async function connectSides(opts: CliOptions, pools: Pool[]): Promise<{ source: Pool; target: Pool | undefined }> {
  const connecting = [opts.source, opts.target].map((c) =>
    c === undefined ? Promise.resolve(undefined) : openConnection(c, opts.concurrency, opts.command === 'validate'),
  );
  const connected = await Promise.allSettled(connecting);
  for (const c of connected) if (c.status === 'fulfilled' && c.value) pools.push(c.value);
  const failed = connected.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) throw failed.reason;
  const source = (connected[0] as PromiseFulfilledResult<Pool>).value;
  const target = (connected[1] as PromiseFulfilledResult<Pool | undefined>).value;
  return { source, target };
}

/** A selected partition (rather than its partitioned table) is a usage error, named as preflight names it. */
async function rejectSelectedPartitions(source: Pool, opts: CliOptions): Promise<void> {
  const [first, ...others] = await selectedPartitions(source, opts.selection);
  if (first) {
    throw new UsageError(
      `${partitionSelectedMessage(first)}${others.length ? ` (and ${others.length} more partitioned table(s))` : ''}`,
    );
  }
}

/** One runner per command: the target is there for every command but preflight (the command line requires it). */
type CommandRunner = (
  source: Pool,
  target: Pool | undefined,
  opts: CliOptions,
  onProgress: ((p: Progress) => void) | undefined,
) => Promise<Outcome>;

const COMMAND_RUNNERS: Readonly<Record<Command, CommandRunner>> = {
  preflight: async (source, target, opts) => {
    const r = await preflight(source, opts.selection, {
      allowReplicaIdentityFull: opts.allowReplicaIdentityFull,
      lobMaxSizeKiB: opts.lobMaxSizeKiB,
      fullLobMode: opts.fullLobMode,
      ...(target ? { target } : {}),
    });
    return { ok: r.ok, json: { command: 'preflight', ...r }, human: formatPreflight(r) };
  },
  validate: (source, target, opts, onProgress) => runValidate(source, target!, opts, onProgress),
  sequences: async (source, target, opts) => {
    const r = await (opts.sync ? syncSequences : compareSequences)(source, target!, opts.selection);
    return { ok: r.ok, json: { command: 'sequences', ...r, counts: sequenceCounts(r) }, human: formatSequences(r) };
  },
  schema: async (source, target, opts) => {
    const r = await diffSchema(source, target!, opts.selection);
    return { ok: r.ok, json: { command: 'schema', ...r }, human: formatSchema(r) };
  },
};

/**
 * validate: the --exclude-column and --where checks, the comparison, the recheck of differing rows (--recheck),
 * their differing columns, and the patch file (--patch-file).
 */
async function runValidate(
  source: Pool,
  target: Pool,
  opts: CliOptions,
  onProgress: ((p: Progress) => void) | undefined,
): Promise<Outcome> {
  await checkExcludedColumns(source, opts);
  await checkRowFilters(source, target, opts);
  let r = await validate(source, target, opts.selection, {
    excludeColumns: opts.excludeColumns,
    rowFilters: opts.rowFilters,
    mode: opts.mode,
    concurrency: opts.concurrency,
    maxDifferences: opts.maxDifferences,
    blockScan: !opts.byKeys,
    onProgress,
  });
  if (opts.recheckSeconds !== undefined && r.tables.some((t) => t.differences.length)) {
    r = await recheck(source, target, r, {
      delayMs: opts.recheckSeconds * 1000,
      excludeColumns: opts.excludeColumns,
      rowFilters: opts.rowFilters,
      concurrency: opts.concurrency,
      onProgress,
    });
  }
  const detailed = await detailDifferences(source, target, r, {
    showValues: opts.showValues,
    excludeColumns: new Set(opts.excludeColumns.map((c) => `${formatTableName(c)}.${c.column}`)),
    maxRowsPerTable: opts.detailRows,
  });
  const excluded = opts.excludeColumns.map((c) => `${formatTableName(c)}.${c.column}`);
  const patch = opts.patchFile
    ? await writePatch(source, target, detailed, opts.patchFile, new Set(excluded))
    : undefined;
  return {
    ok: r.ok,
    json: {
      command: 'validate',
      ...detailed,
      ...(excluded.length ? { excludedColumns: excluded } : {}),
      ...(patch ? { patch } : {}),
    },
    human:
      formatValidation(detailed, excluded) +
      (patch
        ? `Patch: ${patch.file}: ${patch.inserts} insert(s), ${patch.updates} update(s), ${patch.deletes} delete(s)` +
          `${patch.skipped ? `, ${patch.skipped} row(s) left out` : ''}${patch.partial ? ' (PARTIAL: more differences than listed)' : ''}; review it, then run it on the target\n`
        : ''),
  };
}
