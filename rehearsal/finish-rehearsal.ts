/**
 * Part 8 of a rehearsal, run however it ends (finished, failed, Ctrl-C, SIGTERM, a crash elsewhere): the writes
 * stop, the step still in flight settles, the freeze ends — the dead man's switch first after an interrupt or a
 * crash, then the rehearsal gives every frozen role its saved login settings back (a rehearsal's source accepts
 * writes again, unless --keep-frozen) — then everything it created is removed, and what each server is left with
 * is read back from the servers for the summary.
 */
import { restoreAfterAbort } from '../lambda/engine/cutover/watchdog';
import type { MigrationRecord } from '../lambda/engine/ports';
import { withAdmin } from './pg-clients';
import type { RehearsalRoles } from './rehearsal-roles';
import type { RehearsedTables } from './rehearsed-tables';
import { readRole, restoreLoginSettings } from './roles';
import type { FreezeEnding, RehearsalContext } from './run-context';
import { watchdogOf, type CutoverSession } from './run-cutover';
import { readServerState, type ServerState } from './server-state';
import type { Servers } from './setup-servers';

export interface EndOfRun {
  readonly ending?: FreezeEnding;
  readonly record?: MigrationRecord;
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
): Promise<{ ending: FreezeEnding; record?: MigrationRecord }> {
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
      try {
        watchdog = await restoreAfterAbort(session.deps, ctx.options.migrationId, `rehearsal: ${why}`);
        ctx.progress.log(`  dead man's switch: ${watchdog.outcome} — ${watchdog.message}`);
      } catch (error) {
        errors.push(`the dead man's switch failed: ${(error as Error).message}`);
      }
    }
  }
  const record = await session?.record().catch(() => undefined);
  const toRestore = savedSettings(record, roles);
  if (ctx.options.keepFrozen && toRestore.length) {
    return {
      ending: {
        ...(watchdog ? { watchdog } : {}),
        restoredByRehearsal,
        keptFrozen: `--keep-frozen: ${toRestore.map((r) => r.role).join(', ')} left as the cutover left them`,
        ...(errors.length ? { error: errors.join('; ') } : {}),
      },
      record,
    };
  }
  if (servers.kind === 'external') {
    try {
      await withAdmin(servers.sourceUrl, async (c) => {
        for (const saved of toRestore) {
          const now = await readRole(c, saved.role);
          if (!now || (now.canLogin === saved.canLogin && now.connectionLimit === saved.connectionLimit)) continue;
          await restoreLoginSettings(c, saved);
          restoredByRehearsal.push(saved.role);
        }
      });
      if (restoredByRehearsal.length) {
        ctx.progress.log(`  restored the saved login settings of ${restoredByRehearsal.join(', ')} on the source`);
      }
    } catch (error) {
      errors.push(`restoring the source's roles failed: ${(error as Error).message}`);
    }
  }
  return {
    ending: {
      ...(watchdog ? { watchdog } : {}),
      restoredByRehearsal,
      ...(errors.length ? { error: errors.join('; ') } : {}),
    },
    record,
  };
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
  const { ending, record } = await endFreeze(ctx, facts.servers, facts.session, facts.roles, facts.crashed);
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
  return { ending, ...(record ? { record } : {}), serverState };
}
