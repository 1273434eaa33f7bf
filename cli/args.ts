/**
 * The `zdm` command line: its commands and options (`USAGE`), parsed into `CliOptions` by `parseCli` (each bad value
 * named, secrets redacted in any argument position).
 */
import { assertValidSelection, parseTableRule, type TableSelection } from '../contract';
import { parseCommandLine, redactUrlsInText, showValue, UsageError } from './command-line';
import { redactUrl, type ColumnRef, type RowFilter } from '../lambda/engine';
import {
  resolveConnection,
  sameResolvedDatabase,
  type Conninfo,
  type ConninfoContext,
  type ResolvedConnection,
} from './conninfo';
import { SECRET_ID } from './secrets';
import { withIamAuthentication } from './iam';
import { didYouMean } from './suggest';
import { parseRowAndColumnOptions } from './validate-options';

export type Command = 'preflight' | 'validate' | 'sequences' | 'schema';
export const COMMANDS: readonly Command[] = ['preflight', 'validate', 'sequences', 'schema'];

export interface CliOptions {
  readonly command: Command;
  /** The source, resolved the libpq way (from --source, a service, the PG* environment, the password file). */
  readonly source: ResolvedConnection;
  readonly target?: ResolvedConnection;
  /** The Secrets Manager secrets the sides were read from (--source-secret, --target-secret). */
  readonly sourceSecret?: string;
  readonly targetSecret?: string;
  readonly selection: TableSelection;
  readonly json: boolean;
  readonly mode: 'quick' | 'full';
  readonly sync: boolean;
  readonly concurrency: number;
  readonly maxDifferences: number;
  readonly recheckSeconds?: number;
  /** validate --mode full: read every table by key ranges only (no block pass first). */
  readonly byKeys: boolean;
  readonly allowReplicaIdentityFull: boolean;
  /** preflight: DMS `LobMaxSize` in KiB (limited LOB mode). @default - preflight's default (32, the construct's) */
  readonly lobMaxSizeKiB?: number;
  /** preflight: DMS runs in full LOB mode (no LOB size limit to check). */
  readonly fullLobMode: boolean;
  /** No progress on stderr. */
  readonly quiet: boolean;
  /** validate: columns left out of the comparison. */
  readonly excludeColumns: ColumnRef[];
  /** validate: print the differing values of changed rows (off by default: rows may hold personal data). */
  readonly showValues: boolean;
  /** validate: changed rows per table whose differing columns are read. */
  readonly detailRows: number;
  /** validate: per table, the rows to compare (--where 'schema.table:predicate'). */
  readonly rowFilters: RowFilter[];
  /** validate: write SQL that would make the target's listed rows equal to the source's here. */
  readonly patchFile?: string;
}

export { UsageError };

export const USAGE = `Usage: zdm <command> [--source <connection>] [--target <connection>] [options]

Commands:
  preflight    check the source is ready for DMS (and the target, when --target is given)
  validate     compare source and target: --mode quick (row counts) or full (every row, default)
  sequences    compare sequence values; --sync moves target sequences past the source (idempotent)
  schema       tables, columns, keys, constraints, indexes and triggers missing or different on the target
  cutover      start, status, watch, approve, reject, fallback, end-fallback-window: the deployed cutover's
               executions (zdm cutover --help)

Connections (libpq's conventions, as psql and pg_dump):
  --source <connection>     the source: a URL (postgres://user:password@host:port/db?sslmode=verify-full) or a
                            keyword/value conninfo ('host=db.example.com port=5432 dbname=app user=zdm
                            sslmode=verify-full sslrootcert=/path/ca.pem', or 'service=old-primary').
                            Left out: the PG* environment alone (PGHOST, PGPORT, PGDATABASE, PGUSER, ...)
  --target <connection>     the target, the same forms (required except for preflight)
  --source-secret <arn|name>, --target-secret <arn|name>  read host, port, username, password and dbname from an
                            AWS Secrets Manager secret (RDS's JSON); --source/--target keywords go on top
                            (e.g. --target-secret <arn> --target 'sslmode=verify-full')
  --source-iam, --target-iam  IAM database authentication (RDS / Aurora): the password is a token the AWS SDK's
                            RDS signer makes from your AWS credentials; needs sslmode require or stronger
  Every keyword a side leaves out comes from its service (service=, else PGSERVICE; PGSERVICEFILE, else
  ~/.pg_service.conf), then PGHOST, PGHOSTADDR, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT,
  PGSSLCERT, PGSSLKEY, PGAPPNAME, PGCONNECT_TIMEOUT, PGOPTIONS; then localhost:5432, database = user = your login.
  A missing password is looked up in passfile= / PGPASSFILE / ~/.pgpass (mode 0600). Set PG* variables apply to
  both sides where a side leaves the keyword out: give each side its host and dbname, or a service each.
  sslmode: disable, allow, prefer (default), require, verify-ca, verify-full (libpq's meanings).
  sslrootcert: a PEM file, system (the platform's roots; verify-full), or rds: the Amazon RDS/Aurora CA bundle
  shipped with zdm, used by default with verify-ca/verify-full for *.rds.amazonaws.com hosts.

Options:
  --include <schema[.table]>  tables to check, repeatable; % is a wildcard (default: every schema);
                            select a partitioned table, not its partitions: they follow it
  --exclude <schema[.table]>  tables to leave out, repeatable
  --mode quick|full         validate: counts only, or checksums of every row (default full)
  --recheck <seconds>       validate: re-read differing rows after this delay, 0 to 3600 (in-flight rows converge)
  --max-differences <n>     validate: rows listed per table (default 1000)
  --exclude-column <schema.table.column>  validate: leave a column out of the comparison (e.g. updated_at),
                            repeatable; not a key column
  --where <schema.table:condition>  validate: compare only the rows of that table the SQL condition selects
                            (e.g. 'public.orders:created_at >= now() - interval ''7 days'''), on both sides;
                            repeatable, one per table. It is your SQL, run as written in read-only sessions;
                            it is checked (EXPLAIN on both sides) before anything is compared
  --show-values             validate: print the differing values of changed rows (off by default: rows may hold
                            personal data); without it only the names of the differing columns
  --patch-file <path>       validate: write SQL (BEGIN ... COMMIT, mode 0600) that would make the listed differing
                            rows of the target equal to the source as read now: INSERT, UPDATE of the differing
                            columns, DELETE. It holds row values; review it before running it on the target
  --detail-rows <n>         validate: changed rows per table whose differing columns are read (default 100)
  --by-keys                 validate: skip the block pass (a sequential read of each table, compared by its
                            totals) and read every table by key ranges; for tables under heavy writes, whose
                            block totals differ anyway
  --concurrency <n>         queries in flight per database (default 2)
  --sync                    sequences: set the target sequences
  --allow-replica-identity-full  preflight: accept tables without a primary key that have REPLICA IDENTITY FULL
  --lob-max-size <KiB>      preflight: the DMS task's LobMaxSize (limited LOB mode; default 32, the construct's
                            lobMaxSize default): a text, bytea, json(b), xml or array value larger fails the task
  --full-lob-mode           preflight: the DMS task runs in full LOB mode (no LOB size to check)
  --json                    print one JSON document on stdout
  --quiet, -q               no progress on stderr (a bar on a terminal, else a line every few seconds)
  --help, -h                this text
  --version, -V             the version of zdm

Exit codes: 0 everything matches / ready, 1 differences or preflight errors found, 2 usage or connection error.
`;

/** The longest --include / --exclude rule: two quoted names of at most 63 characters, doubled quotes included. */
export const MAX_RULE_LENGTH = 300;
/** The longest --recheck delay (a timer of the process). */
export const MAX_RECHECK_SECONDS = 3600;

const NUMERIC_OPTIONS: Readonly<Record<string, string>> = {
  recheck: `a number of seconds from 0 to ${MAX_RECHECK_SECONDS}`,
  concurrency: 'a positive integer',
  'max-differences': 'a positive integer',
  'lob-max-size': 'a number of KiB from 1 to 102400',
};

/** `--recheck -5` would read as a missing value followed by an option: name the negative number instead. */
function rejectNegativeNumbers(argv: readonly string[]): void {
  for (let i = 0; i + 1 < argv.length; i++) {
    const name = /^--([\w-]+)$/.exec(argv[i])?.[1];
    if (name && NUMERIC_OPTIONS[name] && /^-\d/.test(argv[i + 1])) {
      throw new UsageError(`--${name} must be ${NUMERIC_OPTIONS[name]}, got ${showValue(argv[i + 1])}`);
    }
  }
}

/**
 * Removes from `text` every URL given anywhere on the command line (as `--source x`, `--source=x` or a stray
 * positional argument) and every password in them, even when the URL cannot be parsed, then any other postgres URL's
 * password. Everything `zdm` prints about a failure passes through it.
 */
export function commandLineRedactor(
  argv: readonly string[],
  extraSecrets: readonly (string | undefined)[] = [],
): (text: string) => string {
  const urls: string[] = [];
  const secrets = new Set<string>();
  for (const s of extraSecrets) if (s) secrets.add(s);
  for (const arg of argv) {
    // A keyword/value conninfo's password (quoted or not), wherever the argument is.
    for (const m of arg.matchAll(/\bpassword\s*=\s*('((?:[^'\\]|\\.)*)'?|(\S+))/gi)) {
      const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
      if (value) secrets.add(value).add(m[1]);
    }
    const at = arg.search(/postgres(?:ql)?:\/\//i);
    if (at === -1) continue;
    const url = arg.slice(at);
    urls.push(url);
    // Everything between "user:" and the last "@" of the authority, whether or not the URL parses.
    const raw = /^[a-z]+:\/\/[^:/@]*:(.*)@[^@]*$/is.exec(url)?.[1];
    if (raw) secrets.add(raw);
    try {
      const u = new URL(url);
      if (u.password) secrets.add(u.password).add(decodeURIComponent(u.password));
      u.searchParams.forEach((v, k) => void (/pass|secret|token/i.test(k) && v && secrets.add(v)));
    } catch {
      // Not a parsable URL: the raw password above covers it.
    }
  }
  const ordered = [...secrets].filter((x) => x.length >= 3).sort((a, b) => b.length - a.length);
  return (text: string): string => {
    let out = text;
    for (const url of urls.sort((a, b) => b.length - a.length)) out = out.split(url).join(redactUrl(url));
    for (const secret of ordered) out = out.split(secret).join('***');
    return redactUrlsInText(out);
  };
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${showValue(value)}`);
  return Number(value);
}

/** The options `zdm` takes (node's parseArgs configuration). */
const OPTIONS = {
  source: { type: 'string' },
  target: { type: 'string' },
  'source-secret': { type: 'string' },
  'target-secret': { type: 'string' },
  'source-iam': { type: 'boolean' },
  'target-iam': { type: 'boolean' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  mode: { type: 'string' },
  recheck: { type: 'string' },
  'max-differences': { type: 'string' },
  concurrency: { type: 'string' },
  sync: { type: 'boolean' },
  'by-keys': { type: 'boolean' },
  'allow-replica-identity-full': { type: 'boolean' },
  'lob-max-size': { type: 'string' },
  'full-lob-mode': { type: 'boolean' },
  'exclude-column': { type: 'string', multiple: true },
  'show-values': { type: 'boolean' },
  'detail-rows': { type: 'string' },
  where: { type: 'string', multiple: true },
  'patch-file': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** The parsed values of OPTIONS: a boolean, a string or (for a repeatable option) strings; undefined when absent. */
type OptionValues = {
  -readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { type: 'boolean' }
    ? boolean
    : (typeof OPTIONS)[K] extends { multiple: true }
      ? string[]
      : string;
};

/**
 * Parses argv (without node and script); returns 'help' for --help and 'version' for --version. Throws UsageError
 * naming the problem. Connections are resolved with `ctx` (the environment, the home directory).
 *
 * The checks run in a fixed order (the first problem is the one reported): the command, the sides, each option's
 * scope and value, the table selection, then the connections themselves.
 */
export function parseCli(
  argv: readonly string[],
  ctx: ConninfoContext = { env: process.env },
  /** The secrets' keywords, once read (before that, placeholders let everything else be checked first). */
  secrets: { source?: Conninfo; target?: Conninfo } = {},
): CliOptions | 'help' | 'version' {
  rejectNegativeNumbers(argv);
  const parsed = parseCommandLine(argv, OPTIONS, true);
  const v = parsed.values as OptionValues;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const command = parseCommand(parsed.positionals);
  checkSides(command, v);
  const mode = parseMode(command, v);
  const { excludeColumns, patchFile, rowFilters } = parseRowAndColumnOptions(command, mode, v);
  const lobMaxSizeKiB = parseLobOptions(command, v);
  const recheckSeconds = parseRecheck(v.recheck);
  const selection = parseSelection(v);
  const { source, target } = resolveSides(v, ctx, secrets);
  return {
    command,
    source,
    ...(target ? { target } : {}),
    ...(v['source-secret'] ? { sourceSecret: v['source-secret'] } : {}),
    ...(v['target-secret'] ? { targetSecret: v['target-secret'] } : {}),
    selection,
    json: Boolean(v.json),
    mode,
    sync: Boolean(v.sync),
    concurrency: positiveInt('concurrency', v.concurrency, 2),
    maxDifferences: positiveInt('max-differences', v['max-differences'], 1000),
    recheckSeconds,
    byKeys: Boolean(v['by-keys']),
    allowReplicaIdentityFull: Boolean(v['allow-replica-identity-full']),
    ...(lobMaxSizeKiB !== undefined ? { lobMaxSizeKiB } : {}),
    fullLobMode: Boolean(v['full-lob-mode']),
    quiet: Boolean(v.quiet),
    excludeColumns,
    showValues: Boolean(v['show-values']),
    detailRows: positiveInt('detail-rows', v['detail-rows'], 100),
    rowFilters,
    ...(patchFile !== undefined ? { patchFile } : {}),
  };
}

/** The command: the one positional argument, one of COMMANDS (a near miss is named). */
function parseCommand(positionals: readonly string[]): Command {
  const [command, ...rest] = positionals;
  if (!command) throw new UsageError(`missing command: one of ${COMMANDS.join(', ')}`);
  if (!COMMANDS.includes(command as Command)) {
    const hint = didYouMean(command, [...COMMANDS, 'cutover']);
    throw new UsageError(
      `unknown command ${showValue(command)}${hint ? ` (did you mean ${hint}?)` : ''}: expected one of ${COMMANDS.join(', ')}`,
    );
  }
  if (rest.length) throw new UsageError(`unexpected argument ${showValue(rest[0])}`);
  return command as Command;
}

/** The secrets are named as Secrets Manager names them; every command but preflight needs a target. */
function checkSides(command: Command, v: OptionValues): void {
  for (const side of ['source', 'target'] as const) {
    const id = v[`${side}-secret`];
    if (id !== undefined && !SECRET_ID.test(id)) {
      throw new UsageError(`--${side}-secret must be a Secrets Manager secret ARN or name, got ${showValue(id)}`);
    }
  }
  if (command !== 'preflight' && v.target === undefined && v['target-secret'] === undefined) {
    throw new UsageError(`--target <connection> is required for ${command} (a postgres:// URL or a libpq conninfo)`);
  }
}

/** --mode (validate only; full by default), then the options of one command: --sync, --by-keys. */
function parseMode(command: Command, v: OptionValues): 'quick' | 'full' {
  const mode = v.mode ?? 'full';
  if (mode !== 'quick' && mode !== 'full') throw new UsageError(`--mode must be quick or full, got ${showValue(mode)}`);
  if (v.mode !== undefined && command !== 'validate') throw new UsageError('--mode applies to validate only');
  if (v.sync && command !== 'sequences') throw new UsageError('--sync applies to sequences only');
  if (v['by-keys'] && (command !== 'validate' || mode !== 'full')) {
    throw new UsageError('--by-keys applies to validate --mode full only');
  }
  return mode;
}

/** preflight's LOB options: --lob-max-size (KiB, limited LOB mode) or --full-lob-mode, not both. */
function parseLobOptions(command: Command, v: OptionValues): number | undefined {
  let lobMaxSizeKiB: number | undefined;
  if (v['lob-max-size'] !== undefined) {
    const kib = v['lob-max-size'];
    if (!/^\d+$/.test(kib) || Number(kib) < 1 || Number(kib) > 102400) {
      throw new UsageError(`--lob-max-size must be ${NUMERIC_OPTIONS['lob-max-size']}, got ${showValue(kib)}`);
    }
    lobMaxSizeKiB = Number(kib);
  }
  if ((lobMaxSizeKiB !== undefined || v['full-lob-mode']) && command !== 'preflight') {
    throw new UsageError('--lob-max-size and --full-lob-mode apply to preflight only');
  }
  if (lobMaxSizeKiB !== undefined && v['full-lob-mode']) {
    throw new UsageError('--lob-max-size is the limited LOB mode size: not with --full-lob-mode');
  }
  return lobMaxSizeKiB;
}

/** --recheck: seconds (a fraction allowed) from 0 to MAX_RECHECK_SECONDS. */
function parseRecheck(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > MAX_RECHECK_SECONDS)
    throw new UsageError(`--recheck must be ${NUMERIC_OPTIONS.recheck}, got ${showValue(text)}`);
  return Number(text);
}

/** --include and --exclude: the tables to check (every schema by default). */
function parseSelection(v: OptionValues): TableSelection {
  const rules = (list: string[] | undefined, name: string) =>
    (list ?? []).map((text) => {
      if (text.length > MAX_RULE_LENGTH) {
        throw new UsageError(
          `--${name} takes schema or schema.table of at most ${MAX_RULE_LENGTH} characters, got ${showValue(text)}`,
        );
      }
      try {
        return parseTableRule(text);
      } catch (error) {
        throw new UsageError(`--${name}: ${(error as Error).message}`);
      }
    });
  const include = rules(v.include, 'include');
  const exclude = rules(v.exclude, 'exclude');
  const selection: TableSelection = { include: include.length ? include : [{ schema: '%' }], exclude };
  try {
    assertValidSelection(selection);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return selection;
}

/**
 * Resolves the source and (when given) the target, with their secrets' keywords and IAM authentication; they must
 * be two databases.
 */
function resolveSides(
  v: OptionValues,
  ctx: ConninfoContext,
  secrets: { source?: Conninfo; target?: Conninfo },
): { source: ResolvedConnection; target?: ResolvedConnection } {
  // Until a secret is read, a placeholder of its own per side (so the rest of the command line is checked first).
  const fromSecret = (side: 'source' | 'target'): Conninfo =>
    v[`${side}-secret`] === undefined
      ? {}
      : (secrets[side] ?? { host: `${side}-secret.invalid`, dbname: side, user: side });
  const sourceFlag =
    v.source !== undefined ? '--source' : v['source-secret'] ? '--source-secret' : 'the source (PG* environment)';
  const iam = (flag: string, c: ResolvedConnection, on: boolean | undefined): ResolvedConnection =>
    on ? withIamAuthentication(flag, c, ctx.env) : c;
  const source = iam(
    '--source-iam',
    resolveConnection(sourceFlag, v.source, ctx, fromSecret('source')),
    v['source-iam'],
  );
  const target =
    v.target === undefined && v['target-secret'] === undefined
      ? undefined
      : iam(
          '--target-iam',
          resolveConnection(
            v.target !== undefined ? '--target' : '--target-secret',
            v.target,
            ctx,
            fromSecret('target'),
          ),
          v['target-iam'],
        );
  if (v['target-iam'] && !target) throw new UsageError('--target-iam needs --target or --target-secret');
  if (target && sameResolvedDatabase(source, target)) {
    throw new UsageError(
      `--source and --target name the same database (${source.description}): compare two databases` +
        (v.source === undefined && !v['source-secret']
          ? ' (the source comes from the PG* environment: give --source)'
          : ''),
    );
  }
  return { source, target };
}
