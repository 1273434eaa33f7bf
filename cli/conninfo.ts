/**
 * libpq's connection conventions for `zdm`, as `psql` and `pg_dump` apply them: a connection is a URL
 * (`postgres://user@host:port/db?sslmode=verify-full`) or a keyword/value conninfo (`host=… dbname=… sslmode=…`),
 * completed, for every keyword it leaves out, by the service file entry (`service=` or `PGSERVICE`), then the `PG*`
 * environment, then libpq's defaults; the password from the conninfo, `PGPASSWORD`, or the password file
 * (`passfile=`, `PGPASSFILE`, `~/.pgpass`); `sslmode` with libpq's six meanings and `sslrootcert` (a file, `system`,
 * or `rds`: the Amazon RDS CA bundle shipped in `zdm`, used by default for `*.rds.amazonaws.com` hosts).
 *
 * Everything is resolved here (the TLS settings in cli/conninfo-tls.ts), into a node-postgres config with explicit
 * fields: pg never parses a connection string (no "SECURITY WARNING") nor reads a password file itself (no
 * `DeprecationWarning`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ClientConfig } from 'pg';
import { showValue, UsageError } from './command-line';
import { resolveTls, sslModeOf, type SslMode } from './conninfo-tls';
import { didYouMean } from './suggest';

/** The conninfo keywords `zdm` understands (libpq's names). */
export const CONNINFO_KEYWORDS = [
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'passfile',
  'service',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'application_name',
  'fallback_application_name',
  'connect_timeout',
  'options',
] as const;
export type ConninfoKeyword = (typeof CONNINFO_KEYWORDS)[number];
export type Conninfo = Partial<Record<ConninfoKeyword, string>>;

/** The `PG*` environment variables and the keyword each one supplies (libpq's table). */
export const ENVIRONMENT_KEYWORDS: Readonly<Record<string, ConninfoKeyword>> = {
  PGHOST: 'host',
  PGHOSTADDR: 'hostaddr',
  PGPORT: 'port',
  PGDATABASE: 'dbname',
  PGUSER: 'user',
  PGPASSWORD: 'password',
  PGPASSFILE: 'passfile',
  PGSERVICE: 'service',
  PGSSLMODE: 'sslmode',
  PGSSLROOTCERT: 'sslrootcert',
  PGSSLCERT: 'sslcert',
  PGSSLKEY: 'sslkey',
  PGAPPNAME: 'application_name',
  PGCONNECT_TIMEOUT: 'connect_timeout',
  PGOPTIONS: 'options',
};

export { isRdsHost, rdsCaBundle, SSL_MODES, type SslMode } from './conninfo-tls';

/** What the resolution reads: the environment, files and the user (tests give their own). */
export interface ConninfoContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** @default os.homedir() */
  readonly home?: string;
  /** @default os.userInfo().username */
  readonly osUser?: string;
  /** Receives warnings libpq would print (e.g. a password file readable by others). */
  readonly warn?: (message: string) => void;
}

/** A connection ready for node-postgres: the configs to try in order (libpq's `allow`/`prefer` fall back). */
export interface ResolvedConnection {
  /** Where, for messages: `host:port/dbname as user (sslmode …)`, never the password. */
  readonly description: string;
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
  readonly user: string;
  readonly sslmode: SslMode;
  /** What verified the server: a file, `system`, `rds` (the shipped bundle), or none. */
  readonly sslrootcert?: string;
  readonly applicationName: string;
  /** The password, when one was found (for redaction; never printed). */
  readonly password?: string;
  /** Where the password came from, for messages. */
  readonly passwordSource?: 'conninfo' | 'PGPASSWORD' | 'password file' | 'service file' | 'secret';
  /** First config, then the fallback libpq's sslmode allows (prefer: without TLS; allow: with TLS). */
  readonly attempts: readonly ClientConfig[];
}

/** The longest connection argument accepted. */
export const MAX_CONNINFO_LENGTH = 4096;

function isUrl(text: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(text);
}

function checkKeyword(flag: string, key: string): ConninfoKeyword {
  if ((CONNINFO_KEYWORDS as readonly string[]).includes(key)) return key as ConninfoKeyword;
  const hint = didYouMean(key, CONNINFO_KEYWORDS);
  throw new UsageError(
    `${flag}: unknown connection keyword ${showValue(key.slice(0, 60))}${hint ? ` (did you mean "${hint}"?)` : ''}; ` +
      `zdm understands ${CONNINFO_KEYWORDS.join(', ')}`,
  );
}

function decode(flag: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`${flag}: bad percent-encoding in the URL (the value is not shown, it may hold a password)`);
  }
}

/** Parses a postgres URL (libpq's form: host, port and database may be empty; parameters are keywords). */
function parseUrl(flag: string, text: string): Conninfo {
  const m = /^postgres(?:ql)?:\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/is.exec(text);
  if (!m) {
    throw new UsageError(
      `${flag} is not a valid postgres URL (expected postgres://user:password@host:port/database; the value is not shown, it may contain a password)`,
    );
  }
  const [, authority, path, query] = m;
  const out: Conninfo = {};
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const hostport = at === -1 ? authority : authority.slice(at + 1);
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
    if (user) out.user = decode(flag, user);
    if (colon !== -1) out.password = decode(flag, userinfo.slice(colon + 1));
  }
  if (hostport.includes(',')) {
    throw new UsageError(`${flag}: several hosts in one URL are not supported by zdm; give one host`);
  }
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostport);
  if (hp?.[1]) out.host = decode(flag, hp[1].replace(/^\[|\]$/g, ''));
  if (hp?.[2]) out.port = hp[2];
  if (path) out.dbname = decode(flag, path);
  if (query) {
    for (const pair of query.split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      const key = decode(flag, eq === -1 ? pair : pair.slice(0, eq));
      const value = decode(flag, eq === -1 ? '' : pair.slice(eq + 1).replace(/\+/g, ' '));
      // libpq accepts ssl=true as sslmode=require (the JDBC spelling); everything else must be a keyword.
      if (key === 'ssl' && value === 'true') {
        out.sslmode ??= 'require';
        continue;
      }
      out[checkKeyword(flag, key)] = value;
    }
  }
  return out;
}

/** Parses libpq's keyword/value form: `key=value` pairs separated by spaces; values may be single-quoted. */
function parseKeywordValue(flag: string, text: string): Conninfo {
  const out: Conninfo = {};
  let i = 0;
  const n = text.length;
  const skipSpace = (): void => {
    while (i < n && /\s/.test(text[i])) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= n) break;
    const start = i;
    while (i < n && text[i] !== '=' && !/\s/.test(text[i])) i++;
    const key = text.slice(start, i);
    skipSpace();
    if (text[i] !== '=') {
      throw new UsageError(
        `${flag}: expected keyword=value after ${showValue(key.slice(0, 60))} (a postgres:// URL or libpq conninfo such as "host=db.example.com dbname=app")`,
      );
    }
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i++];
        if (c === '\\' && i < n) value += text[i++];
        else if (c === "'") {
          closed = true;
          break;
        } else value += c;
      }
      if (!closed) throw new UsageError(`${flag}: unterminated quoted value of ${showValue(key.slice(0, 60))}`);
    } else {
      while (i < n && !/\s/.test(text[i])) {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i++];
      }
    }
    out[checkKeyword(flag, key)] = value;
  }
  return out;
}

/** Parses a URL or a keyword/value conninfo; names the bad part, never a password. */
export function parseConninfo(flag: string, text: string): Conninfo {
  if (text.length > MAX_CONNINFO_LENGTH) {
    throw new UsageError(`${flag} is ${text.length} characters long: at most ${MAX_CONNINFO_LENGTH}`);
  }
  return isUrl(text) ? parseUrl(flag, text) : parseKeywordValue(flag, text);
}

/** The service file's entry `name` (INI: `[name]` then keyword=value lines), or undefined when no file has it. */
function serviceEntry(flag: string, name: string, ctx: ConninfoContext, home: string): Conninfo {
  const files = [
    ctx.env.PGSERVICEFILE ?? join(home, '.pg_service.conf'),
    join(ctx.env.PGSYSCONFDIR ?? '/etc/postgresql-common', 'pg_service.conf'),
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`${flag}: cannot read the service file ${showValue(file)}: ${(error as Error).message}`);
    }
    let current: string | undefined;
    let found = false;
    const out: Conninfo = {};
    for (const [index, raw] of text.split(/\r?\n/).entries()) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const section = /^\[(.*)\]$/.exec(line);
      if (section) {
        if (found) break;
        current = section[1];
        found = current === name;
        continue;
      }
      if (!found) continue;
      const eq = line.indexOf('=');
      if (eq === -1) {
        throw new UsageError(`${flag}: syntax error in service file ${showValue(file)}, line ${index + 1}`);
      }
      const key = line.slice(0, eq).trim();
      if (key === 'service') {
        throw new UsageError(`${flag}: nested service specifications are not supported in ${showValue(file)}`);
      }
      out[checkKeyword(`${flag} (service file ${file}, line ${index + 1})`, key)] = line.slice(eq + 1).trim();
    }
    if (found) return out;
  }
  throw new UsageError(
    `${flag}: definition of service ${showValue(name)} not found (looked in ${files.map((f) => showValue(f)).join(' and ')})`,
  );
}

/** libpq's password file lookup: hostname:port:database:username:password, `*` matches anything. */
function passwordFromFile(
  file: string,
  host: string,
  port: number,
  dbname: string,
  user: string,
  warn: ((m: string) => void) | undefined,
): string | undefined {
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return undefined;
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      warn?.(
        `password file ${showValue(file)} has group or world access; permissions should be u=rw (0600) or less: not used`,
      );
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const fields = (line: string): string[] => {
    const out: string[] = [];
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '\\' && i + 1 < line.length) cur += line[++i];
      else if (line[i] === ':' && out.length < 4) {
        out.push(cur);
        cur = '';
      } else cur += line[i];
    }
    out.push(cur);
    return out;
  };
  for (const raw of text.split(/\r?\n/)) {
    if (!raw || raw.startsWith('#')) continue;
    const f = fields(raw);
    if (f.length < 5) continue;
    const wanted = [host, String(port), dbname, user];
    if (wanted.every((w, i) => f[i] === '*' || f[i] === w)) return f[4];
  }
  return undefined;
}

/** A side's keywords, by where they came from (libpq's precedence: given, then service, then environment). */
interface KeywordLayers {
  /** The secret's keywords with the command line's on top. */
  readonly given: Conninfo;
  readonly fromSecret: Conninfo;
  readonly fromService: Conninfo;
  readonly fromEnv: Conninfo;
  /** Every keyword, from the layer that wins. */
  readonly merged: Conninfo;
}

function keywordLayers(
  flag: string,
  text: string | undefined,
  ctx: ConninfoContext,
  fromSecret: Conninfo,
  home: string,
): KeywordLayers {
  const given = { ...fromSecret, ...(text === undefined ? {} : parseConninfo(flag, text)) };
  const fromEnv: Conninfo = {};
  for (const [variable, keyword] of Object.entries(ENVIRONMENT_KEYWORDS)) {
    const value = ctx.env[variable];
    if (value !== undefined && value !== '') fromEnv[keyword] = value;
  }
  const service = given.service ?? fromEnv.service;
  const fromService = service ? serviceEntry(flag, service, ctx, home) : {};
  // libpq: the conninfo wins, then the service file, then the environment.
  return { given, fromSecret, fromService, fromEnv, merged: { ...fromEnv, ...fromService, ...given } };
}

/** The port keyword (5432 by default): a number from 1 to 65535. */
function portOf(flag: string, keyword: string | undefined): number {
  const portText = keyword ?? '5432';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new UsageError(`${flag}: invalid port ${showValue(portText.slice(0, 60))}: a number from 1 to 65535`);
  }
  return Number(portText);
}

/** connect_timeout in milliseconds (15 s by default); libpq: 0 waits forever, and anything below 2 s is 2 s. */
function connectTimeoutMsOf(flag: string, keyword: string | undefined): number {
  if (keyword === undefined) return 15_000;
  if (!/^\d+$/.test(keyword)) {
    throw new UsageError(`${flag}: invalid connect_timeout ${showValue(keyword.slice(0, 60))}: seconds`);
  }
  const seconds = Number(keyword);
  return seconds === 0 ? 0 : Math.max(2, seconds) * 1000;
}

/** The password: conninfo/service/PGPASSWORD, else the password file (for the host libpq would look up). */
function findPassword(
  layers: KeywordLayers,
  server: { host: string; port: number; dbname: string; user: string },
  home: string,
  warn: ((m: string) => void) | undefined,
): Pick<ResolvedConnection, 'password' | 'passwordSource'> {
  const { given, fromSecret, fromService, fromEnv, merged: c } = layers;
  let password = c.password;
  let passwordSource: ResolvedConnection['passwordSource'] =
    given.password !== undefined
      ? fromSecret.password !== undefined && given.password === fromSecret.password
        ? 'secret'
        : 'conninfo'
      : fromService.password !== undefined
        ? 'service file'
        : fromEnv.password !== undefined
          ? 'PGPASSWORD'
          : undefined;
  if (password === undefined) {
    const { host, port, dbname, user } = server;
    const passfile = c.passfile ?? join(home, '.pgpass');
    const lookupHost = host.startsWith('/') ? 'localhost' : host;
    password = passwordFromFile(passfile, lookupHost, port, dbname, user, warn);
    if (password !== undefined) passwordSource = 'password file';
  }
  return { password, passwordSource };
}

/**
 * Resolves one side's connection the way libpq would: `text` (a URL or conninfo; undefined = the environment
 * alone), then the service entry, then the `PG*` environment, then defaults; the password; the TLS settings.
 */
export function resolveConnection(
  flag: string,
  text: string | undefined,
  ctx: ConninfoContext,
  /** Keywords read from a Secrets Manager secret (--source-secret): below the conninfo, above service and PG*. */
  fromSecret: Conninfo = {},
): ResolvedConnection {
  const home = ctx.home ?? homedir();
  const layers = keywordLayers(flag, text, ctx, fromSecret, home);
  const c = layers.merged;
  const host = c.host ?? 'localhost';
  const sslmode = sslModeOf(flag, c.sslmode, host, c.hostaddr);
  const port = portOf(flag, c.port);
  const user = c.user ?? ctx.osUser ?? userInfo().username;
  const dbname = c.dbname ?? user;
  const connectTimeoutMs = connectTimeoutMsOf(flag, c.connect_timeout);
  const { password, passwordSource } = findPassword(layers, { host, port, dbname, user }, home, ctx.warn);
  const { rootcert, effective, sslOptions } = resolveTls(flag, c, host, sslmode, home);

  const applicationName = c.application_name ?? c.fallback_application_name ?? 'zdm-cli';
  const base: ClientConfig = {
    host: c.hostaddr ?? host,
    port,
    user,
    database: dbname,
    // Never undefined: pg would read PGPASSFILE itself (with a DeprecationWarning). libpq's message instead.
    password:
      password ??
      (() =>
        Promise.reject(
          new Error(
            `the server asked for a password and none was given (password=, PGPASSWORD, a password file such as ~/.pgpass, or a service)`,
          ),
        )),
    connectionTimeoutMillis: connectTimeoutMs,
    ...(c.options !== undefined ? { options: c.options } : {}),
  };
  const attempts = sslOptions.map((ssl) => ({ ...base, ssl: ssl ?? false }));
  const shownRoot =
    rootcert === undefined ? '' : `, sslrootcert=${rootcert === 'rds' || rootcert === 'system' ? rootcert : 'file'}`;
  return {
    description: `${host.includes(':') ? `[${host}]` : host}:${port}/${dbname} as ${user} (sslmode=${effective}${shownRoot})`,
    host,
    port,
    dbname,
    user,
    sslmode: effective,
    ...(rootcert !== undefined ? { sslrootcert: rootcert } : {}),
    applicationName,
    ...(password !== undefined ? { password } : {}),
    ...(passwordSource ? { passwordSource } : {}),
    attempts,
  };
}

/** Whether two resolved connections reach the same database of the same server. */
export function sameResolvedDatabase(a: ResolvedConnection, b: ResolvedConnection): boolean {
  const norm = (h: string): string => (['localhost', '::1', '[::1]'].includes(h) ? '127.0.0.1' : h.toLowerCase());
  return norm(a.host) === norm(b.host) && a.port === b.port && a.dbname === b.dbname;
}

/** libpq's `prefer` falls back to plain text when the server has no TLS; `allow` tries TLS when plain text fails. */
export function shouldFallBack(mode: SslMode, error: unknown): boolean {
  if (mode === 'allow') return true;
  if (mode === 'prefer') return /does not support SSL/i.test(String((error as Error)?.message ?? error));
  return false;
}
