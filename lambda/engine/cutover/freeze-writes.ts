import type { ClientBase } from 'pg';
import { describeRoleRefusals, reservedRoleReason } from '../preflight/checks/application-roles';
import { listBounded, sleep } from '../helpers';
import type { SavedRoleSettings } from '../ports';
import { beginPhase, endPhase, getRecord, notifyPhase, runPhase } from './phase-records';
import { withClient } from './pools';
import type { StepContext } from './step-context';
import { forgetFreezeRecord, freezeRolesRecorded, restoreRoleSql } from './freeze-record';
import { warmSequenceReads } from './sync-sequences';
import { describeWriter, waitForWritersInFlight, writersInFlight } from './writers-in-flight';
import { applicationRolesProblem, CutoverError, describeApplicationRolesProblem, ERRORS } from '../../../contract';

type Queryable = Pick<ClientBase, 'query'>;

export interface RoleSession {
  readonly pid: number;
  readonly role: string;
  readonly database: string | null;
  readonly application: string;
  readonly state: string | null;
}

/** Reads the roles' current login settings; throws naming the problem before anything is changed. */
export async function inspectRoles(client: Queryable, roles: readonly string[]): Promise<SavedRoleSettings[]> {
  // The rule the input was checked with (contract/roles.ts), again: the freeze is the last line of defense.
  const problem = applicationRolesProblem(roles);
  if (problem?.kind === 'reserved') {
    throw new Error(
      `refusing to freeze role(s) ${describeRoleRefusals([{ role: problem.role, reasons: [problem.reason] }])}; nothing was changed`,
    );
  }
  if (problem) {
    const { field, value, expected } = describeApplicationRolesProblem(problem);
    throw new Error(
      `refusing to freeze: ${field} ${expected}, got ${String(JSON.stringify(value)).slice(0, 200)}; nothing was changed`,
    );
  }
  const { rows } = await client.query<{
    rolname: string;
    rolcanlogin: boolean;
    rolconnlimit: number;
    rolsuper: boolean;
    rolreplication: boolean;
  }>(
    `SELECT rolname, rolcanlogin, rolconnlimit, rolsuper, rolreplication FROM pg_roles WHERE rolname = ANY($1::text[])`,
    [roles],
  );
  const missing = roles.filter((r) => !rows.some((row) => row.rolname === r));
  if (missing.length > 0) {
    throw new Error(
      `application role(s) ${listBounded(missing.map((r) => JSON.stringify(r)))} do not exist on the source; nothing was changed`,
    );
  }
  const me = await client.query<{ session_user: string; current_user: string }>(
    `SELECT session_user::text AS session_user, current_user::text AS current_user`,
  );
  const own = roles.filter((r) => r === me.rows[0].session_user || r === me.rows[0].current_user);
  if (own.length > 0) {
    throw new Error(
      `refusing to freeze role ${JSON.stringify(own[0])}: the cutover connects to the source as that role; ` +
        `give the workflow its own role; nothing was changed`,
    );
  }
  // Defense in depth (preflight refuses these first): never freeze a superuser or replication role.
  const reserved = rows.flatMap((row) => {
    const reason = reservedRoleReason(row);
    return reason ? [{ role: row.rolname, reasons: [reason] }] : [];
  });
  if (reserved.length > 0) {
    throw new Error(`refusing to freeze role(s) ${describeRoleRefusals(reserved)}; nothing was changed`);
  }
  const replication = await client.query<{ role: string; pid: number; application_name: string }>(
    `SELECT r.rolname AS role, a.pid, a.application_name
       FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
      WHERE a.backend_type = 'walsender' AND r.rolname = ANY($1::text[])`,
    [roles],
  );
  if (replication.rows.length > 0) {
    const r = replication.rows[0];
    throw new Error(
      `refusing to freeze role ${JSON.stringify(r.role)}: the replication connection uses it (walsender pid ${r.pid}, ` +
        `${JSON.stringify(r.application_name)}); freezing it would stop replication; nothing was changed`,
    );
  }
  return roles.map((role) => {
    const row = rows.find((x) => x.rolname === role)!;
    return { role, canLogin: row.rolcanlogin, connectionLimit: row.rolconnlimit };
  });
}

/** Client sessions of the roles on the whole source server (never walsenders, never our own). */
export async function roleSessions(client: Queryable, roles: readonly string[]): Promise<RoleSession[]> {
  const { rows } = await client.query<RoleSession>(
    `SELECT a.pid, r.rolname AS role, a.datname AS database, a.application_name AS application, a.state
       FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
      WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND r.rolname = ANY($1::text[])
      ORDER BY a.pid`,
    [roles],
  );
  return rows;
}

const TERMINATE_TIMEOUT_MS = 15_000;
const TERMINATE_POLL_MS = 5;

/**
 * Freezes writes on the source: saves the roles' login settings (once: a resumed run keeps the originals),
 * then `ALTER ROLE … NOLOGIN CONNECTION LIMIT 0`, then ends every client backend of those roles until none is
 * left. Walsenders (replication) and our own session are never touched. Dry run: reports, changes nothing.
 */
export async function freezeWrites(ctx: StepContext): Promise<Record<string, unknown>> {
  const roles = ctx.input.applicationRoles;
  // The approval gate (if any) was passed when the state machine reaches this step.
  const record = await getRecord(ctx);
  const approval = record.phases.approval;
  if (approval?.status === 'running') {
    await endPhase(ctx, 'approval', approval, 'succeeded', { approved: true });
    await notifyPhase(ctx, 'approval', 'done', 'approved by the operator.');
  } else if (!approval && !ctx.input.requireApproval) {
    const started = await beginPhase(ctx, 'approval');
    await endPhase(ctx, 'approval', started, 'skipped', { required: false });
  }

  return runPhase(ctx, 'freezeWrites', () =>
    withClient(ctx, 'source', async (client) => {
      const current = await inspectRoles(client, roles);
      if (ctx.input.mode === 'dry-run') {
        const sessions = await roleSessions(client, roles);
        const writers = (await writersInFlight(client, ctx.deps.tables)).filter((w) => !roles.includes(w.role ?? ''));
        return {
          result: {
            dryRun: true,
            roles: current,
            wouldEndSessions: sessions.length,
            sessions: sessions.slice(0, 20),
            writersInFlight: writers.length,
            writers: writers.slice(0, 5).map(describeWriter),
          },
          line:
            `would block logins of ${roles.join(', ')} and end ${sessions.length} session(s); changed nothing.` +
            (writers.length
              ? ` ${writers.length} other session(s) are writing selected tables now (the freeze waits up to ` +
                `${ctx.input.writersInFlightSeconds}s for them): ${writers.slice(0, 3).map(describeWriter).join('; ')}.`
              : ''),
        };
      }
      // Outside the freeze still: what SyncSequences will read inside it, read once now.
      await warmSequenceReads(ctx);
      // An execution that ended meanwhile (aborted, timed out: the watchdog marks the record) must not freeze.
      // (the record read at the start of this step; the check after freezing covers a watchdog run since)
      const before = record;
      if (before.status !== 'running' || before.freeze?.restoredAt) {
        throw new Error(
          `migration ${ctx.input.migrationId} is ${before.freeze?.restoredAt ? 'restored' : before.status}: not freezing; ` +
            `start a new execution with a new migrationId`,
        );
      }
      const started = Date.now();
      const saved = await ctx.deps.state.saveFreezeIfAbsent(ctx.key, { roles: current, frozenAt: ctx.iso() });
      // Roles saved by an earlier (resumed) run keep their original settings; only new roles are added here.
      const unsaved = roles.filter((r) => !saved.roles.some((s) => s.role === r));
      if (unsaved.length > 0) {
        throw new Error(
          `the saved freeze of this migration covers ${saved.roles.map((r) => r.role).join(', ')} but not ${unsaved.join(', ')}; ` +
            `resume with the same applicationRoles`,
        );
      }
      // The saved settings go to the server too (zdm_cutover.frozen_roles), in the ALTER ROLEs' own transaction: a
      // process killed from here on leaves them where the next run and an operator find them.
      await freezeRolesRecorded(
        client,
        ctx.input.migrationId,
        saved.roles.filter((s) => roles.includes(s.role)),
      );
      // The watchdog may have run while this step was still going (an abort does not stop a running function): then
      // undo at once what this step just did, and fail.
      const after = await getRecord(ctx);
      if (after.status !== 'running' || after.freeze?.restoredAt) {
        for (const role of saved.roles) await client.query(restoreRoleSql(role));
        await forgetFreezeRecord(
          client,
          saved.roles.map((r) => r.role),
        );
        throw new Error(
          `migration ${ctx.input.migrationId} ended while freezing; the saved role settings were restored`,
        );
      }
      // Distinct sessions: one still exiting (slow on a loaded server) is signalled again, but ended once.
      const ended = new Set<number>();
      const deadline = Date.now() + TERMINATE_TIMEOUT_MS;
      for (;;) {
        const remaining = await roleSessions(client, roles);
        if (remaining.length === 0) break;
        if (Date.now() > deadline) {
          throw new Error(
            `${remaining.length} session(s) of ${roles.join(', ')} survived pg_terminate_backend for ` +
              `${TERMINATE_TIMEOUT_MS / 1000}s (first pid ${remaining[0].pid}); the source is frozen for new logins`,
          );
        }
        const { rows } = await client.query<{ pid: number; ok: boolean }>(
          `SELECT pid, pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid`,
          [remaining.map((s) => s.pid)],
        );
        for (const r of rows) if (r.ok) ended.add(r.pid);
        // Ended backends exit within milliseconds; the application cannot write while we wait, so look again soon.
        await sleep(TERMINATE_POLL_MS);
      }
      // Writes already under way on a selected table (any other role) must end before the final-sync marker.
      const inFlight = await waitForWritersInFlight(client, ctx.deps.tables, ctx.input.writersInFlightSeconds * 1000);
      if (inFlight.left.length > 0) {
        throw new CutoverError(
          ERRORS.writersInFlight,
          `${inFlight.left.length} session(s) still writing selected tables after ${ctx.input.writersInFlightSeconds}s ` +
            `inside the freeze (their commits would not reach the target): ${inFlight.left
              .slice(0, 5)
              .map(describeWriter)
              .join('; ')}; let them finish or end them, or name their roles in applicationRoles (rolling back)`,
        );
      }
      const terminated = ended.size;
      return {
        result: {
          roles: saved.roles,
          frozenAt: saved.frozenAt,
          sessionsEnded: terminated,
          writersWaitedFor: inFlight.seen,
          writersWaitMs: inFlight.waitedMs,
          durationMs: Date.now() - started,
        },
        line:
          `logins of ${roles.join(', ')} blocked; ${terminated} session(s) ended; original settings saved` +
          (inFlight.seen ? `; waited ${inFlight.waitedMs} ms for ${inFlight.seen} other writer(s) to finish.` : '.'),
      };
    }),
  );
}
