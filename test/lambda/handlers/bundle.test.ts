import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

/**
 * The Lambda code is bundled by esbuild at synth (NodejsFunction). This builds the same entry with the same
 * options and loads the bundle, so a module that cannot be bundled or loaded fails here, not in AWS.
 */
describe('cutover step Lambda bundle', () => {
  const root = join(__dirname, '..', '..', '..');
  // Inside the project, so the bundle resolves the runtime-provided AWS SDK from node_modules as Lambda would.
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'zdm-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bundles the handler entry and exports a handler function', () => {
    const outfile = join(dir, 'index.js');
    const result = buildSync({
      entryPoints: [join(root, 'lambda', 'handlers', 'cutover-step.ts')],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      outfile,
      // As in lib/cutover/cutover-workflow.ts: the AWS SDK v3 ships with the runtime; pg-native is never used.
      external: ['@aws-sdk/*', 'pg-native'],
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    expect(statSync(outfile).size).toBeGreaterThan(10_000);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(outfile) as { handler?: unknown };
    expect(typeof mod.handler).toBe('function');
  });
});
