/**
 * Part 8 of a rehearsal, run however it ends (finished, failed, Ctrl-C, SIGTERM, a crash elsewhere): the writes
 * stop, the step still in flight settles, the freeze ends — the dead man's switch first after an interrupt or a
 * crash, then the rehearsal gives every frozen role its saved login settings back (a rehearsal's source accepts
 * writes again, unless --keep-frozen) — then everything it created is removed, and what each server is left with
 * is read back from the servers for the summary.
 */
import { type MigrationRecord, restoreAfterAbort } from '../lambda/engine';
import { withAdmin } from './servers/pg-clients';
import type { RehearsalRoles } from './roles/rehearsal-roles';
import type { RehearsedTables } from './tables/rehearsed-tables';
import { readRole, restoreLoginSettings } from './roles/roles';
import type { FreezeEnding, RehearsalContext } from './run-context';
import { watchdogOf, type CutoverSession } from './run-cutover';
import { readServerState, type ServerState } from './servers/server-state';
import type { Servers } from './servers/setup-servers';

export interface EndOfRun {
  readonly ending?: FreezeEnding;
  readonly record?: MigrationRecord;
  /** The fallback scenarios: the executed cutover's record and the fallback's, as the end found them. */
  readonly wayBack?: { readonly cutoverRecord?: MigrationRecord; readonly fallbackRecord?: MigrationRecord };
  readonly serverState?: ServerState;
}

/** The saved settings to give back: the state record's freeze, or (a role that existed) its settings before. */
function savedSettings(
  record: MigrationRecord | undefined,
  roles: RehearsalRoles | undefined,
): Array<{ role: string; canLogin: boolean; connectionLimit: number }> {
  const saved = new Map((record?.freeze?.roles ?? []).map((r) => [r.role, r]));
  const before = roles?.app?.before;
  if (before && !saved.has(before.role)) saved.set(before.role, before);
  return [...saved.values()].map((r) => ({ role: r.role, canLogin: r.canLogin, connectionLimit: r.connectionLimit }));
}

async function endFreeze(
  ctx: RehearsalContext,
  servers: Servers,
  session: CutoverSession | undefined,
  roles: RehearsalRoles | undefined,
  crashed: boolean,
): Promise<{ ending: FreezeEnding; record?: MigrationRecord; wayBack?: EndOfRun['wayBack'] }> {
  const restoredByRehearsal: string[] = [];
  let watchdog: FreezeEnding['watchdog'];
  const errors: string[] = [];
  if (session) {
    if (!(await session.settle())) errors.push('a cutover step was still running after 30 s');
    // The runner runs the watchdog step after an execution that did not succeed (as the construct's rule does).
    const last = session.runs[session.runs.length - 1];
    watchdog = last ? watchdogOf(last) : undefined;
    if (watchdog && (ctx.stop.isStopped || crashed)) {
      ctx.progress.log(`  dead man's switch: ${watchdog.outcome} — ${watchdog.message.split('\n').slice(1).join(' ')}`);
    }
    if (!watchdog && (ctx.stop.isStopped || crashed)) {
      const why = ctx.stop.reason?.message ?? 'the rehearsal crashed';
      // Stopped in (or after) the fallback: the dead man's switch of the fallback's machine, which froze the target.
      const direction = session.fallbackStartedAt !== undefined ? 'fallback' : 'forward';
      try {
        watchdog = await restoreAfterAbort(session.deps, ctx.options.migrationId, `rehearsal: ${why}`, 'execute', {
          direction,
        });
        ctx.progress.log(`  dead man's switch: ${watchdog.outcome} — ${watchdog.message}`);
      } catch (error) {
        errors.push(`the dead man's switch failed: ${(error as Error).message}`);
      }
    }
  }
  const record = await session?.record().catch(() => undefined);
  // The fallback scenarios: the cutover froze the source (its record), the fallback the target (its own record).
  const wayBack = session?.deps.reverse
    ? {
        cutoverRecord: await session.cutoverRecord().catch(() => undefined),
        fallbackRecord: await session.fallbackRecord().catch(() => undefined),
      }
    : undefined;
  const toRestore = savedSettings(wayBack ? wayBack.cutoverRecord : record, roles);
  const toRestoreOnTarget = wayBack?.fallbackRecord?.freeze?.roles ?? [];
  const result = (ending: FreezeEnding) => ({ ending, ...(record ? { record } : {}), ...(wayBack ? { wayBack } : {}) });
  if (ctx.options.keepFrozen && toRestore.length + toRestoreOnTarget.length) {
    return result({
      ...(watchdog ? { watchdog } : {}),
      restoredByRehearsal,
      keptFrozen: `--keep-frozen: ${[...toRestore, ...toRestoreOnTarget].map((r) => r.role).join(', ')} left as the ${
        wayBack?.fallbackRecord ? 'cutover and the fallback' : 'cutover'
      } left them`,
      ...(errors.length ? { error: errors.join('; ') } : {}),
    });
  }
  if (servers.kind === 'external') {
    for (const [side, url, saved] of [
      ['source', servers.sourceUrl, toRestore],
      ['target', servers.targetUrl, toRestoreOnTarget],
    ] as const) {
      if (saved.length === 0) continue;
      try {
        const restored = await restoreRoles(url, saved);
        restoredByRehearsal.push(...restored.map((r) => (side === 'source' ? r : `${r} (on the target)`)));
        if (restored.length) {
          ctx.progress.log(`  restored the saved login settings of ${restored.join(', ')} on the ${side}`);
        }
      } catch (error) {
        errors.push(`restoring the ${side}'s roles failed: ${(error as Error).message}`);
      }
    }
  }
  return result({
    ...(watchdog ? { watchdog } : {}),
    restoredByRehearsal,
    ...(errors.length ? { error: errors.join('; ') } : {}),
  });
}

/** Gives each role that still exists and differs its saved login settings; returns the roles it changed. */
async function restoreRoles(
  url: string,
  saved: ReadonlyArray<{ role: string; canLogin: boolean; connectionLimit: number }>,
): Promise<string[]> {
  const restored: string[] = [];
  await withAdmin(url, async (c) => {
    for (const s of saved) {
      const now = await readRole(c, s.role);
      if (!now || (now.canLogin === s.canLogin && now.connectionLimit === s.connectionLimit)) continue;
      await restoreLoginSettings(c, s);
      restored.push(s.role);
    }
  });
  return restored;
}

export async function finishRehearsal(
  ctx: RehearsalContext,
  facts: {
    servers?: Servers;
    /** Ledger size once the servers existed: what comes after is removed before the servers are read back. */
    mark: number;
    session?: CutoverSession;
    roles?: RehearsalRoles;
    tables?: RehearsedTables;
    stopWrites: () => Promise<void>;
    crashed: boolean;
  },
): Promise<EndOfRun> {
  await facts.stopWrites().catch(() => undefined);
  if (!facts.servers) {
    await ctx.ledger.runAll();
    return {};
  }
  const { ending, record, wayBack } = await endFreeze(ctx, facts.servers, facts.session, facts.roles, facts.crashed);
  if (ending.error) ctx.progress.log(`  ${ending.error}`);
  await ctx.ledger.runSince(facts.mark);
  const serverState = await readServerState({
    servers: facts.servers,
    migrationId: ctx.options.migrationId,
    ...(facts.roles ? { roles: facts.roles } : {}),
    ...(facts.tables ? { tables: facts.tables } : {}),
    demo: ctx.options.demo,
  }).catch((error: Error) => ({ embedded: false, roles: [], leftBehind: [], unreadable: error.message }));
  await ctx.ledger.runAll();
  return { ending, ...(record ? { record } : {}), ...(wayBack ? { wayBack } : {}), serverState };
}
