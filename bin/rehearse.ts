#!/usr/bin/env node
/**
 * `npm run rehearse` — a local zero-downtime cutover rehearsal: two PostgreSQL servers, a demo schema (or your
 * own tables with --source/--target), native logical replication, a write load, and the real cutover state
 * machine. Proves that no acknowledged write is lost and measures the write freeze. See `npm run rehearse -- --help`.
 *
 * Ctrl-C, SIGTERM, SIGHUP, the parent process going away, or a crash anywhere in the process: the rehearsal stops,
 * the freeze is ended (the dead man's switch), what it created is removed, and the summary says what state each
 * server is in; then it exits 130 / 143 / 129 (1 for a crash). A second signal (not the echo npm forwards of the
 * same Ctrl-C) exits at once.
 */
import '../rehearsal/local/polyfills';
import { parseRehearsalArgs, USAGE } from '../rehearsal/options';
import { redactUrlsInText, UsageError } from '../cli/command-line';
import { consoleIO } from '../rehearsal/progress';
import type { RehearsalReport } from '../rehearsal/report/report-json';
import { runRehearsal } from '../rehearsal/rehearse';
import type { StopReason } from '../rehearsal/run-context';

const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** A terminal's Ctrl-C reaches both npm and this process, and npm forwards it again: one signal, not two. */
const ECHO_MS = 500;

/** One line on what the interrupted rehearsal left: the freeze and the objects, as read back from the servers. */
function interruptedLine(report: RehearsalReport): string {
  const state = report.servers.state;
  const w = report.cutover.watchdog;
  const frozen = (state?.roles ?? []).filter((r) => r.server === 'source' && r.exists && r.canLogin === false);
  const freeze = w
    ? `dead man's switch: ${w.outcome}`
    : report.cutover.executions.length
      ? 'the cutover had not frozen anything'
      : 'the cutover had not started';
  const roles = frozen.length
    ? `the source is STILL FROZEN (${frozen.map((r) => r.role).join(', ')} NOLOGIN)`
    : 'the source accepts writes';
  const left = state?.embedded
    ? 'the embedded servers were removed'
    : state?.unreadable
      ? `the servers could not be read back (${state.unreadable})`
      : state?.leftBehind.length
        ? `${state.leftBehind.length} object(s) left behind (listed above)`
        : 'nothing the rehearsal created is left';
  return `${freeze}; ${roles}; ${left}`;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseRehearsalArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      consoleIO.err(`rehearse: ${error.message}\n\n${USAGE}`);
      return error.exitCode;
    }
    throw error;
  }
  if (parsed.help) {
    consoleIO.out(USAGE);
    return 0;
  }
  const controller = new AbortController();
  let first: { signal: string; at: number } | undefined;
  const stop = (reason: StopReason): void => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < ECHO_MS) return;
      consoleIO.err(
        `rehearse: ${signal} again, exiting NOW without clean-up: the source may still be frozen and replication ` +
          'objects may be left; a later rehearsal against these servers removes its own leftovers',
      );
      process.exit(SIGNAL_EXIT[signal] ?? 130);
    }
    first = { signal, at: Date.now() };
    consoleIO.err(
      `rehearse: ${signal} received: ending the freeze and removing what the rehearsal created (${signal} again to exit at once)…`,
    );
    stop({ kind: 'signal', signal, message: signal });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  // npm (or the shell under it) went away without a signal reaching us: the same as SIGTERM.
  const parent = process.ppid;
  const watchParent = setInterval(() => {
    if (process.ppid !== parent && !first) {
      consoleIO.err('rehearse: the parent process exited; stopping as for SIGTERM');
      first = { signal: 'SIGTERM', at: Date.now() };
      stop({ kind: 'signal', signal: 'SIGTERM', message: 'the parent process exited' });
    }
  }, 250);
  watchParent.unref();
  // A crash elsewhere in the process (an unhandled error): stop the same way, so the freeze still ends.
  let crashed = false;
  const onCrash = (error: unknown): void => {
    crashed = true;
    const message = redactUrlsInText((error as Error)?.message ?? String(error));
    consoleIO.err(`rehearse: unexpected error, stopping: ${message}`);
    stop({ kind: 'crash', message: `crash: ${message}` });
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    const report = await runRehearsal(parsed.options, consoleIO, { signal: controller.signal });
    if (report.interrupted) {
      consoleIO.err(`rehearse: interrupted (${report.interrupted.message}): ${interruptedLine(report)}`);
      return report.interrupted.kind === 'crash' ? 1 : (SIGNAL_EXIT[report.interrupted.signal ?? ''] ?? 130);
    }
    return crashed ? 1 : report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      consoleIO.err(`rehearse: ${error.message}`);
      return error.exitCode;
    }
    consoleIO.err(`rehearse: ${(error as Error).message}`);
    return 1;
  } finally {
    clearInterval(watchParent);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    consoleIO.err(`rehearse: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  },
);
