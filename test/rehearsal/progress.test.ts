/** No silence longer than the progress interval: a phase that runs long is named while it runs. */
import { Progress } from '../../rehearsal/progress';
import { stateEventLogger } from '../../rehearsal/run-cutover';
import { writeRate } from '../../rehearsal/load/start-load';
import type { AckedWrite } from '../../rehearsal/load/write-load';
import { ReadTally } from '../../rehearsal/load/read-load';

test('a long phase says it is still running, named, with how long so far; a finished one says nothing more', async () => {
  const lines: string[] = [];
  let heard: () => void = () => undefined;
  const stillSaid = new Promise<void>((resolve) => (heard = resolve));
  const io = {
    out: () => undefined,
    err: (line: string) => {
      lines.push(line);
      if (line.includes('… still')) heard();
    },
  };
  const progress = new Progress(io, false, Date.now(), 200);
  await progress.phase('drop the subscription', () => stillSaid);
  expect(lines.find((l) => l.includes('… still'))).toMatch(/… still drop the subscription \(\d+ ms so far\)$/);
  expect(lines[lines.length - 1]).toMatch(/✔ drop the subscription/);
  const quiet: string[] = [];
  await new Progress({ out: () => undefined, err: (l: string) => quiet.push(l) }, true, Date.now(), 1).phase(
    'quiet',
    async () => undefined,
  );
  expect(quiet).toEqual([]);
});

test('a state that fails is printed once, as failed; an execution that FAILED is marked ✘', async () => {
  const lines: string[] = [];
  const progress = new Progress({ out: () => undefined, err: (l: string) => lines.push(l) }, false, 0, 60_000);
  const log = stateEventLogger(progress);
  const at = (timestamp: number) => ({ timestamp, step: 'finalSync' as const });
  log({ type: 'StateEntered', state: 'FinalSync', ...at(1) });
  log({ type: 'StateFailed', state: 'FinalSync', error: 'Boom', cause: 'injected', ...at(2) });
  log({ type: 'StateExited', state: 'FinalSync', ...at(3) });
  log({ type: 'StateEntered', state: 'FinalSync', ...at(4) });
  log({ type: 'StateExited', state: 'FinalSync', ...at(5) });
  const finalSync = lines.filter((l) => l.includes('FinalSync'));
  expect(finalSync.map((l) => l.replace(/^\[[ \d.]+s\] +/, ''))).toEqual([
    '→ FinalSync',
    '✘ FinalSync: Boom injected',
    '→ FinalSync',
    '✔ FinalSync (1 ms)',
  ]);
  await progress.phase(
    'cutover',
    async () => ({ status: 'FAILED' }),
    (r) => `execution ${r.status}`,
    (r) => r.status !== 'SUCCEEDED',
  );
  expect(lines[lines.length - 1]).toMatch(/✘ cutover \(\d+ ms\) — execution FAILED$/);
});

test('the write rate is the server-side pace by the acknowledgements’ own clocks, not their arrival in bursts', () => {
  const t0 = 1_000_000;
  // 300 writes/s for 3 s, all arriving at once (the thread that counts them was busy).
  const acks = Array.from({ length: 900 }, (_, i) => ({ at: t0 + (i * 1000) / 300 }) as AckedWrite);
  expect(writeRate(acks, t0 + 3000)).toBe(300);
  // Nothing acknowledged since: a freeze reads as 0/s, not as the last second that had writes.
  expect(writeRate(acks, t0 + 5000)).toBe(0);
  expect(writeRate([], t0)).toBe(0);
});

test('the reads ticker counts by the reads’ own clocks: a burst that arrives late is the rate the servers answered', () => {
  const tally = new ReadTally();
  // 50 reads/s on the source for 2 s, then 50/s on the target for 1 s — all delivered at once afterwards.
  const t0 = 1_000_000;
  for (let i = 0; i < 100; i++) {
    tally.add({ at: t0 + i * 20, server: 'source', outcome: 'fresh', latencyMs: 1, retries: 0 });
  }
  for (let i = 0; i < 50; i++) {
    tally.add({ at: t0 + 2000 + i * 20, server: 'target', outcome: 'fresh', latencyMs: 1, retries: 0 });
  }
  expect(tally.answeredRate(t0 + 2000)).toEqual({ source: 50 });
  expect(tally.answeredRate(t0 + 3000)).toEqual({ target: 50 });
  const mixed = tally.answeredRate(t0 + 2500);
  expect(mixed.source).toBeCloseTo(25, 5);
  expect(mixed.target).toBeCloseTo(25, 5);
  expect(new ReadTally().answeredRate(t0)).toEqual({});
});
