/**
 * Per-side TLS of the cutover Lambdas' database connections: SOURCE_/TARGET_DB_SSL_MODE and
 * SOURCE_/TARGET_DB_SSL_CA_PEM → the pg `ssl` option, checked against a real TLS server whose certificate
 * (for `db.internal`) is signed by a private CA (test/support/tls: test-only keys, never used elsewhere).
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  clearDatabaseSecretCache,
  databaseConfigFromSecret,
  databaseSslOption,
} from '../../../../lambda/engine/aws/database-secret';

const fixture = (name: string) => readFileSync(path.join(__dirname, '..', '..', '..', 'support', 'tls', name), 'utf8');
const CA_PEM = fixture('ca.pem');

let server: tls.Server;
let port: number;

beforeAll(async () => {
  server = tls.createServer({ key: fixture('server.key'), cert: fixture('server.pem') }, (socket) => socket.end());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Connects the way pg does (`tls.connect({...ssl, servername: host})`); resolves 'ok' or the error code. */
function handshake(ssl: unknown, servername: string): Promise<string> {
  if (ssl === false) return Promise.resolve('no tls');
  return new Promise((resolve) => {
    const socket = tls.connect({ ...(ssl as tls.ConnectionOptions), host: '127.0.0.1', port, servername }, () => {
      socket.destroy();
      resolve('ok');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('databaseSslOption: mode → pg ssl', () => {
  it('disable: no TLS', () => {
    expect(databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'disable' })).toBe(false);
  });

  it('require: encrypts and accepts any certificate (like DMS require)', async () => {
    const ssl = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'require' });
    expect(ssl).toEqual({ rejectUnauthorized: false });
    expect(await handshake(ssl, 'db.internal')).toBe('ok');
    expect(await handshake(ssl, 'another.host')).toBe('ok');
  });

  it('verify-ca: checks the chain against the CA PEM but not the host name', async () => {
    const ssl = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-ca', SOURCE_DB_SSL_CA_PEM: CA_PEM });
    expect(await handshake(ssl, 'db.internal')).toBe('ok');
    expect(await handshake(ssl, 'another.host')).toBe('ok');
  });

  it('fails when verify-ca meets a certificate its trust does not sign', async () => {
    const ssl = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-ca' });
    expect(await handshake(ssl, 'db.internal')).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('verify-full: checks the chain and the host name', async () => {
    const ssl = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-full', SOURCE_DB_SSL_CA_PEM: CA_PEM });
    expect(await handshake(ssl, 'db.internal')).toBe('ok');
    expect(await handshake(ssl, 'another.host')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    const untrusted = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-full' });
    expect(await handshake(untrusted, 'db.internal')).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('adds the CA PEM to the default trust instead of replacing it', () => {
    const ssl = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-full', SOURCE_DB_SSL_CA_PEM: CA_PEM });
    const ca = (ssl as { ca: string[] }).ca;
    expect(ca).toEqual(expect.arrayContaining([...tls.rootCertificates, CA_PEM.trim()]));
  });

  it('accepts a PEM whose newlines were written as \\n', () => {
    const ssl = databaseSslOption('source', {
      SOURCE_DB_SSL_MODE: 'verify-ca',
      SOURCE_DB_SSL_CA_PEM: CA_PEM.trim().replace(/\n/g, '\\n'),
    });
    expect((ssl as { ca: string[] }).ca).toContain(CA_PEM.trim());
  });

  it('keeps the sides apart: the source CA and mode do not touch the target', () => {
    const env = { SOURCE_DB_SSL_MODE: 'require', SOURCE_DB_SSL_CA_PEM: CA_PEM, TARGET_DB_SSL_MODE: 'verify-full' };
    expect(databaseSslOption('source', env)).toEqual({ rejectUnauthorized: false });
    // the default trust, which includes NODE_EXTRA_CA_CERTS (the RDS CA bundle): no `ca` override
    expect(databaseSslOption('target', env)).toEqual({ rejectUnauthorized: true });
  });

  it('defaults to verify-full without a mode, and follows a legacy DB_SSL that turns TLS off', () => {
    expect(databaseSslOption('target', {})).toEqual({ rejectUnauthorized: true });
    expect(databaseSslOption('source', { DB_SSL: 'off' })).toBe(false);
    expect(databaseSslOption('source', { DB_SSL: 'off', SOURCE_DB_SSL_MODE: 'require' })).toEqual({
      rejectUnauthorized: false,
    });
    expect(databaseSslOption('target', { DB_SSL: 'on' })).toEqual({ rejectUnauthorized: true });
  });

  it.each(['verify', 'prefer', 'none', 'true'])(
    'fails when SOURCE_DB_SSL_MODE is %j, naming the variable and the value',
    (mode) => {
      expect(() => databaseSslOption('source', { SOURCE_DB_SSL_MODE: mode })).toThrow(
        `environment variable SOURCE_DB_SSL_MODE must be one of disable, require, verify-ca, verify-full, got ${JSON.stringify(mode)}`,
      );
    },
  );

  it('verify-full with the CA as a file (the layer the construct ships): checks the chain and the host name', async () => {
    const file = path.join(__dirname, '..', '..', '..', 'support', 'tls', 'ca.pem');
    const ssl = databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-full', SOURCE_DB_SSL_CA_FILE: file });
    expect((ssl as { ca: string[] }).ca).toContain(CA_PEM.trim());
    expect(await handshake(ssl, 'db.internal')).toBe('ok');
    expect(await handshake(ssl, 'another.host')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('fails when the CA file cannot be read, naming the variable and the path', () => {
    expect(() =>
      databaseSslOption('source', { SOURCE_DB_SSL_MODE: 'verify-full', SOURCE_DB_SSL_CA_FILE: '/opt/zdm/missing.pem' }),
    ).toThrow(/environment variable SOURCE_DB_SSL_CA_FILE: cannot read the CA file "\/opt\/zdm\/missing.pem"/);
  });

  it('fails when both the CA text and the CA file are given for one side', () => {
    expect(() =>
      databaseSslOption('source', {
        SOURCE_DB_SSL_MODE: 'verify-full',
        SOURCE_DB_SSL_CA_PEM: CA_PEM,
        SOURCE_DB_SSL_CA_FILE: '/opt/zdm/source-ca.pem',
      }),
    ).toThrow('environment variables SOURCE_DB_SSL_CA_PEM and SOURCE_DB_SSL_CA_FILE are both set');
  });

  it('fails when the CA variable holds no PEM certificate', () => {
    expect(() =>
      databaseSslOption('target', { TARGET_DB_SSL_MODE: 'verify-full', TARGET_DB_SSL_CA_PEM: '/opt/ca.pem' }),
    ).toThrow(/environment variable TARGET_DB_SSL_CA_PEM must be PEM text \(-----BEGIN CERTIFICATE-----/);
  });

  it.each(['DB_SSL_REJECT_UNAUTHORIZED', 'DB_SSL_CA_FILE'])('fails when the removed %s is set', (name) => {
    expect(() => databaseSslOption('source', { [name]: 'x' })).toThrow(
      new RegExp(`environment variable ${name} is no longer read: use SOURCE_DB_SSL_MODE`),
    );
  });
});

describe('databaseConfigFromSecret per side', () => {
  const sm = mockClient(SecretsManagerClient);
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  beforeEach(() => {
    sm.reset();
    clearDatabaseSecretCache();
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'db', username: 'u', password: 'p' }),
    });
  });

  it('gives each side its own TLS settings, even for the same secret', async () => {
    const env = { SOURCE_DB_SSL_MODE: 'require', TARGET_DB_SSL_MODE: 'verify-full' };
    const source = await databaseConfigFromSecret('arn:same', { side: 'source', client, env });
    const target = await databaseConfigFromSecret('arn:same', { side: 'target', client, env });
    expect(source.ssl).toEqual({ rejectUnauthorized: false });
    expect(target.ssl).toEqual({ rejectUnauthorized: true });
  });

  it("connects to each side's named database (*_DB_NAME) over the secret's dbname; without either, postgres", async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'arn:aurora' }).resolves({
      // A secret Aurora generates: no dbname.
      SecretString: JSON.stringify({ host: 'aurora', username: 'u', password: 'p' }),
    });
    sm.on(GetSecretValueCommand, { SecretId: 'arn:source' }).resolves({
      SecretString: JSON.stringify({ host: 'db', username: 'u', password: 'p', dbname: 'other' }),
    });
    const env = { SOURCE_DB_NAME: 'orders', TARGET_DB_NAME: 'orders_aurora' };
    await expect(databaseConfigFromSecret('arn:aurora', { side: 'target', client, env })).resolves.toMatchObject({
      database: 'orders_aurora',
    });
    await expect(databaseConfigFromSecret('arn:source', { side: 'source', client, env })).resolves.toMatchObject({
      database: 'orders',
    });
    clearDatabaseSecretCache();
    await expect(databaseConfigFromSecret('arn:aurora', { side: 'target', client, env: {} })).resolves.toMatchObject({
      database: 'postgres',
    });
    await expect(databaseConfigFromSecret('arn:source', { side: 'source', client, env: {} })).resolves.toMatchObject({
      database: 'other',
    });
  });

  it('fails when the mode is invalid, and does not cache the failure', async () => {
    await expect(
      databaseConfigFromSecret('arn:s', { side: 'source', client, env: { SOURCE_DB_SSL_MODE: 'maybe' } }),
    ).rejects.toThrow(/SOURCE_DB_SSL_MODE .* got "maybe"/);
    await expect(
      databaseConfigFromSecret('arn:s', { side: 'source', client, env: { SOURCE_DB_SSL_MODE: 'require' } }),
    ).resolves.toMatchObject({ ssl: { rejectUnauthorized: false } });
  });
});
