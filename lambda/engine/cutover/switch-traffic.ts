import { runPhase } from './phase-records';
import type { StepContext } from './step-context';

/**
 * Points the application at the target: the point of no return. It is recorded as a fact in the state store
 * *before* the switch is asked for, so a switch that went through but whose answer was lost is never followed by
 * an automatic unfreeze of the source. Without a configured switch the operator repoints the application, and the
 * workflow hands over at this point the same way. Dry run: reports current → would-be, records nothing.
 */
export async function switchTraffic(ctx: StepContext): Promise<Record<string, unknown>> {
  return runPhase(ctx, 'switchTraffic', async () => {
    const traffic = ctx.deps.traffic;
    const to = ctx.input.switchTrafficTo;
    const execute = ctx.input.mode === 'execute';
    if (!traffic || !to) {
      const reason = !traffic ? 'no traffic switch is configured' : 'switchTrafficTo is empty';
      if (execute) await ctx.deps.state.setPointOfNoReturnIfAbsent(ctx.key, { at: ctx.iso(), what: 'handed-over' });
      return {
        result: { switched: false, reason, handedOver: execute },
        line: `${reason}; point the application at the target now (the source stays frozen).`,
        status: 'skipped',
      };
    }
    const from = (await traffic.current()) ?? null;
    if (!execute) {
      return {
        result: { dryRun: true, switched: false, target: traffic.description, from, wouldSwitchTo: to },
        line: `would point ${traffic.description} from ${from ?? '(unset)'} to ${to}.`,
      };
    }
    const point = await ctx.deps.state.setPointOfNoReturnIfAbsent(ctx.key, { at: ctx.iso(), what: 'traffic-switched' });
    if (from !== to) await traffic.switchTo(to);
    return {
      result: { switched: from !== to, target: traffic.description, from, to, pointOfNoReturnAt: point.at },
      line: `${traffic.description} now points to ${to} (was ${from ?? '(unset)'}).`,
    };
  });
}
