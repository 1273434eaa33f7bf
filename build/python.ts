/**
 * The Python package (`npm run package:python`): jsii-pacmak generates it from the `.jsii` assembly and the npm
 * tarball (which `npm pack` builds through `prepack`, the Lambda bundle included), then pip builds the wheel into
 * dist/packages/python/dist/.
 *
 * jsii-pacmak's own wheel build first installs pinned build tools (setuptools~=75.3, build, twine) from PyPI. Where
 * PyPI cannot be reached (this project's machines reach only a local package index), that step fails, so the wheel is
 * built here from the generated sources with `pip wheel --no-build-isolation`, in a scratch virtual environment whose
 * setuptools comes from whatever index pip is configured with. `--pacmak` runs jsii-pacmak's own build instead.
 *
 * Imports nothing of the project.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const OUT = join(ROOT, 'dist', 'packages', 'python');

function run(command: string, args: string[], cwd = ROOT): void {
  execFileSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] },
  });
}

function pacmak(codeOnly: boolean): void {
  const args = ['--targets', 'python', ...(codeOnly ? ['--code-only'] : [])];
  run(process.execPath, [join(ROOT, 'node_modules', 'jsii-pacmak', 'bin', 'jsii-pacmak'), ...args]);
}

function wheel(): string {
  const python = process.env.PYTHON ?? 'python3';
  const venv = mkdtempSync(join(tmpdir(), 'zdm-python-build-'));
  try {
    run(python, ['-m', 'venv', venv]);
    const pip = join(venv, 'bin', 'pip');
    // setuptools 70.1+ builds wheels without the separate `wheel` package.
    run(pip, ['install', '--quiet', '--disable-pip-version-check', 'setuptools>=70.1']);
    const dist = join(OUT, 'dist');
    rmSync(dist, { recursive: true, force: true });
    run(pip, ['wheel', '--no-deps', '--no-build-isolation', '--disable-pip-version-check', '-w', dist, OUT]);
    const built = readdirSync(dist).filter((f) => f.endsWith('.whl'));
    if (built.length !== 1) throw new Error(`expected one wheel in ${dist}, found ${built.join(', ') || 'none'}`);
    return join(dist, built[0]);
  } finally {
    rmSync(venv, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--pacmak')) {
    process.stderr.write(`build/python.ts: unknown argument(s) ${args.join(' ')} (expected --pacmak)\n`);
    process.exit(2);
  }
  try {
    if (args.includes('--pacmak')) {
      pacmak(false);
    } else {
      pacmak(true);
      process.stdout.write(`${wheel()}\n`);
    }
  } catch (error) {
    process.stderr.write(`build/python.ts: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
