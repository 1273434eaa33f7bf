import { assertValidSelection, parseTableRule, type TableSelection } from '../contract';
import { databaseUrl, parseCommandLine, sameDatabase, showValue, UsageError } from './command-line';

export type Command = 'preflight' | 'validate' | 'sequences' | 'schema';
export const COMMANDS: readonly Command[] = ['preflight', 'validate', 'sequences', 'schema'];

export interface CliOptions {
  readonly command: Command;
  readonly source: string;
  readonly target?: string;
  readonly selection: TableSelection;
  readonly json: boolean;
  readonly mode: 'quick' | 'full';
  readonly sync: boolean;
  readonly concurrency: number;
  readonly maxDifferences: number;
  readonly recheckSeconds?: number;
  readonly allowReplicaIdentityFull: boolean;
  /** No progress on stderr. */
  readonly quiet: boolean;
}

export { UsageError };

export const USAGE = `Usage: zdm <command> --source <postgres-url> [--target <postgres-url>] [options]

Commands:
  preflight    check the source is ready for DMS (source only)
  validate     compare source and target: --mode quick (row counts) or full (every row, default)
  sequences    compare sequence values; --sync moves target sequences past the source (idempotent)
  schema       tables, columns, keys, constraints, indexes and triggers missing or different on the target

Options:
  --source <url>            source database (required)
  --target <url>            target database (required except for preflight)
  --include <schema[.table]>  tables to check, repeatable; % is a wildcard (default: every schema)
  --exclude <schema[.table]>  tables to leave out, repeatable
  --mode quick|full         validate: counts only, or checksums of every row (default full)
  --recheck <seconds>       validate: re-read differing rows after this delay (in-flight rows converge)
  --max-differences <n>     validate: rows listed per table (default 1000)
  --concurrency <n>         queries in flight per database (default 2)
  --sync                    sequences: set the target sequences
  --allow-replica-identity-full  preflight: accept tables without a primary key that have REPLICA IDENTITY FULL
  --json                    print one JSON document on stdout
  --quiet, -q               no progress on stderr (a bar on a terminal, else a line every few seconds)
  --help                    this text

Exit codes: 0 everything matches / ready, 1 differences or preflight errors found, 2 usage or connection error.
`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${showValue(value)}`);
  return Number(value);
}

/** Parses argv (without node and script); returns 'help' for --help. Throws UsageError naming the problem. */
export function parseCli(argv: readonly string[]): CliOptions | 'help' {
  const parsed = parseCommandLine(
    argv,
    {
      source: { type: 'string' },
      target: { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      mode: { type: 'string' },
      recheck: { type: 'string' },
      'max-differences': { type: 'string' },
      concurrency: { type: 'string' },
      sync: { type: 'boolean' },
      'allow-replica-identity-full': { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  const v = parsed.values as {
    source?: string;
    target?: string;
    include?: string[];
    exclude?: string[];
    mode?: string;
    recheck?: string;
    'max-differences'?: string;
    concurrency?: string;
    sync?: boolean;
    'allow-replica-identity-full'?: boolean;
    json?: boolean;
    quiet?: boolean;
    help?: boolean;
  };
  if (v.help) return 'help';
  const [command, ...rest] = parsed.positionals;
  if (!command) throw new UsageError(`missing command: one of ${COMMANDS.join(', ')}`);
  if (!COMMANDS.includes(command as Command)) {
    throw new UsageError(`unknown command ${showValue(command)}: expected one of ${COMMANDS.join(', ')}`);
  }
  if (rest.length) throw new UsageError(`unexpected argument ${showValue(rest[0])}`);
  if (!v.source) throw new UsageError('--source <postgres-url> is required');
  if (command !== 'preflight' && !v.target) throw new UsageError(`--target <postgres-url> is required for ${command}`);
  const mode = v.mode ?? 'full';
  if (mode !== 'quick' && mode !== 'full') throw new UsageError(`--mode must be quick or full, got ${showValue(mode)}`);
  if (v.mode !== undefined && command !== 'validate') throw new UsageError('--mode applies to validate only');
  if (v.sync && command !== 'sequences') throw new UsageError('--sync applies to sequences only');
  let recheckSeconds: number | undefined;
  if (v.recheck !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(v.recheck))
      throw new UsageError(`--recheck must be a number of seconds, got ${showValue(v.recheck)}`);
    recheckSeconds = Number(v.recheck);
  }
  const rules = (list: string[] | undefined, name: string) =>
    (list ?? []).map((text) => {
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
  for (const [name, url] of [
    ['source', v.source],
    ['target', v.target],
  ] as const) {
    if (url !== undefined) databaseUrl(`--${name}`, url);
  }
  if (v.source && v.target && sameDatabase(v.source, v.target)) {
    throw new UsageError(
      `--source and --target name the same database (${showValue(v.source)}): compare two databases`,
    );
  }
  return {
    command: command as Command,
    source: v.source,
    target: v.target,
    selection,
    json: Boolean(v.json),
    mode,
    sync: Boolean(v.sync),
    concurrency: positiveInt('concurrency', v.concurrency, 2),
    maxDifferences: positiveInt('max-differences', v['max-differences'], 1000),
    recheckSeconds,
    allowReplicaIdentityFull: Boolean(v['allow-replica-identity-full']),
    quiet: Boolean(v.quiet),
  };
}
