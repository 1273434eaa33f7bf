#!/usr/bin/env node
/**
 * `npm run rehearse` — a local zero-downtime cutover rehearsal: two PostgreSQL servers, a demo schema, native
 * logical replication, an application write load, and the real cutover state machine. Proves that no acknowledged
 * write is lost and measures the write freeze. See `npm run rehearse -- --help`.
 */
import '../rehearsal/local/polyfills';
import {parseRehearsalArgs, USAGE } from '../rehearsal/options';
import { UsageError } from '../cli/command-line';
import { consoleIO } from '../rehearsal/progress';
import { runRehearsal } from '../rehearsal/rehearse';

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
  // Ctrl-C / SIGTERM: stop the load, remove what the rehearsal started (embedded servers, replication), then exit.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      consoleIO.err(`rehearse: ${signal} again, exiting without cleanup`);
      process.exit(130);
    }
    consoleIO.err(`rehearse: ${signal} received, cleaning up (press Ctrl-C again to exit at once)…`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await runRehearsal(parsed.options, consoleIO, { signal: controller.signal });
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      consoleIO.err(`rehearse: ${error.message}`);
      return error.exitCode;
    }
    if (controller.signal.aborted) {
      consoleIO.err('rehearse: interrupted; everything the rehearsal started was removed');
      return 130;
    }
    consoleIO.err(`rehearse: ${(error as Error).message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    consoleIO.err(`rehearse: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  },
);
