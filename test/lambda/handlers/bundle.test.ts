import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { bundleHandler, HANDLER_FILE, handlerBuildOptions } from '../../../build/bundles';

/**
 * The Lambda code is bundled by the one build definition (build/bundles.ts): at pack time into dist/handlers, at
 * synth from source by the construct. This builds it the same way and loads it, so a module that cannot be bundled
 * or loaded fails here, not in AWS.
 */
describe('cutover step Lambda bundle', () => {
  const root = join(__dirname, '..', '..', '..');
  // Inside the project, so the bundle resolves the runtime-provided AWS SDK from node_modules as Lambda would.
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'zdm-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bundles the handler entry and exports a handler function', () => {
    const outfile = bundleHandler('cutover-step', dir);
    expect(outfile).toBe(join(dir, HANDLER_FILE));
    expect(statSync(outfile).size).toBeGreaterThan(10_000);
    // Everything but the runtime-provided AWS SDK is inside: pg and Powertools are not required at run time.
    const requires = [...readFileSync(outfile, 'utf8').matchAll(/require\("([^"./][^"]*)"\)/g)].map((m) => m[1]);
    const packages = requires.filter(
      (r) => !r.startsWith('@aws-sdk/') && !builtinModules.includes(r.replace(/^node:/, '')),
    );
    expect([...new Set(packages)]).toEqual(['pg-native']); // pg's optional binding, required in a try/catch
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(outfile) as { handler?: unknown };
    expect(typeof mod.handler).toBe('function');
  });

  it('keeps the AWS SDK external (it ships with the runtime) and writes a source map', () => {
    const options = handlerBuildOptions('cutover-step', dir);
    expect(options.external).toEqual(expect.arrayContaining(['@aws-sdk/*']));
    expect(statSync(join(dir, `${HANDLER_FILE}.map`)).size).toBeGreaterThan(0);
  });
});
