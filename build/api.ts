/**
 * The constructs' public API through jsii: compiles lib/ (and the contract/ types it uses) with jsii, which rejects
 * what other languages cannot express (unions, string-literal types, generics, non-string-keyed maps, `readonly T[]`
 * ...), and writes API.md with jsii-docgen.
 *
 *   ts-node --swc build/api.ts           jsii compile + regenerate API.md   (npm run api)
 *   ts-node --swc build/api.ts --check   jsii compile only: fails when the API stops being jsii-compatible
 *
 * jsii runs in a scratch copy: it needs package.json fields this repository does not publish (`jsii`, `author`,
 * `repository`) and compiles in its own way (its own tsconfig, `.jsii` assembly). Only lib/ and contract/ are copied:
 * the runtime (lambda/, cli/, ...) is not public API. Imports nothing of the project.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
  author?: unknown;
  repository?: unknown;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

function run(command: string, args: string[], cwd: string): void {
  execFileSync(process.execPath, [join(ROOT, 'node_modules', command), ...args], {
    cwd,
    stdio: 'inherit',
    // jsii warns at length on every run that it prefers Node 22+; it works on 20 (its engines allow >= 20.16).
    env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] },
  });
}

export function jsiiCompile(options: { docs: boolean }): void {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  const stage = mkdtempSync(join(tmpdir(), 'zdm-jsii-'));
  try {
    for (const dir of ['lib', 'contract']) {
      cpSync(join(ROOT, dir), join(stage, dir), { recursive: true, filter: (p) => !p.endsWith('.js') });
    }
    for (const file of ['README.md', 'LICENSE']) copyFileSync(join(ROOT, file), join(stage, file));
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
    const peers = Object.keys(pkg.peerDependencies);
    const manifest = {
      name: pkg.name,
      version: pkg.version,
      description: pkg.description,
      license: pkg.license,
      // Required by jsii; the scratch assembly is never published.
      author: pkg.author ?? { name: `${pkg.name} authors`, organization: true },
      repository: pkg.repository ?? { type: 'git', url: `https://github.com/${pkg.name}/${pkg.name}.git` },
      main: 'out/lib/index.js',
      types: 'out/lib/index.d.ts',
      peerDependencies: pkg.peerDependencies,
      devDependencies: Object.fromEntries(peers.map((name) => [name, pkg.devDependencies[name]])),
      jsii: {
        outdir: 'jsii-dist',
        targets: {},
        tsc: { outDir: 'out', rootDir: '.' },
      },
    };
    writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
    // jsii warns (JSII6) that the devDependencies are not the peers' minimum versions: they are pinned on purpose to
    // what the repository tests with.
    run(join('jsii', 'bin', 'jsii'), ['--silence-warnings=reserved-word'], stage);
    if (options.docs) {
      run(join('jsii-docgen', 'bin', 'jsii-docgen'), ['--output', 'API.md'], stage);
      copyFileSync(join(stage, 'API.md'), join(ROOT, 'API.md'));
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--check')) {
    process.stderr.write(`build/api.ts: unknown argument(s) ${args.join(' ')} (expected --check)\n`);
    process.exit(2);
  }
  try {
    jsiiCompile({ docs: !args.includes('--check') });
  } catch {
    // jsii and jsii-docgen have printed their errors.
    process.exit(1);
  }
}
