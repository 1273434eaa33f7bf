/**
 * The package is a jsii project (package.json `jsii`): jsii compiles lib/ and contract/ (tsconfig.build.json) into
 * dist/ and writes the `.jsii` assembly at the root, which `npm pack` ships and jsii-pacmak turns into the Python,
 * Java, .NET and Go packages. jsii rejects what other languages cannot express (unions, string-literal types,
 * generics, non-string-keyed maps, `readonly T[]` ...).
 *
 *   ts-node --swc build/api.ts             jsii compile + regenerate API.md with jsii-docgen   (npm run api)
 *   ts-node --swc build/api.ts --compile   jsii compile only (npm run build, npm run api:check): fails when the API
 *                                          stops being jsii-compatible
 *   ts-node --swc build/api.ts --check     the same as --compile
 *
 * Imports nothing of the project.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/**
 * jsii warnings that are expected here:
 * - reserved-word: names such as `source`, `target` or `default` are reserved in some language; jsii-pacmak renames them.
 * - metadata/missing-dev-dependency: the devDependencies on the peers (aws-cdk-lib, constructs) are pinned on purpose
 *   to the versions the repository tests with, not to the peers' minimum versions.
 */
const SILENCED = ['reserved-word', 'metadata/missing-dev-dependency'];

function run(command: string, args: string[]): void {
  execFileSync(process.execPath, [join(ROOT, 'node_modules', command), ...args], {
    cwd: ROOT,
    // jsii reports on stdout; send it to stderr, so that `npm pack --json` (prepack builds) prints only its JSON.
    stdio: ['inherit', 2, 'inherit'],
    // jsii warns at length on every run that it prefers Node 22+; it works on 20 (its engines allow >= 20.16).
    env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] },
  });
}

export function jsiiCompile(options: { docs: boolean }): void {
  run(
    join('jsii', 'bin', 'jsii'),
    SILENCED.map((w) => `--silence-warnings=${w}`),
  );
  if (options.docs) run(join('jsii-docgen', 'bin', 'jsii-docgen'), ['--output', 'API.md']);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--check' && a !== '--compile')) {
    process.stderr.write(`build/api.ts: unknown argument(s) ${args.join(' ')} (expected --compile or --check)\n`);
    process.exit(2);
  }
  try {
    jsiiCompile({ docs: args.length === 0 });
  } catch {
    // jsii and jsii-docgen have printed their errors.
    process.exit(1);
  }
}
