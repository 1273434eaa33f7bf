/** No silence longer than the progress interval: a phase that runs long is named while it runs. */
import { Progress } from '../../rehearsal/progress';

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
