import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ClientConfig } from 'pg';

/**
 * Environment variables read here:
 * - `DB_SSL`: `require` (default; TLS on) or `disable` (local testing only).
 * - `DB_SSL_REJECT_UNAUTHORIZED`: `false` to accept a certificate that does not verify. @default true
 * - `DB_SSL_CA_FILE`: path of a PEM CA bundle (e.g. the RDS global bundle shipped with the function).
 * - `DB_SECRET_CACHE_SECONDS`: how long a secret is cached per container. @default 900
 */
export interface DatabaseSecretOptions {
  readonly client?: SecretsManagerClient;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
}

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

function sslConfig(env: NodeJS.ProcessEnv): ClientConfig['ssl'] {
  if ((env.DB_SSL ?? 'require').toLowerCase() === 'disable') return false;
  const rejectUnauthorized = (env.DB_SSL_REJECT_UNAUTHORIZED ?? 'true').toLowerCase() !== 'false';
  const ca = env.DB_SSL_CA_FILE ? readFileSync(env.DB_SSL_CA_FILE, 'utf8') : undefined;
  return { rejectUnauthorized, ...(ca ? { ca } : {}) };
}

async function load(secretArn: string, client: SecretsManagerClient, env: NodeJS.ProcessEnv): Promise<ClientConfig> {
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
    database: typeof secret.dbname === 'string' && secret.dbname ? secret.dbname : 'postgres',
    ssl: sslConfig(env),
  };
}

/** Reads `{host, port, username, password, dbname}` from a Secrets Manager secret into a pg config, cached per container. */
export function databaseConfigFromSecret(
  secretArn: string,
  options: DatabaseSecretOptions = {},
): Promise<ClientConfig> {
  const env = options.env ?? process.env;
  const now = (options.now ?? Date.now)();
  const hit = cache.get(secretArn);
  if (hit && hit.expires > now) return hit.config;
  const client = options.client ?? (defaultClient ??= new SecretsManagerClient({}));
  const config = load(secretArn, client, env);
  const ttl = Number(env.DB_SECRET_CACHE_SECONDS ?? 900) * 1000;
  cache.set(secretArn, { expires: now + (Number.isFinite(ttl) ? ttl : 900_000), config });
  config.catch(() => cache.delete(secretArn));
  return config;
}
