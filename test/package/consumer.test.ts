/**
 * The package as a consumer gets it: `npm pack` (which builds it through `prepack`), installed into a fresh CDK app
 * that has neither esbuild nor Docker, compiled there with strict TypeScript and synthesized. Then the same package
 * as a `file:` dependency (a directory outside the app, linked), which used to fail with PathNotUnderRoot.
 *
 * Offline: the package has no runtime dependency (the CLI bundles pg); the app's npm install resolves from a
 * lockfile made from this repository's, so any tarball comes from the npm cache that `npm ci` filled. `aws-cdk-lib`, `constructs` (peer
 * dependencies) and `@types/node` are linked from this repository's node_modules, as the app's own would be.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { JsiiHost, jsiiClosure, type ObjRef, packFromCache, struct } from '../support/jsii-host';
import { figures } from '../support/figures';

const ROOT = join(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies: Record<string, string>;
};
const LOCK = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }>;
};
/** What the app links from this repository instead of installing (peers and node's types). */
const LINKED = ['aws-cdk-lib', 'constructs', '@types/node'];

/** The environment of a nested npm: none of the outer `npm test`'s lifecycle variables, its cache settings kept. */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') || keep.has(key.toLowerCase())),
  );
}

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env: npmEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) failed:\n${(e.stdout ?? '').slice(-2000)}\n${(e.stderr ?? e.message).slice(-2000)}`,
      { cause: error },
    );
  }
}

/** `node_modules/<name>` of the runtime dependencies and everything they need, as this repository's lockfile has them. */
function runtimeDependencyClosure(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const todo = Object.keys(PKG.dependencies ?? {});
  while (todo.length > 0) {
    const name = todo.pop() as string;
    const key = `node_modules/${name}`;
    if (out[key]) continue;
    const entry = LOCK.packages[key];
    if (!entry) throw new Error(`${key} is not in package-lock.json`);
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = entry as Record<string, unknown>;
    out[key] = rest;
    todo.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
  }
  return out;
}

function link(app: string, names: string[]): void {
  for (const name of names) {
    const at = join(app, 'node_modules', name);
    mkdirSync(join(at, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), at, 'dir');
  }
}

const APP_TS = `
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { TrafficSwitchTarget, ZeroDowntimeMigration } from '${PKG.name}';

// CloudFormation validation of the template is CDK's, not this package's: off to keep the check fast.
const app = new App({ outdir: 'cdk.out', builtinCloudFormationValidation: false });
const stack = new Stack(app, 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
const migration = new ZeroDowntimeMigration(stack, 'Migration', {
  vpc,
  source: {
    databaseName: 'orders',
    secret: secretsmanager.Secret.fromSecretNameV2(stack, 'SourceSecret', 'zdm/source-postgres'),
  },
  tables: { include: [{ schema: 'public' }] },
  cutover: {
    applicationRoles: ['orders_app'],
    trafficSwitch: TrafficSwitchTarget.ssmParameter(
      ssm.StringParameter.fromStringParameterName(stack, 'Host', '/orders/database-host'),
    ),
  },
});
// The app's aws-cdk-lib types are the package's (one copy): an IConnectable of the app's ec2 module.
const connectable: ec2.IConnectable = migration.cutover;
connectable.connections.allowTo(ec2.Peer.ipv4('10.1.0.0/16'), ec2.Port.tcp(5432), 'to the source');
app.synth();
`;

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

/** The package as `npm pack` makes it (`prepack` builds it), once for the file: both describes use it. */
let packedOnce: { tarball: string; entries: string[]; size: number } | undefined;
const packDir = mkdtempSync(join(tmpdir(), 'zdm-pack-'));
afterAll(() => rmSync(packDir, { recursive: true, force: true }));
function pack(): { tarball: string; entries: string[]; size: number } {
  if (!packedOnce) {
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', packDir], ROOT)) as {
      filename: string;
      size: number;
      files: { path: string }[];
    }[];
    packedOnce = {
      tarball: join(packDir, packed[0].filename),
      entries: packed[0].files.map((f) => f.path),
      size: packed[0].size,
    };
  }
  return packedOnce;
}

const resourcesOf = (template: Template, type: string) =>
  Object.values(template.Resources).filter((r) => r.Type === type);

/** The cutover step functions (the only ones with ALLOWED_STEPS). */
const cutoverFunctions = (template: Template) =>
  resourcesOf(template, 'AWS::Lambda::Function').filter(
    (f) => (f.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.ALLOWED_STEPS,
  );

describe(`the ${PKG.name} package in a consumer's CDK app`, () => {
  let work: string;
  let tarball: string;
  let entries: string[];
  let app: string;
  let template: Template;
  const timings: Record<string, number> = {};
  const timed = <T>(what: string, fn: () => T): T => {
    const t0 = Date.now();
    try {
      return fn();
    } finally {
      timings[what] = Date.now() - t0;
    }
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'zdm-consumer-'));
    const packed = timed('npm pack (prepack: build)', pack);
    tarball = packed.tarball;
    entries = packed.entries;

    // A fresh app: the tarball and what its lockfile says, from the cache only.
    app = join(work, 'app');
    mkdirSync(app);
    const spec = `file:${relative(app, tarball)}`;
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    const manifest = { name: 'consumer', version: '1.0.0', private: true, dependencies: { [PKG.name]: spec } };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    const own = {
      version: PKG.version,
      resolved: spec,
      integrity,
      license: PKG.license,
      dependencies: PKG.dependencies,
      peerDependencies: PKG.peerDependencies,
      bin: PKG.bin,
      engines: PKG.engines,
    };
    const lock = {
      name: 'consumer',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': manifest, [`node_modules/${PKG.name}`]: own, ...runtimeDependencyClosure() },
    };
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
    timed('npm ci --offline', () =>
      run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts'], app),
    );
    link(app, LINKED);

    writeFileSync(join(app, 'app.ts'), APP_TS);
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'commonjs',
        strict: true,
        outDir: '.',
        types: ['node'],
        skipLibCheck: true,
      },
      files: ['app.ts'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    timed('tsc (strict)', () =>
      run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], app),
    );
    timed('synth', () => run(process.execPath, ['app.js'], app));
    template = JSON.parse(readFileSync(join(app, 'cdk.out', 'Consumer.template.json'), 'utf8')) as Template;
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    figures(
      `consumer check: ${Object.entries(timings)
        .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`)
        .join(', ')}`,
    );
  });

  it('packs the build, the types, README and LICENSE, and no sources, tests, keys or configs', () => {
    for (const path of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/contract/index.js',
      'dist/handlers/cutover-step/index.js',
      'dist/bin/zdm.js',
      '.jsii',
    ]) {
      expect(entries).toContain(path);
    }
    const unexpected = entries.filter(
      (p) =>
        !/^dist\/(lib|contract)\/.+\.(js|d\.ts)$/.test(p) &&
        !/^dist\/handlers\/[^/]+\/index\.js(\.map)?$/.test(p) &&
        !['dist/bin/zdm.js', 'LICENSE', 'README.md', 'package.json', 'API.md', '.jsii', 'CHANGELOG.md'].includes(p),
    );
    expect(unexpected).toEqual([]);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  it('declares aws-cdk-lib and constructs as peers, no runtime dependency, and its types import nothing else', () => {
    const installed = join(app, 'node_modules', PKG.name);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as typeof PKG;
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    // No runtime dependencies at all: the zdm CLI bundles pg, and a jsii package may depend only on jsii modules.
    expect(manifest.dependencies ?? {}).toEqual({});
    const imports = new Set<string>();
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (entry.name.endsWith('.d.ts')) {
          for (const m of readFileSync(path, 'utf8').matchAll(/(?:from|import\()\s*['"]([^'".][^'"]*)['"]/g))
            imports.add(m[1]);
        }
      }
    };
    visit(join(installed, 'dist'));
    expect([...imports].filter((i) => i !== 'constructs' && !/^aws-cdk-lib(\/|$)/.test(i))).toEqual([]);
  });

  it('synthesizes the DMS tasks, the state machines and the cutover functions without esbuild or Docker', () => {
    expect(() => require.resolve('esbuild', { paths: [app] })).toThrow();
    // forward (full load + CDC) and the way back (CDC only, Aurora → source); the cutover and the fallback
    const tasks = resourcesOf(template, 'AWS::DMS::ReplicationTask')
      .map((t) => t.Properties.MigrationType)
      .sort();
    expect(tasks).toEqual(['cdc', 'full-load-and-cdc']);
    expect(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).toHaveLength(2);
    const steps = cutoverFunctions(template);
    expect(steps.length).toBeGreaterThanOrEqual(3); // database, replication, traffic (and any the cutover adds)
    for (const fn of steps) {
      expect(fn.Properties).toMatchObject({
        Handler: 'index.handler',
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
      });
    }
  });

  it("uses the package's pre-built Lambda code as the asset", () => {
    const keys = new Set(cutoverFunctions(template).map((f) => (f.Properties.Code as { S3Key: string }).S3Key));
    expect(keys.size).toBe(1);
    const hash = [...keys][0].replace(/\.zip$/, '');
    const staged = readFileSync(join(app, 'cdk.out', `asset.${hash}`, 'index.js'));
    const prebuilt = readFileSync(join(app, 'node_modules', PKG.name, 'dist', 'handlers', 'cutover-step', 'index.js'));
    expect(staged.equals(prebuilt)).toBe(true);
  });

  it('installs a working zdm command', () => {
    const out = run(join(app, 'node_modules', '.bin', 'zdm'), ['--help'], app);
    expect(out).toContain('Usage: zdm <command>');
  });

  it('works as a file: dependency on a directory outside the app (no PathNotUnderRoot)', () => {
    // The package directory as a clone would have it after `npm ci`: its runtime dependencies installed, the peers
    // present (here: linked, as the app's are, so there is one aws-cdk-lib).
    const unpacked = join(work, 'linked');
    mkdirSync(unpacked);
    run('tar', ['-xzf', tarball, '-C', unpacked], work);
    const pkgDir = join(unpacked, 'package');
    for (const key of Object.keys(runtimeDependencyClosure())) {
      cpSync(join(ROOT, key), join(pkgDir, key), { recursive: true });
    }
    link(pkgDir, ['aws-cdk-lib', 'constructs']);
    const app2 = join(work, 'app-file');
    mkdirSync(app2);
    writeFileSync(
      join(app2, 'package.json'),
      JSON.stringify({ name: 'consumer-file', version: '1.0.0', private: true }),
    );
    timed('npm install file: --offline', () =>
      run(
        'npm',
        [
          'install',
          '--offline',
          '--no-audit',
          '--no-fund',
          '--legacy-peer-deps',
          '--ignore-scripts',
          `file:${relative(app2, pkgDir)}`,
        ],
        app2,
      ),
    );
    link(app2, ['aws-cdk-lib', 'constructs']);
    cpSync(join(app, 'app.js'), join(app2, 'app.js'));
    run(process.execPath, ['app.js'], app2);
    const linked = JSON.parse(readFileSync(join(app2, 'cdk.out', 'Consumer.template.json'), 'utf8')) as Template;
    expect(resourcesOf(linked, 'AWS::StepFunctions::StateMachine')).toHaveLength(2);
    // The same pre-built code, hence the same asset.
    const codeOf = (t: Template) =>
      resourcesOf(t, 'AWS::Lambda::Function')
        .map((f) => (f.Properties.Code as { S3Key?: string }).S3Key)
        .sort();
    expect(codeOf(linked)).toEqual(codeOf(template));
    expect(existsSync(join(app2, 'node_modules', PKG.name, 'dist', 'handlers'))).toBe(true);
  });
  it('says what to do, in any language, when installed without its Lambda bundle', () => {
    const broken = join(work, 'broken');
    mkdirSync(broken);
    run('tar', ['-xzf', tarball, '-C', broken], work);
    const pkgDir = join(broken, 'package');
    rmSync(join(pkgDir, 'dist', 'handlers'), { recursive: true });
    link(pkgDir, ['aws-cdk-lib', 'constructs']);
    const app3 = join(work, 'app-broken');
    mkdirSync(join(app3, 'node_modules'), { recursive: true });
    symlinkSync(pkgDir, join(app3, 'node_modules', PKG.name), 'dir');
    link(app3, ['aws-cdk-lib', 'constructs']);
    cpSync(join(app, 'app.js'), join(app3, 'app.js'));
    const message = (() => {
      try {
        run(process.execPath, ['app.js'], app3);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('lacks the pre-built cutover Lambda code');
    expect(message).toContain('Install a released package (npm tarball, Python wheel, ...)');
    expect(message).not.toContain('run "npm run build"');
  });
});

/**
 * The packed tarball as Python (Java, .NET, Go) uses it: through the jsii runtime process those languages ship, with
 * aws-cdk-lib, constructs and their jsii dependencies loaded from their registry tarballs (npm's cache), then this
 * package's tarball. The calls are the ones `app = App(); stack = Stack(app, ...); vpc = ec2.Vpc(stack, ...);
 * ZeroDowntimeMigration(stack, ...); app.synth()` makes in Python.
 */
describe(`the ${PKG.name} tarball through the jsii kernel (as Python uses it)`, () => {
  let work: string;
  let host: JsiiHost;
  let outdir: string;
  let stack: ObjRef;
  const timings: Record<string, number> = {};
  const timed = async <T>(what: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[what] = Date.now() - t0;
    }
  };

  beforeAll(async () => {
    const { tarball } = pack();
    work = mkdtempSync(join(tmpdir(), 'zdm-jsii-'));
    outdir = join(work, 'cdk.out');
    const deps = [...jsiiClosure(ROOT, 'aws-cdk-lib'), ...jsiiClosure(ROOT, 'constructs')].filter(
      (d, i, all) => all.findIndex((o) => o.name === d.name) === i,
    );
    const tarballs = await timed('npm pack of the jsii dependencies (cache)', () =>
      deps.map((d) => ({ ...d, tarball: packFromCache(d.name, d.version, work, npmEnv()) })),
    );
    host = new JsiiHost(require.resolve('@jsii/runtime/webpack/bin/jsii-runtime.js'), {
      // The kernel's own cache of extracted packages, kept out of the home directory.
      JSII_RUNTIME_PACKAGE_CACHE_ROOT: join(work, 'kernel-cache'),
      JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0],
    });
    await timed('load', async () => {
      // constructs before aws-cdk-lib (it is not among aws-cdk-lib's non-bundled dependencies in every release)
      for (const d of [...tarballs].sort((a, b) => Number(b.name === 'constructs') - Number(a.name === 'constructs'))) {
        await host.load(d.name, d.version, d.tarball);
      }
      await host.load(PKG.name, PKG.version, tarball);
    });
    const app = await host.create('aws-cdk-lib.App', [
      struct('aws-cdk-lib.AppProps', { outdir, builtinCloudFormationValidation: false }),
    ]);
    stack = await host.create('aws-cdk-lib.Stack', [
      app,
      'Py',
      struct('aws-cdk-lib.StackProps', { env: { account: '111111111111', region: 'eu-west-1' } }),
    ]);
    const vpc = await host.create('aws-cdk-lib.aws_ec2.Vpc', [
      stack,
      'Vpc',
      struct('aws-cdk-lib.aws_ec2.VpcProps', { maxAzs: 2, natGateways: 1 }),
    ]);
    const secret = await host.sinvoke('aws-cdk-lib.aws_secretsmanager.Secret', 'fromSecretNameV2', [
      stack,
      'SourceSecret',
      'zdm/source-postgres',
    ]);
    const parameter = await host.sinvoke('aws-cdk-lib.aws_ssm.StringParameter', 'fromStringParameterName', [
      stack,
      'Host',
      '/orders/database-host',
    ]);
    const trafficSwitch = await host.sinvoke(`${PKG.name}.TrafficSwitchTarget`, 'ssmParameter', [parameter]);
    await timed('construct + synth', async () => {
      await host.create(`${PKG.name}.ZeroDowntimeMigration`, [
        stack,
        'Migration',
        struct(`${PKG.name}.ZeroDowntimeMigrationProps`, {
          vpc,
          source: { databaseName: 'orders', secret },
          tables: { include: [{ schema: 'public' }] },
          cutover: { applicationRoles: ['orders_app'], trafficSwitch },
        }),
      ]);
      await host.invoke(app, 'synth');
    });
  }, 120_000);

  afterAll(async () => {
    await host?.close();
    if (work) rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    figures(
      `jsii kernel check: ${Object.entries(timings)
        .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`)
        .join(', ')}`,
    );
  });

  it('synthesizes the migration: DMS tasks, state machines, the cutover functions on the pre-built bundle', () => {
    const template = JSON.parse(readFileSync(join(outdir, 'Py.template.json'), 'utf8')) as Template;
    expect(
      resourcesOf(template, 'AWS::DMS::ReplicationTask')
        .map((t) => t.Properties.MigrationType)
        .sort(),
    ).toEqual(['cdc', 'full-load-and-cdc']);
    expect(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).toHaveLength(2);
    const keys = new Set(cutoverFunctions(template).map((f) => (f.Properties.Code as { S3Key: string }).S3Key));
    expect(keys.size).toBe(1);
    // The asset is the bundle that travelled in the tarball, byte for byte.
    const staged = readFileSync(join(outdir, `asset.${[...keys][0].replace(/\.zip$/, '')}`, 'index.js'));
    const packed = execFileSync('tar', ['-xzOf', pack().tarball, 'package/dist/handlers/cutover-step/index.js']);
    expect(staged.equals(packed)).toBe(true);
  });

  it('reports bad input to the foreign language with the value named', async () => {
    const vpc = await host.create('aws-cdk-lib.aws_ec2.Vpc', [
      stack,
      'Vpc2',
      struct('aws-cdk-lib.aws_ec2.VpcProps', { maxAzs: 2 }),
    ]);
    const secret = await host.sinvoke('aws-cdk-lib.aws_secretsmanager.Secret', 'fromSecretNameV2', [
      stack,
      'SourceSecret2',
      'zdm/source-postgres',
    ]);
    await expect(
      host.create(`${PKG.name}.ZeroDowntimeMigration`, [
        stack,
        'Bad',
        struct(`${PKG.name}.ZeroDowntimeMigrationProps`, {
          vpc,
          source: { databaseName: 'orders', secret },
          tables: { include: [{ schema: 'public' }] },
          target: { readerCount: 99 },
        }),
      ]),
    ).rejects.toThrow(/readerCount.*99/);
  });
});
