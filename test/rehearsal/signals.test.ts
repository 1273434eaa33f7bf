import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RehearsalReport } from '../../rehearsal/report/report-json';
import { serverUrl, sql } from '../support/databases';
import { createUserSchema, freshPair, rehearsalObjects, run, type Pair, rehearsalTestContext } from './helpers';

/**
 * `npm run rehearse` as a child process, signalled through npm (the signal goes to npm's process only, as a
 * process manager or CI runner sends it): npm passes it on, the rehearsal ends the freeze (the dead man's switch),
 * removes what it created, says truthfully what each server is left with, and exits 130 / 143.
 */
jest.setTimeout(150_000);

const ROOT = resolve(__dirname, '../..');
const t = rehearsalTestContext('signals');
const { pairs, dir } = t;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `npm run rehearse -- <args>` in its own process group; sends `signal` to npm alone once a progress line
 * matches `when`. A rehearsal that has not exited 40 s after the signal (it never reached it) is killed, group
 * and all, and reported with code null.
 */
function rehearseThroughNpm(args: string[], when: RegExp, signal: NodeJS.Signals): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '--silent', 'rehearse', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => {
      stderr += String(d);
      if (!timer && when.test(stderr)) {
        child.kill(signal);
        timer = setTimeout(() => {
          stderr += '\n[test] no exit 40 s after the signal: killed\n';
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // gone
          }
        }, 40_000);
      }
    });
    child.on('error', fail);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      done({ code: sig === 'SIGKILL' ? null : code, signal: sig, stdout, stderr });
    });
  });
}

function common(pair: Pair, report: string): string[] {
  return [
    '--source',
    pair.source,
    '--target',
    pair.target,
    '--rate',
    '150',
    '--concurrency',
    '3',
    '--warmup',
    '0.3',
    '--poll-ms',
    '20',
    '--lag-threshold',
    '1',
    '--report',
    report,
  ];
}

describe('signals (through npm run) and crashes', () => {
  test('SIGINT after the freeze: the role is restored, everything removed, exit 130, the summary says so', async () => {
    const pair = await freshPair('rh_sigint', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    const role = `shop_sig_${process.pid}`;
    await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`);
    await sql(serverUrl('source'), `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 5 PASSWORD 'Sig-${process.pid}'`);
    const before = await sql(
      serverUrl('source'),
      `SELECT rolpassword, rolcanlogin, rolconnlimit FROM pg_authid WHERE rolname = $1`,
      [role],
    );
    try {
      const report = join(dir, 'sigint.json');
      const exit = await rehearseThroughNpm(
        [...common(pair, report), '--app-role', role, '--freeze-existing-role'],
        /✔ FreezeWrites/,
        'SIGINT',
      );
      expect({ code: exit.code, tail: exit.stderr.slice(-3000) }).toMatchObject({ code: 130 });
      // The role has exactly its settings (and password) of before; nothing of the rehearsal's is left.
      expect(
        await sql(
          serverUrl('source'),
          `SELECT rolpassword, rolcanlogin, rolconnlimit FROM pg_authid WHERE rolname = $1`,
          [role],
        ),
      ).toEqual(before);
      expect(await rehearsalObjects(pair)).toEqual([]);
      // The truth, on the console and in the report.
      expect(exit.stderr).toMatch(/SIGINT received: ending the freeze/);
      expect(exit.stderr).toMatch(
        /interrupted \(SIGINT\): dead man's switch: restored; the source accepts writes; nothing the rehearsal created is left/,
      );
      expect(exit.stdout).toMatch(/lost writes +unknown — the rehearsal was interrupted \(SIGINT\)/);
      expect(exit.stdout).toMatch(
        new RegExp(`source roles +.*${role} LOGIN limit 5 \\(as before, password unchanged\\)`),
      );
      const json = JSON.parse(readFileSync(report, 'utf8')) as RehearsalReport;
      expect(json).toMatchObject({
        ok: false,
        interrupted: { kind: 'signal', signal: 'SIGINT' },
        lostWrites: null,
        lostWritesUnknownReason: expect.stringMatching(/interrupted/),
        cutover: { watchdog: { outcome: 'restored', restoredRoles: expect.arrayContaining([role]) } },
        servers: { state: { leftBehind: [] } },
      });
      expect(json.failedBecause[0]).toMatch(/^interrupted \(SIGINT\)/);
    } finally {
      await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  test('a crash anywhere in the process after the freeze: the freeze still ends, the role is restored, exit 1', async () => {
    const pair = await freshPair('rh_crash', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    const role = `shop_crash_${process.pid}`;
    await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`);
    await sql(serverUrl('source'), `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 4 PASSWORD 'Crash-${process.pid}'`);
    // Preloaded into the rehearsal's process: an error nobody catches, thrown once the freeze is on.
    const preload = join(dir, 'crash-after-freeze.js');
    writeFileSync(
      preload,
      `const write = process.stderr.write.bind(process.stderr);
let thrown = false;
process.stderr.write = (chunk, ...rest) => {
  if (!thrown && String(chunk).includes('✔ FreezeWrites')) {
    thrown = true;
    setImmediate(() => { throw new Error('simulated crash after the freeze'); });
  }
  return write(chunk, ...rest);
};
`,
    );
    try {
      const report = join(dir, 'crash.json');
      const exit = await new Promise<Exit>((done, fail) => {
        const child = spawn(
          process.execPath,
          [
            join(ROOT, 'node_modules/ts-node/dist/bin.js'),
            '--transpile-only',
            'bin/rehearse.ts',
            ...common(pair, report),
            '--app-role',
            role,
            '--freeze-existing-role',
          ],
          {
            cwd: ROOT,
            env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: `--require ${preload}` },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
        child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
        child.on('error', fail);
        child.on('exit', (code, signal) => done({ code, signal, stdout, stderr }));
      });
      expect({ code: exit.code, tail: exit.stderr.slice(-3000) }).toMatchObject({ code: 1 });
      expect(exit.stderr).toMatch(/unexpected error, stopping: simulated crash after the freeze/);
      const [r] = await sql<{ rolcanlogin: boolean; rolconnlimit: number }>(
        serverUrl('source'),
        `SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1`,
        [role],
      );
      expect(r).toEqual({ rolcanlogin: true, rolconnlimit: 4 });
      expect(await rehearsalObjects(pair)).toEqual([]);
      const json = JSON.parse(readFileSync(report, 'utf8')) as RehearsalReport;
      expect(json).toMatchObject({
        interrupted: { kind: 'crash', message: expect.stringMatching(/simulated crash/) },
        cutover: { watchdog: { outcome: 'restored' } },
        lostWrites: null,
      });
    } finally {
      await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  test("SIGKILL inside the freeze, then a re-run: the user's own role gets back exactly LOGIN, CONNECTION LIMIT 50", async () => {
    const pair = await freshPair('rh_kill', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    const role = `shop_kill_${process.pid}`;
    await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`);
    await sql(serverUrl('source'), `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 50 PASSWORD 'Kill-${process.pid}'`);
    // Preloaded into the rehearsal's process: once the freeze is on, the process is killed (no handler runs).
    const preload = join(dir, 'kill-in-freeze.js');
    writeFileSync(
      preload,
      `const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  const r = write(chunk, ...rest);
  if (String(chunk).includes('✔ FreezeWrites')) process.kill(process.pid, 'SIGKILL');
  return r;
};
`,
    );
    const rehearse = (report: string, env: Record<string, string>): Promise<Exit> =>
      new Promise<Exit>((done, fail) => {
        const child = spawn(
          process.execPath,
          [
            join(ROOT, 'node_modules/ts-node/dist/bin.js'),
            '--transpile-only',
            'bin/rehearse.ts',
            ...common(pair, report),
            '--app-role',
            role,
            '--freeze-existing-role',
          ],
          { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
        child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
        child.on('error', fail);
        child.on('exit', (code, signal) => done({ code, signal, stdout, stderr }));
      });
    const settings = async (): Promise<unknown> =>
      (
        await sql<{ rolcanlogin: boolean; rolconnlimit: number }>(
          serverUrl('source'),
          `SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1`,
          [role],
        )
      )[0];
    try {
      const killed = await rehearse(join(dir, 'killed.json'), { NODE_OPTIONS: `--require ${preload}` });
      expect({ signal: killed.signal, tail: killed.stderr.slice(-2000) }).toMatchObject({ signal: 'SIGKILL' });
      // What the killed process could not restore: the role frozen, its originals recorded on the source.
      expect(await settings()).toEqual({ rolcanlogin: false, rolconnlimit: 0 });
      expect(
        await sql(pair.source, `SELECT role, can_login, connection_limit FROM zdm_cutover.frozen_roles`),
      ).toContainEqual({ role, can_login: true, connection_limit: 50 });

      const again = await rehearse(join(dir, 'again.json'), {});
      expect({ code: again.code, tail: again.stderr.slice(-3000) }).toMatchObject({ code: 0 });
      expect(again.stderr).toMatch(
        new RegExp(
          `${role} was left frozen on the source by .*: restored as it recorded it \\(LOGIN, CONNECTION LIMIT 50\\)`,
        ),
      );
      expect(await settings()).toEqual({ rolcanlogin: true, rolconnlimit: 50 });
      expect(await rehearsalObjects(pair)).toEqual([]);
    } finally {
      await sql(serverUrl('source'), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  test('SIGTERM while it sets up: it stops there, removes what it made, exit 143', async () => {
    const pair = await freshPair('rh_sigterm', t.su);
    pairs.push(pair);
    await createUserSchema(pair);
    await run(pair.source, 'SELECT 1');
    const exit = await rehearseThroughNpm(common(pair, join(dir, 'sigterm.json')), /▶ initial copy/, 'SIGTERM');
    expect({ code: exit.code, tail: exit.stderr.slice(-3000) }).toMatchObject({ code: 143 });
    expect(exit.stderr).toMatch(
      /interrupted \(SIGTERM\): the cutover had not started; the source accepts writes; nothing/,
    );
    expect(await rehearsalObjects(pair)).toEqual([]);
    expect(await sql(pair.target, 'SELECT 1 FROM shop.customers LIMIT 1')).toEqual([]);
  });
});
