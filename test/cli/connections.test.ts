/**
 * `zdm` connecting the libpq ways to real PostgreSQL: the PG* environment alone, a service file, a password file,
 * keyword/value conninfo, and TLS with each sslmode against a server whose certificate (for 127.0.0.1 only) is
 * signed by a CA made here. No pg warning (SECURITY WARNING, DeprecationWarning) is printed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '../../lambda/engine/pg/connection';
import { resolveConnection } from '../../cli/conninfo';
import { main } from '../../cli/main';
import { freePort, LOCAL_SUPERUSER_PASSWORD } from '../../rehearsal/local/embedded-postgres';
import { serverPort } from '../support/databases';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

async function run(argv: string[], env: Record<string, string>, home: string) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env, home });
  return { code, out, err };
}

/** A CA and a server certificate for IP 127.0.0.1 only (so host=localhost fails verify-full), made with openssl. */
function makeCertificates(dir: string): { ca: string; otherCa: string; cert: string; key: string } {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  for (const ca of ['ca', 'other-ca']) {
    ssl(
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=zdm test ${ca}`,
      '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`),
    ); // prettier-ignore
  }
  ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  );
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(
    'x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.pem'),
  ); // prettier-ignore
  chmodSync(f('server.key'), 0o600);
  // Run as root, embedded-postgres starts the server as the postgres user, which must own its key.
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(f('server.key'), uid, gid);
    chownSync(f('server.pem'), uid, gid);
    chmodSync(dir, 0o755);
  }
  return { ca: f('ca.pem'), otherCa: f('other-ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

/** Starts the TLS server in its own process (embedded-postgres is ESM-only: no dynamic import inside jest). */
async function startTlsServer(
  dir: string,
  certs: { cert: string; key: string },
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(__dirname, 'fixtures', 'tls-postgres.mjs'),
      dir,
      String(port),
      certs.cert,
      certs.key,
      LOCAL_SUPERUSER_PASSWORD,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`TLS server exited (${code}): ${stderr.slice(-2000)}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    stop: async () => {
      child.stdin?.end();
      await exited;
    },
  };
}

describe('zdm connections against real PostgreSQL', () => {
  let p: Pair;
  let home: string;
  let tlsServer: { port: number; stop(): Promise<void> };
  let certs: ReturnType<typeof makeCertificates>;
  const warnings: string[] = [];
  let emitWarning: jest.SpyInstance;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'zdm-connections-'));
    chmodSync(home, 0o755);
    certs = makeCertificates(home);
    [p, tlsServer] = await Promise.all([openPair('cli_conn'), startTlsServer(home, certs)]);
    await p.both(`CREATE TABLE public.t (id int PRIMARY KEY, v text); INSERT INTO public.t VALUES (1, 'a');`);
    emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => {
      warnings.push(String(w));
    });
  }, 120_000);
  afterAll(async () => {
    emitWarning?.mockRestore();
    await Promise.all([p?.close(), tlsServer?.stop()]);
    rmSync(home, { recursive: true, force: true });
  });
  afterEach(() => {
    // pg prints its SECURITY WARNING and pgpass DeprecationWarning through process.emitWarning.
    expect(warnings).toEqual([]);
  });

  const port = (side: 'source' | 'target') => String(serverPort(side));
  const targetConninfo = () =>
    `host=127.0.0.1 port=${port('target')} dbname=${p.name} user=postgres password=${LOCAL_SUPERUSER_PASSWORD} sslmode=prefer`;

  it('takes the source from the PG* environment alone and the target as keyword/value conninfo', async () => {
    const env = {
      PGHOST: '127.0.0.1',
      PGPORT: port('source'),
      PGDATABASE: p.name,
      PGUSER: 'postgres',
      PGPASSWORD: LOCAL_SUPERUSER_PASSWORD,
      PGAPPNAME: 'zdm-test',
    };
    const r = await run(['validate', '--target', targetConninfo(), '--quiet'], env, home);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('OK: 1 table(s)');
  });

  it('reads the password from PGPASSFILE or ~/.pgpass, and the rest from a service file (PGSERVICEFILE)', async () => {
    const services = join(home, 'services.conf');
    writeFileSync(
      services,
      `[old]\nhost=127.0.0.1\nport=${port('source')}\ndbname=${p.name}\nuser=postgres\nsslmode=disable\n` +
        `[new]\nhost=127.0.0.1\nport=${port('target')}\ndbname=${p.name}\nuser=postgres\n`,
    );
    const passfile = join(home, 'passfile');
    writeFileSync(passfile, `127.0.0.1:*:*:postgres:${LOCAL_SUPERUSER_PASSWORD}\n`);
    chmodSync(passfile, 0o600);
    const viaEnv = await run(
      ['schema', '--target', 'service=new', '--quiet'],
      { PGSERVICEFILE: services, PGSERVICE: 'old', PGPASSFILE: passfile },
      home,
    );
    expect(viaEnv.err).toBe('');
    expect(viaEnv.code).toBe(0);
    // ~/.pgpass and ~/.pg_service.conf in the home directory.
    writeFileSync(join(home, '.pgpass'), `*:*:*:postgres:${LOCAL_SUPERUSER_PASSWORD}\n`);
    chmodSync(join(home, '.pgpass'), 0o600);
    writeFileSync(
      join(home, '.pg_service.conf'),
      `[old]\nhost=127.0.0.1\nport=${port('source')}\ndbname=${p.name}\nuser=postgres\n`,
    );
    const viaHome = await run(
      ['schema', '--source', 'service=old', '--target', targetConninfo().replace(/password=\S+/, '')],
      {},
      home,
    );
    expect(viaHome.err).toBe('');
    expect(viaHome.code).toBe(0);
  });

  it('says where it could not connect and why, without the password, when none is found', async () => {
    const r = await run(
      [
        'preflight',
        '--source',
        `host=127.0.0.1 port=${port('source')} dbname=${p.name} user=postgres passfile=/nonexistent`,
      ],
      {},
      join(home, 'nowhere'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(`cannot connect to 127.0.0.1:${port('source')}/${p.name} as postgres`);
    expect(r.err).toContain('the server asked for a password and none was given');
  });

  /** Whether a connection the CLI's resolution makes uses TLS (pg_stat_ssl of its own backend). */
  async function usesTls(conninfo: string): Promise<boolean> {
    const c = resolveConnection('--source', conninfo, { env: {}, home });
    let lastError: unknown;
    for (const config of c.attempts) {
      try {
        const pool = await createPool(config, { max: 1 });
        try {
          const { rows } = await pool.query<{ ssl: boolean }>(
            'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
          );
          return rows[0].ssl;
        } finally {
          await pool.end();
        }
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  const tls = (host: string, extra: string) =>
    `host=${host} port=${tlsServer.port} dbname=postgres user=postgres password=${LOCAL_SUPERUSER_PASSWORD} ${extra}`;

  it.each([
    ['verify-full, the right CA and host', '127.0.0.1', 'sslmode=verify-full sslrootcert=CA', 'tls'],
    ['verify-ca, another host name', 'localhost', 'sslmode=verify-ca sslrootcert=CA', 'tls'],
    ['require (no verification)', 'localhost', 'sslmode=require', 'tls'],
    ['prefer', '127.0.0.1', 'sslmode=prefer', 'tls'],
    ['disable', '127.0.0.1', 'sslmode=disable', 'plain'],
    ['allow (plain text first)', '127.0.0.1', 'sslmode=allow', 'plain'],
    [
      'verify-full, a host the certificate does not name',
      'localhost',
      'sslmode=verify-full sslrootcert=CA',
      /altnames|does not match/i,
    ],
    [
      'verify-full, another CA',
      '127.0.0.1',
      'sslmode=verify-full sslrootcert=OTHER',
      /self.signed|unable to verify|certificate/i,
    ],
    [
      'verify-full, the RDS bundle',
      '127.0.0.1',
      'sslmode=verify-full sslrootcert=rds',
      /self.signed|unable to verify|certificate/i,
    ],
    [
      'require with a root certificate (libpq: verify-ca)',
      '127.0.0.1',
      'sslmode=require sslrootcert=OTHER',
      /self.signed|unable to verify|certificate/i,
    ],
  ])(
    'TLS server, %s',
    async (_what, host, extra, expected) => {
      const conninfo = tls(host, extra.replace('=CA', `=${certs.ca}`).replace('=OTHER', `=${certs.otherCa}`));
      if (typeof expected === 'string') {
        expect(await usesTls(conninfo)).toBe(expected === 'tls');
      } else {
        await expect(usesTls(conninfo)).rejects.toThrow(expected);
      }
    },
    30_000,
  );

  it('with sslmode verify-full, validates over TLS end to end and fails (exit 2, no password) on a wrong host', async () => {
    const source = tls('127.0.0.1', `sslmode=verify-full sslrootcert=${certs.ca}`);
    const ok = await run(['preflight', '--source', source, '--quiet'], {}, home);
    expect(ok.err).not.toContain('cannot connect');
    expect([0, 1]).toContain(ok.code);
    const bad = await run(
      ['preflight', '--source', source.replace('host=127.0.0.1', 'host=localhost'), '--json'],
      {},
      home,
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      `cannot connect to localhost:${tlsServer.port}/postgres as postgres (sslmode=verify-full, sslrootcert=file)`,
    );
    expect(bad.out + bad.err).not.toContain(LOCAL_SUPERUSER_PASSWORD);
    expect(JSON.parse(bad.out)).toMatchObject({ ok: false });
  });

  it('with sslmode require, refuses a server without TLS; prefer falls back to plain text', async () => {
    const plain = (mode: string) =>
      `host=127.0.0.1 port=${port('source')} dbname=${p.name} user=postgres password=${LOCAL_SUPERUSER_PASSWORD} sslmode=${mode}`;
    await expect(usesTls(plain('require'))).rejects.toThrow(/does not support SSL/);
    expect(await usesTls(plain('prefer'))).toBe(false);
    const r = await run(['schema', '--source', plain('require'), '--target', targetConninfo()], {}, home);
    expect(r.code).toBe(2);
    expect(r.err).toContain('does not support SSL');
  });
});
