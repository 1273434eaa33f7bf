/**
 * The user's own write load (`--load "<command>"`): run by the shell in its own process group, with the source's
 * PGHOST, PGPORT, PGDATABASE and the application role as PGUSER (PGPASSWORD only for a role the rehearsal made),
 * its output logged (redacted), and stopped — SIGTERM to the whole group, SIGKILL 5 s later — after the cutover,
 * or at once if the rehearsal ends any other way. The rehearsal never sees its commits: the workflow's
 * validation of the rehearsed tables is what shows they all reached the target.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface LoadCommandResult {
  readonly command: string;
  readonly pid?: number;
  readonly startedAt: string;
  readonly endedAt?: string;
  /** Exit code, or null when it ended by a signal (`signal`) or still ran. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Whether the rehearsal stopped it (rather than it ending by itself). */
  readonly stoppedByRehearsal: boolean;
  readonly outputLines: number;
  /** The last lines it printed (redacted). */
  readonly outputTail: string[];
}

export interface LoadCommandOptions {
  readonly command: string;
  readonly sourceUrl: string;
  readonly role: string;
  readonly password?: string;
  /** Receives each line it prints (already redacted by the caller's logger). */
  readonly onLine: (line: string) => void;
}

const TAIL = 20;
const KILL_AFTER_MS = 5_000;

/** The environment the load runs with: the source, as the application role. */
export function loadEnvironment(
  options: Pick<LoadCommandOptions, 'sourceUrl' | 'role' | 'password'>,
): NodeJS.ProcessEnv {
  const u = new URL(options.sourceUrl);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    PGPORT: u.port || '5432',
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    PGUSER: options.role,
    PGAPPNAME: 'zdm-rehearsal-load',
  };
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  // The superuser's password of the rehearsal's own environment must not reach the load.
  delete env.PGPASSWORD;
  if (options.password !== undefined) env.PGPASSWORD = options.password;
  return env;
}

export class LoadCommand {
  private child?: ChildProcess;
  private readonly tail: string[] = [];
  private lines = 0;
  private exit?: { code: number | null; signal: string | null; at: string };
  private exited?: Promise<void>;
  private stopping = false;
  private readonly startedAt = new Date().toISOString();
  private readonly killOnExit = (): void => this.signalGroup('SIGKILL');

  constructor(private readonly options: LoadCommandOptions) {}

  start(): void {
    const child = spawn(this.options.command, {
      shell: true,
      detached: true,
      env: loadEnvironment(this.options),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    // Whatever happens to the rehearsal, its load does not outlive it.
    process.once('exit', this.killOnExit);
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        this.exit ??= { code: 127, signal: null, at: new Date().toISOString() };
        this.record(`could not start: ${error.message}`);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: new Date().toISOString() };
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.record(line);
      });
      stream?.on('end', () => {
        if (partial) this.record(partial);
      });
    }
  }

  private record(line: string): void {
    const text = line.replace(/\r$/, '');
    if (!text.trim()) return;
    this.lines++;
    this.tail.push(text.slice(0, 500));
    if (this.tail.length > TAIL) this.tail.shift();
    this.options.onLine(text);
  }

  /** Whether it is still running. */
  get running(): boolean {
    return this.child !== undefined && this.exit === undefined;
  }

  /** Its exit, when it already ended by itself. */
  get exitedEarly(): { code: number | null; signal: string | null } | undefined {
    return this.exit && !this.stopping ? { code: this.exit.code, signal: this.exit.signal } : undefined;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.exit) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Stops it (SIGTERM to its process group, SIGKILL after 5 s) and waits until it has exited. */
  async stop(): Promise<void> {
    if (!this.child || !this.exited) return;
    if (this.exit) return;
    this.stopping = true;
    this.signalGroup('SIGTERM');
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), KILL_AFTER_MS);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  result(redact: (text: string) => string): LoadCommandResult {
    return {
      command: redact(this.options.command),
      ...(this.child?.pid !== undefined ? { pid: this.child.pid } : {}),
      startedAt: this.startedAt,
      ...(this.exit ? { endedAt: this.exit.at } : {}),
      exitCode: this.exit?.code ?? null,
      signal: this.exit?.signal ?? null,
      stoppedByRehearsal: this.stopping,
      outputLines: this.lines,
      outputTail: this.tail.map(redact),
    };
  }
}
