import { resolve } from 'node:path';
import { htmlReportPath, parseRehearsalArgs, USAGE, type RehearsalOptions } from '../../rehearsal/options';
import { UsageError } from '../../cli/command-line';

const NOW = new Date('2026-01-02T03:04:05.678Z');

function options(argv: string[]): RehearsalOptions {
  const parsed = parseRehearsalArgs(argv, NOW);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.options;
}

function failure(argv: string[]): UsageError {
  try {
    parseRehearsalArgs(argv, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return error as UsageError;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be rejected`);
}

describe('rehearsal options', () => {
  test('defaults: happy execute, 200000 rows, 300 writes/s, ./rehearsal-report.json, app_writer', () => {
    const o = options([]);
    expect(o).toMatchObject({
      scenario: 'happy',
      mode: 'execute',
      rows: 200_000,
      rate: 300,
      appRole: 'app_writer',
      reportPath: resolve('rehearsal-report.json'),
      migrationId: 'rehearsal-20260102T030405',
      syncTimeoutSeconds: 120,
      keepReplication: false,
      wayBack: true,
    });
    expect(o.sourceUrl).toBeUndefined();
    expect(htmlReportPath(o.reportPath)).toBe(resolve('rehearsal-report.html'));
  });

  test('parses every option', () => {
    const o = options([
      '--scenario=fail-during-freeze',
      '--mode',
      'dry-run',
      '--demo',
      '--rows',
      '2000',
      '--rate',
      '150.5',
      '--concurrency',
      '4',
      '--warmup',
      '0.5',
      '--after',
      '1',
      '--report',
      'out/r.json',
      '--source',
      'postgres://u:secret@127.0.0.1:5432/a',
      '--target',
      'postgresql://u:secret@localhost:5433/b',
      '--app-role',
      'shop_app',
      '--migration-id',
      'm-1',
      '--lag-threshold',
      '0.5',
      '--sync-timeout',
      '9',
      '--poll-ms',
      '20',
      '--keep-replication',
      '--keep-frozen',
      '--freeze-existing-role',
      '--copy-timeout',
      '30',
      '--load',
      'pgbench -n -T 60',
      '--quiet',
    ]);
    expect(o).toMatchObject({
      scenario: 'fail-during-freeze',
      mode: 'dry-run',
      demo: true,
      rows: 2000,
      rate: 150.5,
      concurrency: 4,
      warmupSeconds: 0.5,
      afterSeconds: 1,
      reportPath: resolve('out/r.json'),
      appRole: 'shop_app',
      migrationId: 'm-1',
      lagThresholdSeconds: 0.5,
      syncTimeoutSeconds: 9,
      pollMs: 20,
      keepReplication: true,
      keepFrozen: true,
      freezeExistingRole: true,
      copyTimeoutSeconds: 30,
      load: 'pgbench -n -T 60',
      quiet: true,
    });
    expect(o.selection).toBeUndefined();
  });

  const SERVERS = ['--source', 'postgres://u:p@h1/a', '--target', 'postgres://u:p@h2/b'];

  test("with --source/--target: the user's tables (every user table by default, never the workflow's schema)", () => {
    const o = options(SERVERS);
    expect(o.demo).toBe(false);
    expect(o.appRole).toBeUndefined();
    expect(o.selection).toEqual({ include: [{ schema: '%' }], exclude: [{ schema: 'zdm_cutover' }] });
    const picked = options([
      ...SERVERS,
      '--include',
      'shop',
      '--include',
      '"Odd.Schema"."T"',
      '--exclude',
      'shop.log%',
    ]);
    expect(picked.selection).toEqual({
      include: [{ schema: 'shop' }, { schema: 'Odd.Schema', table: 'T' }],
      exclude: [{ schema: 'shop', table: 'log%' }, { schema: 'zdm_cutover' }],
    });
  });

  test('the demo schema is the default only for embedded servers', () => {
    expect(options([]).demo).toBe(true);
    expect(options([...SERVERS, '--demo']).demo).toBe(true);
    expect(failure([...SERVERS, '--rows', '500']).message).toMatch(/--rows sizes the demo schema/);
    expect(failure([...SERVERS, '--demo', '--include', 'shop']).message).toMatch(
      /--include\/--exclude select your own/,
    );
    expect(failure(['--include', 'shop']).message).toMatch(/--include\/--exclude select your own/);
    expect(failure([...SERVERS, '--include', '"unterminated']).message).toMatch(
      /--include: table rule .*unterminated quote/,
    );
  });

  test('--keep-frozen and --freeze-existing-role only apply to --source/--target (--demo is the default there)', () => {
    expect(failure(['--keep-frozen']).message).toMatch(/--keep-frozen only applies with --source\/--target/);
    expect(failure(['--freeze-existing-role']).message).toMatch(/--freeze-existing-role only applies/);
    expect(options(['--demo']).demo).toBe(true);
  });

  test('--help says what happens to an existing role and to the servers', () => {
    expect(USAGE).toMatch(/--freeze-existing-role/);
    expect(USAGE).toMatch(/password is never changed/);
    expect(USAGE).toMatch(/--load/);
    expect(USAGE).toMatch(/left as they were/);
  });

  test('--no-way-back: a cutover without the way back; refused where the scenario is the way back', () => {
    expect(options(['--no-way-back']).wayBack).toBe(false);
    expect(options(['--scenario', 'resume']).wayBack).toBe(true);
    expect(failure(['--scenario', 'fallback-rollback', '--no-way-back']).message).toBe(
      '--scenario fallback-rollback rehearses the way back: --no-way-back contradicts it',
    );
    expect(USAGE).toContain('--no-way-back');
  });

  test('lag-timeout gets a short sync timeout by default', () => {
    expect(options(['--scenario', 'lag-timeout']).syncTimeoutSeconds).toBe(3);
  });

  test('reads: --read-rate (default 50, 0 = none), and read-first with --observe-reads', () => {
    expect(options([])).toMatchObject({ readRate: 50, readObservationSeconds: 2 });
    expect(options(['--read-rate', '0']).readRate).toBe(0);
    expect(options(['--scenario', 'read-first', '--read-rate', '20', '--observe-reads', '0.5'])).toMatchObject({
      scenario: 'read-first',
      mode: 'execute',
      readRate: 20,
      readObservationSeconds: 0.5,
    });
    expect(options(['--scenario', 'read-first', '--mode', 'dry-run']).mode).toBe('dry-run');
    expect(failure(['--scenario', 'read-first', '--read-rate', '0']).message).toMatch(
      /--scenario read-first shows where the reads go: it needs --read-rate above 0/,
    );
    expect(failure(['--observe-reads', '3']).message).toMatch(
      /--observe-reads applies to --scenario read-first .*got --scenario happy/,
    );
    expect(failure(['--read-rate=-1']).message).toMatch(/--read-rate must be a number from 0 to 10000/);
    expect(USAGE).toMatch(/read-first: an execution with mode switch-reads/);
    expect(USAGE).toMatch(/--read-rate <n>/);
    expect(USAGE).toMatch(/--observe-reads <s>/);
  });

  test('--help', () => {
    expect(parseRehearsalArgs(['--help'])).toEqual({ help: true });
    expect(parseRehearsalArgs(['-h'])).toEqual({ help: true });
  });

  test('fails when the scenario is unknown, naming it', () => {
    expect(failure(['--scenario', 'sunny']).message).toBe(
      '--scenario must be one of happy, lag-timeout, fail-during-freeze, resume, read-first, fallback, fallback-rollback, way-back-broken, got "sunny"',
    );
  });

  test('fails when the mode is unknown', () => {
    expect(failure(['--mode', 'dryrun']).message).toMatch(/--mode must be one of dry-run, execute, got "dryrun"/);
  });

  test.each([
    [['--rows', 'many'], /--rows must be an integer from 100 to 100000000, got "many"/],
    [['--rows', '10'], /--rows .* got "10"/],
    [['--rows', '1.5e3x'], /--rows .* got "1.5e3x"/],
    [['--rate', '0'], /--rate must be a number from 1 to 50000, got "0"/],
    [['--rate=-5'], /--rate .* got "-5"/],
    [['--concurrency', '2.5'], /--concurrency must be an integer .* got "2.5"/],
    [['--warmup', 'abc'], /--warmup .* got "abc"/],
    [['--poll-ms', '0'], /--poll-ms .* got "0"/],
    [['--sync-timeout', ''], /--sync-timeout .* got ""/],
  ])('fails when a number is out of range or not a number: %j', (argv, message) => {
    expect(failure(argv).message).toMatch(message);
  });

  test('fails when an option is unknown or a positional is given', () => {
    expect(failure(['--rowz', '5']).message).toMatch(/rowz/);
    expect(failure(['happy']).message).toMatch(/happy/);
  });

  test('fails when only one of --source / --target is given', () => {
    expect(failure(['--source', 'postgres://u:p@h/db']).message).toBe('--source needs --target as well (or neither)');
    expect(failure(['--target', 'postgres://u:p@h/db']).message).toBe('--target needs --source as well (or neither)');
  });

  test('fails when a URL is bad, without showing its password', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://u:hunter2@host/db', /--source must use postgres:\/\/ or postgresql:\/\//],
      ['postgres://u:hunter2@host', /--source must name a database/],
      ['postgres://u:hunter2@host:99999/db', /--source (is not a valid URL|has an invalid port)/],
      ['postgres://:hunter2@host/db', /--source must include a user name/],
      ['not a url hunter2', /--source is not a valid URL/],
    ];
    for (const [url, message] of cases) {
      const error = failure(['--source', url, '--target', 'postgres://u:p@other/db']);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('hunter2');
    }
  });

  test('fails when source and target are the same database', () => {
    const error = failure([
      '--source',
      'postgres://u:pw1@localhost:5432/db',
      '--target',
      'postgres://v:pw2@127.0.0.1/db',
    ]);
    expect(error.message).toMatch(/--source and --target are the same database/);
    expect(error.message).not.toContain('pw1');
  });

  test('fails when the report path is not a .json file', () => {
    expect(failure(['--report', 'report.html']).message).toBe(
      '--report must be a path ending in .json, got "report.html"',
    );
  });

  test('fails when the application role is not a plain lower-case name or is a superuser', () => {
    expect(failure(['--app-role', 'App Writer']).message).toMatch(
      /--app-role must be a lower-case SQL name .* got "App Writer"/,
    );
    expect(failure(['--app-role', 'postgres']).message).toMatch(
      /must not be a superuser or system role, got "postgres"/,
    );
  });

  test('fails when the migration id has characters the workflow rejects', () => {
    expect(failure(['--migration-id', 'a b']).message).toMatch(/--migration-id .* got "a b"/);
  });

  test('fails when resume is asked in dry-run mode', () => {
    expect(failure(['--scenario', 'resume', '--mode', 'dry-run']).message).toMatch(
      /--scenario resume needs --mode execute/,
    );
  });

  test('the fallback scenarios need --mode execute; --on-target (default 3) is theirs alone', () => {
    for (const scenario of ['fallback', 'fallback-rollback']) {
      expect(options(['--scenario', scenario])).toMatchObject({ scenario, mode: 'execute', targetSeconds: 3 });
      expect(failure(['--scenario', scenario, '--mode', 'dry-run']).message).toBe(
        `--scenario ${scenario} needs --mode execute (a dry-run cutover switches nothing and arms no way back, so there is nothing to fall back from), got --mode dry-run`,
      );
    }
    expect(options(['--scenario', 'fallback', '--on-target', '0.5']).targetSeconds).toBe(0.5);
    expect(failure(['--on-target', '2']).message).toMatch(
      /--on-target applies to --scenario fallback, fallback-rollback, way-back-broken .*got --scenario happy/,
    );
    expect(failure(['--scenario', 'fallback', '--on-target', 'x']).message).toMatch(
      /--on-target must be a number from 0 to 3600, got "x"/,
    );
    expect(USAGE).toMatch(/fallback: the cutover \(with the way back/);
    expect(USAGE).toMatch(/--on-target <s>/);
  });

  test('fails when --keep-replication is given without external servers', () => {
    expect(failure(['--keep-replication']).message).toMatch(/--keep-replication only applies with --source\/--target/);
  });
});
