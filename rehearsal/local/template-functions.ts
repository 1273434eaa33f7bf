/**
 * The cutover functions as the synthesized template defines them, for the local run: which function each Task state
 * invokes, and each function's environment (resolved as Lambda would see it). Before a step runs locally it is checked
 * the way the function would run it in AWS: the function serves the step (`ALLOWED_STEPS`), and every dependency the
 * step reads in its direction builds from that function's own environment. A template that sends a step to a
 * function without what it needs (the fallback's StopReplication once ran on a function without the reverse task)
 * fails the local run as it would fail in AWS, with the function's own error.
 */
import type { Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { runsIn, STEP_SPECS, type CutoverDirection, type StepEvent } from '../../contract';
import { depsFor, type CutoverDeps } from '../../lambda/engine';
import { allowedSteps, createDepsFromEnvironment } from '../../lambda/handlers/environment';
import { resolveIntrinsics, type IntrinsicValues } from './resolve-intrinsics';

/** A function of the template: its logical id and environment, by the ARN its Task states invoke. */
export interface TemplateFunction {
  readonly logicalId: string;
  readonly environment: Readonly<Record<string, string>>;
}

export type TemplateFunctions = ReadonlyMap<string, TemplateFunction>;

/**
 * Every Lambda function of `stack`, by its ARN as `intrinsics` resolve it (the ARN its Task states invoke), with its
 * environment resolved by the same `intrinsics`.
 */
export function templateFunctions(stack: Stack, intrinsics: IntrinsicValues): TemplateFunctions {
  const out = new Map<string, TemplateFunction>();
  for (const child of stack.node.findAll()) {
    const cfn = child as lambda.CfnFunction;
    if (cfn.cfnResourceType !== 'AWS::Lambda::Function') continue;
    const resolved = stack.resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(resolved?.variables ?? {})) {
      const text = resolveIntrinsics(value, intrinsics);
      environment[name] = Array.isArray(text) ? text.join(',') : text;
    }
    const logicalId = stack.getLogicalId(cfn);
    out.set(intrinsics.getAtt(logicalId, 'Arn'), { logicalId, environment });
  }
  return out;
}

/** The function ARN each Task state of an ASL definition invokes (Map iterations included). */
export function functionOfStates(definition: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  const walk = (states: Record<string, Record<string, unknown>> | undefined): void => {
    for (const [name, state] of Object.entries(states ?? {})) {
      if (state.Type === 'Task') {
        const parameters = state.Parameters as { FunctionName?: unknown } | undefined;
        const resource = state.Resource;
        const arn =
          typeof resource === 'string' && resource.startsWith('arn:aws:lambda:')
            ? resource
            : typeof parameters?.FunctionName === 'string'
              ? parameters.FunctionName
              : undefined;
        if (arn) out.set(name, arn);
      }
      const processor = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, Record<string, unknown>> };
      if (processor) walk(processor.States);
      for (const branch of (state.Branches as Array<{ States?: Record<string, Record<string, unknown>> }>) ?? []) {
        walk(branch.States);
      }
    }
  };
  walk((JSON.parse(definition) as { States?: Record<string, Record<string, unknown>> }).States);
  return out;
}

/** Each function's dependencies, built once from its environment (as a warm Lambda container keeps them). */
const builtDeps = new WeakMap<TemplateFunction, CutoverDeps>();

function depsOf(fn: TemplateFunction): CutoverDeps {
  let deps = builtDeps.get(fn);
  if (!deps) {
    deps = createDepsFromEnvironment(fn.environment);
    builtDeps.set(fn, deps);
  }
  return deps;
}

/**
 * Throws what `fn` would throw for `event` in AWS before the step does anything: a step it does not serve, or a
 * dependency its environment cannot build (no AWS call is made: the adapters are only constructed).
 */
export function checkServedBy(fn: TemplateFunction, event: StepEvent): void {
  const allowed = allowedSteps(fn.environment);
  if (!allowed.includes(event.step)) {
    throw new Error(
      `function ${fn.logicalId}: step ${JSON.stringify(event.step)} is not served by this function (ALLOWED_STEPS: ${allowed.join(', ')})`,
    );
  }
  const direction: CutoverDirection =
    (event as { direction?: CutoverDirection }).direction ?? event.input?.direction ?? 'forward';
  // The names the step's code reads (in the fallback, through the direction's view: `replication` is the reverse task).
  const deps = depsFor(depsOf(fn), direction);
  const reads = runsIn(event.step, direction) ? (STEP_SPECS[event.step].deps as readonly string[]) : [];
  for (const dependency of reads) {
    try {
      void (deps as unknown as Record<string, unknown>)[dependency];
    } catch (error) {
      throw new Error(`function ${fn.logicalId} (${event.step}, ${direction}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
