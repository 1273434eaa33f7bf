import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ClientConfig } from 'pg';
import {
  DATABASE_SSL_MODES,
  type DatabaseSide,
  type DatabaseSslMode,
  CUTOVER_ENVIRONMENT as E,
} from '../../../contract';

/**
 * TLS to each database is set per side, so a self-managed source with a self-signed certificate does not weaken
 * (or break) the connection to Aurora. Environment variables read here:
 * - `SOURCE_DB_SSL_MODE` / `TARGET_DB_SSL_MODE`: like libpq's `sslmode` (and DMS's `SslMode`):
 *   - `disable`: no TLS (local testing only);
 *   - `require`: encrypt, accept any server certificate (what DMS `require` does);
 *   - `verify-ca`: encrypt, verify the certificate chain but not the host name;
 *   - `verify-full` (default): encrypt, verify the chain and that the certificate names the host.
 * - `SOURCE_DB_SSL_CA_PEM` / `TARGET_DB_SSL_CA_PEM`: PEM text of a CA (public, not a secret) trusted **in addition
 *   to** Node's default trust store, which already holds `NODE_EXTRA_CA_CERTS` (the construct points that at the
 *   Lambda runtime's Amazon/RDS CA bundle). Literal `\n` sequences are read as newlines. Used by `verify-ca` /
 *   `verify-full` only.
 * - `SOURCE_DB_SSL_CA_FILE` / `TARGET_DB_SSL_CA_FILE`: the same CA as a file path instead (the construct ships the
 *   source CA in a layer, `/opt/...`: a certificate in the environment would not fit Lambda's 4 KB). At most one of
 *   the two per side.
 * - `DB_SSL` (legacy, both sides): `disable`, `false`, `off`, `0` or `no` turns TLS off where no
 *   `*_DB_SSL_MODE` is set; `require`, `true`, `on`, `1` or `yes` changes nothing (the mode's default applies).
 *   Any other value is an error. `DB_SSL_REJECT_UNAUTHORIZED` and `DB_SSL_CA_FILE` are no longer read: setting
 *   them is an error that names their replacement.
 * - `DB_SECRET_CACHE_SECONDS`: how long a secret is cached per container. @default 900
 */
export interface DatabaseSecretOptions {
  /** Which database the secret is for: selects its TLS settings. */
  readonly side: DatabaseSide;
  readonly client?: SecretsManagerClient;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
}

const SIDE_VARIABLES = {
  source: { mode: E.sourceDbSslMode, caPem: E.sourceDbSslCaPem, caFile: E.sourceDbSslCaFile },
  target: { mode: E.targetDbSslMode, caPem: E.targetDbSslCaPem, caFile: E.targetDbSslCaFile },
} as const;

const DB_SSL_OFF = ['disable', 'false', 'off', '0', 'no'];
const DB_SSL_ON = ['require', 'true', 'on', '1', 'yes'];
const REMOVED_VARIABLES = ['DB_SSL_REJECT_UNAUTHORIZED', 'DB_SSL_CA_FILE'];

interface DatabaseSecret {
  host?: unknown;
  port?: unknown;
  username?: unknown;
  password?: unknown;
  dbname?: unknown;
}

const cache = new Map<string, { expires: number; config: Promise<ClientConfig> }>();
let defaultClient: SecretsManagerClient | undefined;

/** Forgets cached secrets (tests; after a rotation). */
export function clearDatabaseSecretCache(): void {
  cache.clear();
}

/** Whether the legacy `DB_SSL` turns TLS off (undefined when unset or empty). */
function legacyDbSslOff(env: NodeJS.ProcessEnv): boolean | undefined {
  const raw = env[E.dbSsl];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = raw.trim().toLowerCase();
  if (DB_SSL_OFF.includes(value)) return true;
  if (DB_SSL_ON.includes(value)) return false;
  throw new Error(
    `environment variable ${E.dbSsl} must be one of ${[...DB_SSL_OFF, ...DB_SSL_ON].join(', ')}, got ${JSON.stringify(raw)}`,
  );
}

/** The TLS mode of `side`: its `*_DB_SSL_MODE`, else `disable` when the legacy `DB_SSL` says so, else `verify-full`. */
export function databaseSslMode(side: DatabaseSide, env: NodeJS.ProcessEnv = process.env): DatabaseSslMode {
  for (const name of REMOVED_VARIABLES) {
    if (env[name] !== undefined) {
      throw new Error(
        `environment variable ${name} is no longer read: use ${E.sourceDbSslMode} / ${E.targetDbSslMode} ` +
          `(${DATABASE_SSL_MODES.join(', ')}) and ${E.sourceDbSslCaPem} / ${E.targetDbSslCaPem} (PEM text)`,
      );
    }
  }
  const name = SIDE_VARIABLES[side].mode;
  const raw = env[name];
  const legacyOff = legacyDbSslOff(env);
  if (raw === undefined || raw.trim() === '') return legacyOff ? 'disable' : 'verify-full';
  const mode = raw.trim().toLowerCase();
  if (!(DATABASE_SSL_MODES as readonly string[]).includes(mode)) {
    throw new Error(
      `environment variable ${name} must be one of ${DATABASE_SSL_MODES.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  return mode as DatabaseSslMode;
}

/** Node's default trust: bundled roots plus NODE_EXTRA_CA_CERTS (Node 22.15+); bundled roots only before. */
function defaultCertificates(): readonly string[] {
  const getCACertificates = (tls as { getCACertificates?: (type?: 'default') => string[] }).getCACertificates;
  return getCACertificates ? getCACertificates('default') : tls.rootCertificates;
}

/** The pg `ssl` option of `side` (see the variables above). */
export function databaseSslOption(side: DatabaseSide, env: NodeJS.ProcessEnv = process.env): ClientConfig['ssl'] {
  const mode = databaseSslMode(side, env);
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  const { caPem, caFile } = SIDE_VARIABLES[side];
  const file = env[caFile]?.trim();
  if (file && env[caPem]?.trim()) {
    throw new Error(`environment variables ${caPem} and ${caFile} are both set: give the ${side} CA once`);
  }
  let name: string = caPem;
  let raw = env[caPem]?.trim();
  if (file) {
    name = `${caFile} (${file})`;
    try {
      raw = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new Error(`environment variable ${caFile}: cannot read the CA file ${JSON.stringify(file)}: ${String(e)}`, {
        cause: e,
      });
    }
  }
  let ca: string[] | undefined;
  if (raw) {
    const pem = raw.replace(/\\n/g, '\n');
    if (!pem.startsWith('-----BEGIN CERTIFICATE-----') || !pem.includes('-----END CERTIFICATE-----')) {
      throw new Error(
        `environment variable ${name} must be PEM text (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), got ${JSON.stringify(raw.slice(0, 40))}`,
      );
    }
    // added to the default trust: passing `ca` alone would replace it (RDS CA included)
    ca = [...defaultCertificates(), pem];
  }
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    // verify-ca: the chain, not the host name
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

async function load(
  secretArn: string,
  side: DatabaseSide,
  client: SecretsManagerClient,
  env: NodeJS.ProcessEnv,
): Promise<ClientConfig> {
  const ssl = databaseSslOption(side, env);
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!out.SecretString) throw new Error(`secret ${secretArn} has no SecretString`);
  let secret: DatabaseSecret;
  try {
    secret = JSON.parse(out.SecretString) as DatabaseSecret;
  } catch {
    throw new Error(`secret ${secretArn} is not JSON ({host, port, username, password, dbname})`);
  }
  for (const field of ['host', 'username', 'password'] as const) {
    if (typeof secret[field] !== 'string' || (secret[field] as string).length === 0) {
      throw new Error(`secret ${secretArn} lacks the "${field}" field`);
    }
  }
  const port = secret.port === undefined ? 5432 : Number(secret.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`secret ${secretArn} has an invalid "port": ${JSON.stringify(secret.port)}`);
  }
  return {
    host: secret.host as string,
    port,
    user: secret.username as string,
    password: secret.password as string,
    // The construct names each side's database (`*_DB_NAME`): DMS replicates that one, whatever the secret says.
    database:
      env[`${side.toUpperCase()}_DB_NAME`] ||
      (typeof secret.dbname === 'string' && secret.dbname ? secret.dbname : 'postgres'),
    ssl,
  };
}

/**
 * Reads `{host, port, username, password, dbname}` from a Secrets Manager secret into a pg config with the TLS
 * settings of `options.side`, cached per container (per side and secret).
 */
export function databaseConfigFromSecret(secretArn: string, options: DatabaseSecretOptions): Promise<ClientConfig> {
  const env = options.env ?? process.env;
  const now = (options.now ?? Date.now)();
  const key = `${options.side}\0${secretArn}`;
  const hit = cache.get(key);
  if (hit && hit.expires > now) return hit.config;
  const client = options.client ?? (defaultClient ??= new SecretsManagerClient({}));
  const config = load(secretArn, options.side, client, env);
  const ttl = Number(env.DB_SECRET_CACHE_SECONDS ?? 900) * 1000;
  cache.set(key, { expires: now + (Number.isFinite(ttl) ? ttl : 900_000), config });
  config.catch(() => cache.delete(key));
  return config;
}
