/**
 * The one command-line parser of `zdm` and `npm run rehearse`: node's `parseArgs` with messages that name the bad
 * option, never echo a password (a URL anywhere in the arguments is redacted, whatever its position) and stay short.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { redactUrl } from '../lambda/engine';
import { didYouMean } from './suggest';

/** A bad command line: the program prints the message and exits 2. Nothing was changed. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(boundText(redactUrlsInText(message)));
    this.name = 'UsageError';
  }
}

/** The longest value an error message quotes. */
export const MAX_SHOWN_VALUE = 120;

/**
 * Every postgres URL in `text` with its password (and secret-looking parameters) replaced by `***`, and every
 * `password=…` of a keyword/value conninfo (quoted or not).
 */
export function redactUrlsInText(text: string): string {
  return text
    .replace(/postgres(?:ql)?:\/\/[^\s'"`]+/gi, (m) => redactUrl(m))
    .replace(
      /\b(password|sslpassword)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'"`&]+)/gi,
      (_m, k: string, eq: string) => `${k}${eq}***`,
    );
}

/** A value as an error message quotes it: JSON, redacted, at most MAX_SHOWN_VALUE characters. */
export function showValue(value: unknown): string {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  shown = redactUrlsInText(shown);
  return shown.length > MAX_SHOWN_VALUE ? `${shown.slice(0, MAX_SHOWN_VALUE)}… (${shown.length} characters)` : shown;
}

function boundText(text: string, max = 1000): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** Parses argv with `options`; throws UsageError naming the unknown option, the missing value or the stray argument. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: O,
  allowPositionals: boolean,
): { values: Record<string, string | string[] | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals });
    return {
      values: parsed.values as Record<string, string | string[] | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) {
      const name = unknown[1].slice(0, MAX_SHOWN_VALUE);
      const long = Object.keys(options);
      const hint = /^--/.test(name) ? didYouMean(name.slice(2).split('=')[0], long) : undefined;
      throw new UsageError(`unknown option ${name}${hint ? ` (did you mean --${hint}?)` : ''}`);
    }
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
    if (missing) throw new UsageError(`option ${missing[1]} needs a value`);
    const ambiguous = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    if (ambiguous) {
      throw new UsageError(
        `option ${ambiguous[1]} needs a value; write ${ambiguous[1]}=<value> for one starting with "-"`,
      );
    }
    const positional = /Unexpected argument '([^']*)'/.exec(message);
    if (positional) throw new UsageError(`unexpected argument ${showValue(positional[1])}`);
    throw new UsageError(message.split('\n')[0]);
  }
}

/** Checks a postgres URL; the error shows it without its password. */
export function databaseUrl(flag: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new UsageError(`${flag} must be a postgres:// URL, got ${showValue(value)}`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // An unparsable value may hold a password anywhere: do not echo it.
    throw new UsageError(
      `${flag} is not a valid URL (expected postgres://user:password@host:port/database; the value is not shown, it may contain a password)`,
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`${flag} must use postgres:// or postgresql://, got ${redactUrl(value)}`);
  }
  if (!url.hostname) throw new UsageError(`${flag} has no host: ${redactUrl(value)}`);
  if (url.port && !(Number(url.port) > 0 && Number(url.port) < 65536)) {
    throw new UsageError(`${flag} has an invalid port: ${redactUrl(value)}`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new UsageError(
      `${flag} must name a database (postgres://user:password@host:port/database), got ${redactUrl(value)}`,
    );
  }
  return value;
}

/** Whether two URLs point at the same database of the same server. */
export function sameDatabase(a: string, b: string): boolean {
  const key = (s: string): string => {
    const u = new URL(s);
    const host = ['localhost', '[::1]'].includes(u.hostname) ? '127.0.0.1' : u.hostname;
    return `${host}:${u.port || '5432'}${decodeURIComponent(u.pathname)}`;
  };
  try {
    return key(a) === key(b);
  } catch {
    return false;
  }
}
