/**
 * A jsii host: what the Python (Java, .NET, Go) runtime of a jsii package does, in a few lines. It starts the jsii
 * runtime process that those runtimes ship (`@jsii/runtime`'s webpack bundle, kernel included) and speaks its
 * protocol: one JSON request a line on stdin, one JSON response a line on stdout (`{"ok": ...}` or `{"error": ...}`).
 * Packages are loaded from their npm tarballs, dependencies first, as a Python package's `_jsii/*.jsii.tgz` are.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A reference to an object in the kernel (`{"$jsii.byref": "fqn@id"}`). */
export interface ObjRef {
  readonly '$jsii.byref': string;
}

type Response = { ok?: unknown; error?: string; stack?: string; callback?: unknown; hello?: string };

export class JsiiHost {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((response: Response) => void)[] = [];
  private stderr = '';
  /** The runtime's greeting, e.g. `@jsii/runtime@1.140.0`. */
  public readonly hello: Promise<string>;

  constructor(runtimeScript: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [runtimeScript], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const resolve = this.waiting.shift();
      if (resolve) resolve(JSON.parse(line) as Response);
    });
    // The runtime forwards the program's console output as JSON lines with base64 contents.
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    this.hello = this.next().then((r) => String(r.hello));
  }

  private next(): Promise<Response> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The runtime's stderr so far (decoded where it is the forwarded console output). */
  public get log(): string {
    return this.stderr
      .split('\n')
      .map((line) => {
        try {
          const parsed = JSON.parse(line) as { stderr?: string; stdout?: string };
          return Buffer.from(parsed.stderr ?? parsed.stdout ?? '', 'base64').toString();
        } catch {
          return line;
        }
      })
      .join('\n');
  }

  /** Sends one request; resolves with its `ok` value, rejects with the kernel's error message. */
  public async request<T = unknown>(request: Record<string, unknown>): Promise<T> {
    await this.hello;
    const response = this.next();
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const r = await response;
    if (r.error !== undefined) throw new Error(r.error);
    if (r.callback !== undefined) throw new Error(`unexpected callback ${JSON.stringify(r.callback)}`);
    return r.ok as T;
  }

  public load(name: string, version: string, tarball: string): Promise<{ assembly: string; types: number }> {
    return this.request({ api: 'load', name, version, tarball });
  }

  public create(fqn: string, args: unknown[] = []): Promise<ObjRef> {
    return this.request({ api: 'create', fqn, args });
  }

  public async sinvoke(fqn: string, method: string, args: unknown[] = []): Promise<unknown> {
    return (await this.request<{ result: unknown }>({ api: 'sinvoke', fqn, method, args })).result;
  }

  public async invoke(objref: ObjRef, method: string, args: unknown[] = []): Promise<unknown> {
    return (await this.request<{ result: unknown }>({ api: 'invoke', objref, method, args })).result;
  }

  public async get(objref: ObjRef, property: string): Promise<unknown> {
    return (await this.request<{ value: unknown }>({ api: 'get', objref, property })).value;
  }

  /**
   * Ends the session: closes stdin (the runtime exits at its end) and waits for the process to exit, killing it after
   * `timeoutMs`. Only then may its files (the kernel's package cache) be removed.
   */
  public async close(timeoutMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill(), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** A struct argument as the Python runtime sends one. */
export const struct = (fqn: string, data: Record<string, unknown>) => ({ '$jsii.struct': { fqn, data } });

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  bundleDependencies?: string[];
  bundledDependencies?: string[];
}

/**
 * The jsii packages `name` needs, dependencies first, each `{ name, version, dir }` as installed under `root`: a
 * package's non-bundled dependencies that carry a `.jsii` assembly (aws-cdk-lib's asset and schema packages, ...).
 */
export function jsiiClosure(root: string, name: string): { name: string; version: string }[] {
  const out: { name: string; version: string }[] = [];
  const seen = new Set<string>();
  const visit = (pkg: string, from: string): void => {
    if (seen.has(pkg)) return;
    seen.add(pkg);
    const dir = [join(from, 'node_modules', pkg), join(root, 'node_modules', pkg)].find((d) => existsSync(d));
    if (!dir) throw new Error(`${pkg} is not installed (looked under ${from} and ${root})`);
    if (!existsSync(join(dir, '.jsii'))) return;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const bundled = new Set(manifest.bundleDependencies ?? manifest.bundledDependencies ?? []);
    for (const dep of Object.keys(manifest.dependencies ?? {})) if (!bundled.has(dep)) visit(dep, dir);
    out.push({ name: manifest.name, version: manifest.version });
  };
  visit(name, root);
  return out;
}

/**
 * The registry tarball of `name@version` from npm's cache (filled by `npm ci`), written into `dir`: what a jsii
 * package for another language embeds. Offline: fails rather than download.
 */
export function packFromCache(name: string, version: string, dir: string, env: NodeJS.ProcessEnv): string {
  const out = execFileSync('npm', ['pack', `${name}@${version}`, '--offline', '--json', '--pack-destination', dir], {
    cwd: dir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return join(dir, (JSON.parse(out) as { filename: string }[])[0].filename);
}
