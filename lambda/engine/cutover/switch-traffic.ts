import { runPhase, type StepContext } from './common';

/** Points the application at the target (optional). Dry run: reports current → would-be. */
export async function switchTraffic(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'switchTraffic', async () => {
    const traffic = ctx.deps.traffic;
    const to = ctx.input.switchTrafficTo;
    if (!traffic || !to) {
      const reason = !traffic ? 'no traffic switch is configured' : 'switchTrafficTo is empty';
      return {
        result: { switched: false, reason },
        line: `${reason}; the application was not repointed.`,
        status: 'skipped',
      };
    }
    const from = (await traffic.current()) ?? null;
    if (ctx.input.mode === 'dry-run') {
      return {
        result: { dryRun: true, switched: false, target: traffic.description, from, wouldSwitchTo: to },
        line: `would point ${traffic.description} from ${from ?? '(unset)'} to ${to}.`,
      };
    }
    if (from !== to) await traffic.switchTo(to);
    return {
      result: { switched: from !== to, target: traffic.description, from, to },
      line: `${traffic.description} now points to ${to} (was ${from ?? '(unset)'}).`,
    };
  });
}
