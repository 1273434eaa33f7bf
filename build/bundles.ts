/**
 * What esbuild bundles, defined once: the cutover step Lambda code and the `zdm` CLI.
 *
 * - `npm run build` (and so `npm pack` / `npm publish`, through `prepack`) writes `dist/handlers/<name>/index.js`
 *   (+ source map), which the constructs of a built package load with `lambda.Code.fromAsset`, and `dist/bin/zdm.js`.
 *   A consumer's synth therefore needs neither esbuild nor Docker, nor this package's runtime dependencies.
 * - From TypeScript source (jest, ts-node: tests, `npm run rehearse`, `cdk synth` of bin/app.ts) the constructs bundle
 *   the handler on the fly with {@link bundleHandler} (lib/cutover/private/handler-code.ts).
 * - test/lambda/handlers/bundle.test.ts builds and loads the same bundle.
 *
 * Imports nothing of the project (only esbuild and node): the entry points are paths, so lib/ does not depend on
 * the runtime through this file. Run it as `ts-node --swc build/bundles.ts [handlers|cli]` (default: both).
 */
import { readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { buildSync, type BuildOptions, type Metafile } from 'esbuild';

/** The repository root (where package.json is). */
export const ROOT = join(__dirname, '..');

/** Where the package's build output goes. */
export const DIST = join(ROOT, 'dist');

/** Lambda handler bundles by name: the entry point, relative to the root. */
export const HANDLERS = {
  'cutover-step': 'lambda/handlers/cutover-step.ts',
} as const;
export type HandlerName = keyof typeof HANDLERS;

/** Every handler bundle is `index.js` exporting `handler` (the function's `Handler` is `index.handler`). */
export const HANDLER_FILE = 'index.js';

/** The esbuild options of a handler bundle written to `outDir`. */
export function handlerBuildOptions(name: HandlerName, outDir: string): BuildOptions {
  return {
    entryPoints: [join(ROOT, HANDLERS[name])],
    outfile: join(outDir, HANDLER_FILE),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // Runs on the newest Node.js runtime the consumer's aws-cdk-lib knows, 22 or later (lib/private/runtime.ts).
    target: 'node22',
    minify: true,
    // With NODE_OPTIONS=--enable-source-maps (set by the construct) stack traces name the TypeScript lines.
    sourcemap: true,
    // The AWS SDK v3 ships with the Lambda Node.js runtime; pg's optional native binding is never used.
    // Everything else (pg, Powertools, the engine) is in the bundle.
    external: ['@aws-sdk/*', 'pg-native'],
    logLevel: 'warning',
    metafile: true,
  };
}

/** Bundles handler `name` into `outDir` (`index.js` + `index.js.map`); returns the bundle's path. */
export function bundleHandler(name: HandlerName, outDir: string): string {
  const options = handlerBuildOptions(name, outDir);
  buildSync(options);
  return options.outfile as string;
}

/** Bundles every handler into `<outRoot>/<name>/` (default `dist/handlers`), replacing what was there. */
export function bundleHandlers(outRoot: string = join(DIST, 'handlers')): Record<HandlerName, string> {
  const out = {} as Record<HandlerName, string>;
  for (const name of Object.keys(HANDLERS) as HandlerName[]) {
    const dir = join(outRoot, name);
    rmSync(dir, { recursive: true, force: true });
    out[name] = bundleHandler(name, dir);
  }
  return out;
}

/**
 * The esbuild options of the CLI: one file, so `zdm` starts without resolving a hundred modules. Its packages (`pg`)
 * are bundled too, so the package has no runtime `dependencies`: a jsii package may depend only on jsii modules (or
 * bundle the others), and a consumer installs nothing but the constructs' peers. Only `pg-native`, which pg loads on
 * demand and the CLI never asks for, stays external ({@link bundleCli} checks that nothing else does).
 */
export function cliBuildOptions(outfile: string = join(DIST, 'bin', 'zdm.js')): BuildOptions {
  return {
    entryPoints: [join(ROOT, 'bin', 'zdm.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: [...CLI_OPTIONAL_EXTERNALS],
    logLevel: 'warning',
    metafile: true,
  };
}

/** The packages a bundle `require`s at run time (its external imports), e.g. `pg`. */
export function externalPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (!imported.external || imported.path.startsWith('node:') || imported.path.startsWith('.')) continue;
      const parts = imported.path.split('/');
      const name = imported.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
      if (!BUILTINS.has(name)) names.add(name);
    }
  }
  return [...names].sort();
}

const BUILTINS = new Set(builtinModules);

/** Packages the bundled CLI may leave out: loaded only on demand by a bundled package, never by the CLI. */
export const CLI_OPTIONAL_EXTERNALS = ['pg-native'] as const;

/**
 * Bundles the CLI into `outfile` (default `dist/bin/zdm.js`); fails when the bundle still `require`s a package at run
 * time that is neither a dependency nor one of {@link CLI_OPTIONAL_EXTERNALS}.
 */
export function bundleCli(outfile?: string): string {
  const options = cliBuildOptions(outfile);
  const result = buildSync(options);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  const allowed = new Set<string>([...Object.keys(pkg.dependencies ?? {}), ...CLI_OPTIONAL_EXTERNALS]);
  const missing = externalPackages(result.metafile as Metafile).filter((name) => !allowed.has(name));
  if (missing.length > 0) {
    rmSync(options.outfile as string, { force: true });
    throw new Error(
      `the zdm CLI requires ${missing.join(', ')} at run time, which ${missing.length === 1 ? 'is' : 'are'} not bundled: ` +
        'an installed package would fail (bundle it, or keep it out of cli/ and lambda/engine/)',
    );
  }
  return options.outfile as string;
}

interface PackageJson {
  readonly dependencies?: Record<string, string>;
}

if (require.main === module) {
  const what = process.argv.slice(2);
  const unknown = what.filter((w) => w !== 'handlers' && w !== 'cli');
  if (unknown.length > 0) {
    process.stderr.write(`build/bundles.ts: unknown bundle ${unknown.join(', ')} (expected handlers and/or cli)\n`);
    process.exit(2);
  }
  if (what.length === 0 || what.includes('handlers')) bundleHandlers();
  if (what.length === 0 || what.includes('cli')) bundleCli();
}
