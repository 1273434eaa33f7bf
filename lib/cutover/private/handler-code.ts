import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** `Handler` of the cutover functions: the bundle is `index.js` and exports `handler`. */
export const CUTOVER_STEP_HANDLER = 'index.handler';

/** The bundle of the cutover step handler (build/bundles.ts `HANDLERS`). */
const BUNDLE = 'cutover-step';

/**
 * Three levels up from this file: the repository root when it runs as TypeScript source (lib/cutover/private),
 * `dist/` of the package when it runs compiled (dist/lib/cutover/private).
 */
const BASE = path.join(__dirname, '..', '..', '..');

/** What build/bundles.ts exports that this file uses (typed here: lib/ imports nothing from the build). */
interface BuildDefinition {
  bundleHandler(name: typeof BUNDLE, outDir: string): string;
}

/**
 * The Lambda code of the cutover steps, the way aws-cdk ships the handlers of its own custom resources:
 *
 * - compiled (an installed package): the bundle made when the package was built, `dist/handlers/cutover-step/`
 *   (`npm run build`, run by `prepack`). The consumer's synth runs neither esbuild nor Docker, needs none of the
 *   handler's dependencies and works from any install location (a `file:` dependency included).
 * - TypeScript source (this repository: jest, ts-node): bundled at synth by CDK's local bundling with the same
 *   build definition (build/bundles.ts, esbuild is a devDependency), so nothing has to be built first. Stacks whose
 *   bundling is skipped (`aws:cdk:bundling-stacks`) get CDK's placeholder asset, as they did with NodejsFunction.
 */
export function cutoverStepCode(): lambda.Code {
  if (!__filename.endsWith('.ts')) {
    const dir = path.join(BASE, 'handlers', BUNDLE);
    if (!existsSync(path.join(dir, 'index.js'))) {
      throw new Error(
        `zero-downtime-migration: this installation of the package lacks the pre-built cutover Lambda code (${dir}); ` +
          'it was packaged without its build. Install a released package (npm tarball, Python wheel, ...) instead. ' +
          '(Packaging it yourself: "npm pack" and "jsii-pacmak" build it through the prepack script; do not skip scripts.)',
      );
    }
    return lambda.Code.fromAsset(dir);
  }
  return lambda.Code.fromAsset(path.join(BASE, 'lambda', 'handlers'), {
    // The bundle also holds contract/, lambda/engine/ and packages: hash what it is, not the entry directory.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling either succeeds or throws (esbuild errors name the file and line).
      image: DockerImage.fromRegistry('zero-downtime-migration/bundles-locally-with-esbuild'),
      local: {
        tryBundle(outputDir: string): boolean {
          // A computed path: the package's compiled lib never reaches this branch, and bundlers of a consumer's
          // app must not try to follow it.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const definition = require(path.join(BASE, 'build', 'bundles')) as BuildDefinition;
          definition.bundleHandler(BUNDLE, outputDir);
          return true;
        },
      },
    },
  });
}
