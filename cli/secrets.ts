/**
 * `--source-secret` / `--target-secret`: a connection's host, port, user, password and database read from an AWS
 * Secrets Manager secret (the `{host, port, username, password, dbname}` JSON RDS and the construct write). The
 * secret's value is never printed; errors name the secret and the field.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Conninfo } from './conninfo';

/** A secret ARN or name (what GetSecretValue's SecretId takes). */
export const SECRET_ID =
  /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]{1,512})$/;

/** Reads a database secret into conninfo keywords. `client` for tests. */
export async function readDatabaseSecret(id: string, client?: SecretsManagerClient): Promise<Conninfo> {
  const region = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(id)?.[1];
  const sm = client ?? new SecretsManagerClient(region ? { region } : {});
  let text: string | undefined;
  try {
    text = (await sm.send(new GetSecretValueCommand({ SecretId: id }))).SecretString;
  } catch (error) {
    const e = error as Error;
    throw new Error(`cannot read secret ${id}: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`, {
      cause: error,
    });
  } finally {
    if (!client) sm.destroy();
  }
  if (!text) throw new Error(`secret ${id} has no SecretString (a {host, port, username, password, dbname} JSON)`);
  let secret: Record<string, unknown>;
  try {
    secret = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`secret ${id} is not JSON (expected {host, port, username, password, dbname})`);
  }
  if (typeof secret !== 'object' || secret === null) throw new Error(`secret ${id} is not a JSON object`);
  const out: Conninfo = {};
  const str = (field: string): string | undefined => {
    const v = secret[field];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`secret ${id}: "${field}" is not a string`);
    return String(v);
  };
  const host = str('host');
  const port = str('port');
  const user = str('username');
  const password = str('password');
  const dbname = str('dbname');
  if (!host) throw new Error(`secret ${id} lacks the "host" field`);
  out.host = host;
  if (port) out.port = port;
  if (user) out.user = user;
  if (password) out.password = password;
  if (dbname) out.dbname = dbname;
  return out;
}
