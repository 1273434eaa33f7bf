import { WayBackWatch } from '../../rehearsal/way-back-watch';

describe('the way back, watched while open', () => {
  test('the first break seen is printed once and kept; the watch then ends by itself', async () => {
    const seen = [undefined, undefined, 'the way back is broken: 2 apply error(s)'];
    let reads = 0;
    const lines: string[] = [];
    const watch = new WayBackWatch(
      async () => seen[Math.min(reads++, seen.length - 1)],
      { log: (line) => lines.push(line) },
      1,
    );
    watch.start();
    for (let i = 0; i < 2000 && !watch.broken; i++) await new Promise((r) => setTimeout(r, 5));
    await watch.stop();
    expect(watch.broken).toMatchObject({ at: expect.any(Number), detail: 'the way back is broken: 2 apply error(s)' });
    expect(lines).toEqual(['  ✘ the way back is broken: 2 apply error(s)']);
    expect(reads).toBe(3);
  });

  test('a look that fails is not a break; stop ends the watch without one', async () => {
    let reads = 0;
    const watch = new WayBackWatch(
      async () => {
        reads++;
        throw new Error('connection refused');
      },
      { log: () => undefined },
      1,
    );
    watch.start();
    for (let i = 0; i < 2000 && reads < 3; i++) await new Promise((r) => setTimeout(r, 5));
    await watch.stop();
    expect(watch.broken).toBeUndefined();
    expect(reads).toBeGreaterThanOrEqual(3);
  });
});
