/** libpq's connection conventions in `zdm`: parsing and resolution (no server; see connections.test.ts for those). */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandLineRedactor } from '../../cli/args';
import { redactUrlsInText } from '../../cli/command-line';
import { parseConninfo, rdsCaBundle, resolveConnection, type ConninfoContext } from '../../cli/conninfo';
import { main } from '../../cli/main';
import { didYouMean } from '../../cli/suggest';
import { withIamAuthentication } from '../../cli/iam';

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'zdm-conninfo-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

const ctx = (env: Record<string, string> = {}, warn?: (m: string) => void): ConninfoContext => ({
  env,
  home,
  osUser: 'osuser',
  ...(warn ? { warn } : {}),
});

async function run(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env, home });
  return { code, out, err };
}

describe('parseConninfo', () => {
  it('reads a URL: user, password, host, port, database and keyword parameters, percent-decoded', () => {
    expect(
      parseConninfo(
        '--source',
        'postgresql://app%40corp:p%3Ass@db.example.com:6432/my%20db?sslmode=verify-full&application_name=x',
      ),
    ).toEqual({
      user: 'app@corp',
      password: 'p:ss',
      host: 'db.example.com',
      port: '6432',
      dbname: 'my db',
      sslmode: 'verify-full',
      application_name: 'x',
    });
    expect(parseConninfo('--source', 'postgres://[::1]:5433/app')).toEqual({
      host: '::1',
      port: '5433',
      dbname: 'app',
    });
    // libpq: everything may be left out of a URL.
    expect(parseConninfo('--source', 'postgres://')).toEqual({});
    expect(parseConninfo('--source', 'postgres:///app?host=/var/run/postgresql')).toEqual({
      dbname: 'app',
      host: '/var/run/postgresql',
    });
  });

  it('reads keyword/value pairs, with quoted values, escapes and spaces around =', () => {
    expect(
      parseConninfo(
        '--target',
        "host=aurora.cluster-x.eu-west-1.rds.amazonaws.com port = 5432 dbname=app user=zdm password='it s' sslmode=verify-full sslrootcert=/ca.pem options='-c statement_timeout=0'",
      ),
    ).toEqual({
      host: 'aurora.cluster-x.eu-west-1.rds.amazonaws.com',
      port: '5432',
      dbname: 'app',
      user: 'zdm',
      password: 'it s',
      sslmode: 'verify-full',
      sslrootcert: '/ca.pem',
      options: '-c statement_timeout=0',
    });
    expect(parseConninfo('--target', "password='a \\' b' user=x")).toEqual({ password: "a ' b", user: 'x' });
    expect(parseConninfo('--target', '')).toEqual({});
  });

  it.each([
    ['host=db dbnme=app', 'unknown connection keyword "dbnme" (did you mean "dbname"?)'],
    ['postgres://db/app?sslmod=require', 'unknown connection keyword "sslmod" (did you mean "sslmode"?)'],
    ['host=db dbname', 'expected keyword=value after "dbname"'],
    ["host=db password='unterminated", 'unterminated quoted value of "password"'],
    ['postgres://a,b/app', 'several hosts in one URL are not supported'],
  ])('refuses %j naming the problem', (text, message) => {
    expect(() => parseConninfo('--source', text)).toThrow(message);
  });
});

describe('resolveConnection', () => {
  it('takes every keyword from the PG* environment when none is given (psql with no arguments)', () => {
    const c = resolveConnection(
      'the source',
      undefined,
      ctx({
        PGHOST: 'db.example.com',
        PGPORT: '6543',
        PGDATABASE: 'orders',
        PGUSER: 'migrator',
        PGPASSWORD: 'envpw',
        PGSSLMODE: 'require',
        PGAPPNAME: 'ci-job',
        PGCONNECT_TIMEOUT: '7',
      }),
    );
    expect(c).toMatchObject({
      host: 'db.example.com',
      port: 6543,
      dbname: 'orders',
      user: 'migrator',
      password: 'envpw',
      passwordSource: 'PGPASSWORD',
      sslmode: 'require',
      applicationName: 'ci-job',
    });
    expect(c.attempts).toHaveLength(1);
    expect(c.attempts[0]).toMatchObject({ host: 'db.example.com', port: 6543, database: 'orders', user: 'migrator' });
    expect(c.attempts[0].connectionTimeoutMillis).toBe(7000);
    expect(c.attempts[0].ssl).toEqual({ rejectUnauthorized: false });
  });

  it('defaults like libpq: localhost:5432, user = the login, database = the user, sslmode prefer', () => {
    const c = resolveConnection('--source', '', ctx());
    expect(c).toMatchObject({ host: 'localhost', port: 5432, user: 'osuser', dbname: 'osuser', sslmode: 'prefer' });
    // prefer: TLS without verification first, plain text when the server has no TLS.
    expect(c.attempts.map((a) => a.ssl)).toEqual([{ rejectUnauthorized: false }, false]);
    // No password anywhere: pg gets a function, so it never reads a password file itself (its DeprecationWarning).
    expect(typeof c.attempts[0].password).toBe('function');
  });

  it('applies the conninfo over the service over the environment (libpq precedence)', () => {
    const file = join(home, 'services.conf');
    writeFileSync(
      file,
      '# comment\n[other]\nhost=wrong\n[src]\nhost=svc-host\nport=7000\ndbname=svcdb\n\n[after]\nhost=x\n',
    );
    const env = { PGSERVICEFILE: file, PGHOST: 'env-host', PGPORT: '1111', PGUSER: 'envuser', PGDATABASE: 'envdb' };
    expect(resolveConnection('--source', 'service=src dbname=given', ctx(env))).toMatchObject({
      host: 'svc-host',
      port: 7000,
      dbname: 'given',
      user: 'envuser',
    });
    expect(resolveConnection('--source', undefined, ctx({ ...env, PGSERVICE: 'src' }))).toMatchObject({
      host: 'svc-host',
      dbname: 'svcdb',
    });
    expect(() => resolveConnection('--source', 'service=nope', ctx(env))).toThrow(
      'definition of service "nope" not found',
    );
  });

  it('reads ~/.pgpass (or PGPASSFILE) the libpq way: wildcards, escaped colons, first match; not when others can read it', () => {
    const file = join(home, 'pgpass');
    writeFileSync(
      file,
      [
        '# host:port:db:user:password',
        'other:*:*:*:no',
        'db.example.com:5432:app:zdm:p\\:w1',
        '*:*:*:zdm:fallback',
      ].join('\n'),
    );
    chmodSync(file, 0o600);
    const at = (conninfo: string) => resolveConnection('--source', conninfo, ctx({ PGPASSFILE: file }));
    expect(at('host=db.example.com dbname=app user=zdm')).toMatchObject({
      password: 'p:w1',
      passwordSource: 'password file',
    });
    expect(at('host=elsewhere dbname=app user=zdm').password).toBe('fallback');
    expect(at('host=elsewhere dbname=app user=nobody').password).toBeUndefined();
    expect(
      resolveConnection('--source', `host=db.example.com dbname=app user=zdm passfile=${file}`, ctx()).password,
    ).toBe('p:w1');
    chmodSync(file, 0o644);
    const warnings: string[] = [];
    expect(
      resolveConnection(
        '--source',
        'host=db.example.com dbname=app user=zdm',
        ctx({ PGPASSFILE: file }, (m) => warnings.push(m)),
      ).password,
    ).toBeUndefined();
    expect(warnings.join()).toContain('has group or world access');
  });

  it("maps sslmode to libpq's meanings", () => {
    const ca = join(home, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const ssl = (conninfo: string) =>
      resolveConnection('--source', `host=db.example.com ${conninfo}`, ctx()).attempts.map((a) => a.ssl);
    expect(ssl('sslmode=disable')).toEqual([false]);
    expect(ssl('sslmode=allow')).toEqual([false, { rejectUnauthorized: false }]);
    expect(ssl('sslmode=prefer')).toEqual([{ rejectUnauthorized: false }, false]);
    expect(ssl('sslmode=require')).toEqual([{ rejectUnauthorized: false }]);
    const full = ssl(`sslmode=verify-full sslrootcert=${ca}`)[0] as Record<string, unknown>;
    expect(full).toMatchObject({ rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(full.checkServerIdentity).toBeUndefined();
    const verifyCa = ssl(`sslmode=verify-ca sslrootcert=${ca}`)[0] as Record<string, unknown>;
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true });
    expect(typeof verifyCa.checkServerIdentity).toBe('function');
    // libpq: require with a root certificate verifies the chain like verify-ca.
    expect(resolveConnection('--source', `host=h sslmode=require sslrootcert=${ca}`, ctx()).sslmode).toBe('verify-ca');
    // hostaddr: connect to the address, check the certificate against the host name.
    const viaAddr = resolveConnection(
      '--source',
      `host=db.internal hostaddr=10.0.0.5 sslmode=verify-full sslrootcert=${ca}`,
      ctx(),
    );
    expect(viaAddr.attempts[0]).toMatchObject({ host: '10.0.0.5', ssl: { servername: 'db.internal' } });
  });

  it('uses the RDS CA bundle shipped with zdm for sslrootcert=rds and, with verification, for *.rds.amazonaws.com', () => {
    expect(rdsCaBundle().length).toBeGreaterThan(10);
    for (const conninfo of [
      'host=db.example.com sslmode=verify-full sslrootcert=rds',
      'host=app.cluster-abc.eu-west-1.rds.amazonaws.com sslmode=verify-full',
      'host=app.cluster-abc.eu-west-1.rds.amazonaws.com sslmode=verify-ca',
    ]) {
      const c = resolveConnection('--target', conninfo, ctx());
      expect(c.sslrootcert).toBe('rds');
      expect((c.attempts[0].ssl as { ca: string[] }).ca).toBe(rdsCaBundle());
      expect(c.description).toContain('sslrootcert=rds');
    }
    // require stays require (an RDS Proxy or a custom endpoint may present another chain).
    expect(resolveConnection('--target', 'host=a.rds.amazonaws.com sslmode=require', ctx()).sslmode).toBe('require');
  });

  it.each([
    ['host=h sslmode=verify-full', 'sslmode verify-full needs a root certificate'],
    ['host=h sslmode=verify-ca', 'sslmode verify-ca needs a root certificate'],
    ['host=h sslmode=require sslrootcert=system', 'weak sslmode "require" may not be used with sslrootcert=system'],
    ['host=h sslmode=verify-full sslrootcert=/nonexistent/ca.pem', 'cannot read the root certificate file'],
    ['host=h sslmode=strict', 'invalid sslmode "strict"'],
    ['host=h port=99999', 'invalid port "99999"'],
    ['host=h connect_timeout=soon', 'invalid connect_timeout "soon"'],
  ])('refuses %j', (conninfo, message) => {
    expect(() => resolveConnection('--source', conninfo, ctx())).toThrow(message);
  });
});

describe('zdm connection arguments', () => {
  it('prints its version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r).toEqual({ code: 0, out: expect.stringMatching(/^zdm \d+\.\d+\.\d+/), err: '' });
    }
  });

  it.each([
    [['validate', '--sorce', 'x'], 'unknown option --sorce (did you mean --source?)'],
    [['validate', '--exclud', 'x'], 'unknown option --exclud (did you mean --exclude?)'],
    [['valdate'], 'unknown command "valdate" (did you mean validate?)'],
    [['validate', '--frobnicate'], 'unknown option --frobnicate\n'],
  ])('suggests the closest option or command: %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('never prints a conninfo password, whatever the argument position or the error', async () => {
    const secret = 'Kv-s3cret-pw';
    for (const argv of [
      ['validate', '--source', `host=h dbnme=x password=${secret}`, '--target', 'host=t'],
      ['validate', '--source', `host=h password='${secret} x' sslmode=bogus`, '--target', 'host=t'],
      ['validate', `password=${secret}`, '--source', 'host=h', '--target', 'host=t'],
      ['validate', '--source', `host=h password=${secret}`, '--target', `host=h password=${secret}`, '--json'],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.out + r.err).not.toContain(secret);
      expect(r.out + r.err).not.toContain(secret.slice(0, 6));
    }
    const redact = commandLineRedactor(['--source', `host=h password='${secret} x'`]);
    expect(redact(`failed: password='${secret} x' and ${secret} x`)).not.toContain(secret);
    expect(redactUrlsInText(`host=h password=${secret} port=1`)).toBe('host=h password=*** port=1');
  });

  it('refuses a source and target that reach the same database once resolved', async () => {
    const r = await run(['validate', '--target', 'host=localhost dbname=app'], {
      PGHOST: '127.0.0.1',
      PGDATABASE: 'app',
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('--source and --target name the same database');
    expect(r.err).toContain('the source comes from the PG* environment');
  });
});

describe('didYouMean', () => {
  it('finds typos, transpositions and unique prefixes, and nothing for unrelated words', () => {
    expect(didYouMean('sorce', ['source', 'target'])).toBe('source');
    expect(didYouMean('tagret', ['source', 'target'])).toBe('target');
    expect(didYouMean('sslroot', ['sslmode', 'sslrootcert'])).toBe('sslrootcert');
    expect(didYouMean('banana', ['source', 'target'])).toBeUndefined();
  });
});

describe('IAM authentication (--source-iam / --target-iam)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('makes a fresh RDS signer token the password of every attempt, over TLS only', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const c = withIamAuthentication(
      '--target-iam',
      resolveConnection(
        '--target',
        'host=app.cluster-abc.eu-west-1.rds.amazonaws.com user=zdm dbname=app sslmode=verify-full',
        ctx(),
      ),
      {},
    );
    expect(c.description).toContain('IAM authentication in eu-west-1');
    const password = c.attempts[0].password as () => Promise<string>;
    const token = await password();
    expect(token).toMatch(/^app\.cluster-abc\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=zdm&/);
    expect(token).toContain('X-Amz-Signature=');
    expect(c.password).toBeUndefined();
  });

  it.each([
    ['host=a.cluster-x.eu-west-1.rds.amazonaws.com sslmode=prefer', 'IAM authentication needs TLS'],
    [
      'host=a.cluster-x.eu-west-1.rds.amazonaws.com sslmode=require password=x',
      'give a password or IAM authentication, not both',
    ],
    ['host=db.internal sslmode=require', 'IAM authentication needs the region'],
  ])('refuses %j', (conninfo, message) => {
    expect(() => withIamAuthentication('--target-iam', resolveConnection('--target', conninfo, ctx()), {})).toThrow(
      message,
    );
  });

  it('takes the region from AWS_REGION for a host that is not an RDS name', () => {
    const c = withIamAuthentication(
      '--target-iam',
      resolveConnection('--target', 'host=db.internal sslmode=require', ctx()),
      { AWS_REGION: 'us-east-2' },
    );
    expect(c.description).toContain('IAM authentication in us-east-2');
  });
});
