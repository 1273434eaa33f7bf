import { main } from '../../cli/main';
import {
  createProgressReporter,
  formatCount,
  formatDuration,
  formatProgressBar,
  formatProgressLine,
} from '../../cli/progress';
import type { Progress } from '../../lambda/engine/validation/types';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const checksums = (done: number, rowsDone: number): Progress => ({
  phase: 'checksums',
  done,
  total: 40,
  rowsDone,
  rowsTotal: 2_000_000,
  table: 'public.orders',
});

describe('progress formatting', () => {
  it('formats counts and durations', () => {
    expect([formatCount(950), formatCount(12_345), formatCount(412_000), formatCount(4_100_000)]).toEqual([
      '950',
      '12.3k',
      '412k',
      '4.1M',
    ]);
    expect([formatDuration(7_000), formatDuration(725_000), formatDuration(3_723_000)]).toEqual([
      '0:07',
      '12:05',
      '1:02:03',
    ]);
  });

  it('a plain line names the phase, units, rows, rate, ETA and table', () => {
    const line = formatProgressLine(checksums(12, 600_000), {
      elapsedMs: 1500,
      ratePerSecond: 400_000,
      rateInRows: true,
      etaMs: 3500,
    });
    expect(line).toBe(
      'zdm: checksums 12/40 ranges (30%), 600,000/2,000,000 rows, 400k rows/s, ETA 0:04, public.orders\n',
    );
  });

  it('a bar shows rate and ETA once they can be measured', () => {
    const p = checksums(20, 1_000_000);
    expect(formatProgressBar(p, { elapsedMs: 100, rateInRows: true }, 10)).toBe(
      '\rchecksums [#####.....] 20/40 ~1,000,000/2,000,000 rows\x1b[K',
    );
    expect(formatProgressBar(p, { elapsedMs: 2500, ratePerSecond: 400_000, rateInRows: true, etaMs: 2500 }, 10)).toBe(
      '\rchecksums [#####.....] 20/40 ~1,000,000/2,000,000 rows 400k rows/s ETA 0:03\x1b[K',
    );
  });
});

describe('progress reporter', () => {
  it('without a terminal: a line when a phase starts, then one every interval, with the measured rate and ETA', () => {
    const c = clock();
    const out: string[] = [];
    const r = createProgressReporter({ write: (t) => out.push(t), tty: false, now: c.now, intervalMs: 5000 });
    r.update({ phase: 'plan', done: 0, total: 1 });
    r.update({ phase: 'plan', done: 1, total: 1 });
    r.update(checksums(1, 50_000));
    for (let i = 2; i <= 40; i++) {
      c.advance(250); // 200,000 rows/s
      r.update(checksums(i, i * 50_000));
    }
    r.done();
    expect(out).toEqual([
      'zdm: plan 0/1 steps (0%)\n',
      'zdm: checksums 1/40 ranges (2%), 50,000/2,000,000 rows, public.orders\n',
      'zdm: checksums 21/40 ranges (52%), 1,050,000/2,000,000 rows, 200k rows/s, ETA 0:05, public.orders\n',
    ]);
  });

  it('on a terminal: a bar redrawn at most every redraw interval, always at the end, then cleared', () => {
    const c = clock();
    const out: string[] = [];
    const r = createProgressReporter({ write: (t) => out.push(t), tty: true, now: c.now, redrawMs: 100 });
    r.update(checksums(1, 50_000));
    c.advance(50);
    r.update(checksums(2, 100_000)); // too soon: not drawn
    c.advance(950);
    r.update(checksums(39, 1_950_000));
    r.update(checksums(40, 2_000_000)); // the end is always drawn
    r.done();
    expect(out).toHaveLength(4);
    expect(out[1]).toContain('1.9M rows/s');
    expect(out[1]).toContain('ETA 0:00');
    expect(out[2]).toContain('40/40');
    expect(out[3]).toBe('\r\x1b[K');
  });
});

describe('zdm progress (validate)', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('cliprogress');
    await p.both(`
      CREATE TABLE public.items (id int PRIMARY KEY, v text);
      INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 300) g;`);
  });
  afterAll(() => p.close());

  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), stderrIsTTY: false });
    return { code, out, err };
  }

  it('writes progress lines to stderr only, and nothing with --quiet', async () => {
    const args = ['validate', '--source', p.sourceUrl, '--target', p.targetUrl, '--include', 'public.items'];
    const loud = await run(...args, '--json');
    expect(loud.code).toBe(0);
    expect(JSON.parse(loud.out)).toMatchObject({ ok: true }); // stdout: the result, nothing else
    expect(loud.err).toMatch(/^zdm: plan 0\/1 steps/m);
    expect(loud.err).toMatch(/^zdm: checksums \d+\/\d+ ranges/m);

    for (const flag of ['--quiet', '-q']) {
      const quiet = await run(...args, flag);
      expect(quiet.code).toBe(0);
      expect(quiet.out).toContain('OK: 1 table(s), 1 match');
      expect(quiet.err).toBe('');
    }
  });
});
