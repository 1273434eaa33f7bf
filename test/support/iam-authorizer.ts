/**
 * IAM as AWS applies it to a cutover function's calls, for tests that mock AWS at the SDK client boundary: every
 * command is first evaluated (by @cloud-copilot/iam-simulate) against the policies the synthesized template attaches
 * to THAT function's role, their intrinsics resolved to realistic names and ARNs (rehearsal/local/resolve-intrinsics.ts
 * with test/support/resolve-template.ts's physical names). A call they do not allow fails as AWS fails it, with an
 * AccessDeniedException, so the step that made it fails as it would in AWS.
 *
 * The template's resource policies count too, as AWS applies them: a KMS key's key policy (a key is used only if it
 * lets the account's policies grant it), a topic policy (its deny of requests without TLS: the SDK always uses TLS),
 * a secret's resource policy. The AWS managed policies of the function's role (Lambda logs, VPC network interfaces)
 * are not evaluated: they grant none of the calls the steps make.
 */
import {
  runSimulation,
  runUnsafeSimulation,
  type EvaluationResult,
  type Simulation,
} from '@cloud-copilot/iam-simulate';
import { resolveIntrinsics, type IntrinsicValues } from '../../rehearsal/local/resolve-intrinsics';
import { iamRequestsOf, type IamRequest, type RequestEnvironment } from './iam-requests';
import { intrinsicValuesOf, templateResolver, type DeployedEnvironment } from './resolve-template';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed template JSON
type Json = any;

/** Where the tests deploy: the account and region of test/lib/cutover/support.ts's stack. */
export const TEST_ENVIRONMENT: DeployedEnvironment = { account: '123456789012', region: 'eu-west-1' };

/** The error AWS returns for a call IAM does not allow (the SDK raises it with this name). */
export class AccessDeniedException extends Error {
  override readonly name = 'AccessDeniedException';
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400 };
}

export interface IamDecision extends IamRequest {
  readonly result: EvaluationResult;
}

export interface IamAuthorizer {
  /** The role the function runs as. */
  readonly roleArn: string;
  /** Every authorization evaluated so far, in order. */
  readonly decisions: readonly IamDecision[];
  /** Resolves when IAM allows everything `command` needs; rejects with an AccessDeniedException otherwise. */
  authorize(command: object): Promise<void>;
}

/** A value of the template with every intrinsic in it resolved (lists in a list are flattened, as IAM reads them). */
function resolveDeep(value: Json, values: IntrinsicValues): Json {
  if (Array.isArray(value)) return value.flatMap((v) => resolveDeep(v, values));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) return resolveIntrinsics(value, values);
  return Object.fromEntries(keys.map((k) => [k, resolveDeep(value[k], values)]));
}

/** Policies the template attaches to roles: CDK's default policies, and the managed ones it overflows into. */
const ATTACHED_POLICY_TYPES = ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'];

/** The policy documents of `roleId`: its inline policies and every policy of the template attached to it. */
function policiesOfRole(resources: Record<string, Json>, roleId: string): Array<{ name: string; document: Json }> {
  const inline = (resources[roleId].Properties?.Policies ?? []).map((p: Json) => ({
    name: `${roleId}/${p.PolicyName}`,
    document: p.PolicyDocument,
  }));
  const attached = Object.entries(resources)
    .filter(
      ([, r]) =>
        ATTACHED_POLICY_TYPES.includes(r.Type) && (r.Properties.Roles ?? []).some((role: Json) => role?.Ref === roleId),
    )
    .map(([id, r]) => ({ name: id, document: r.Properties.PolicyDocument }));
  return [...inline, ...attached];
}

/** Resource ARN → ARN of the customer managed key that encrypts it, for the template's secrets, topics and tables. */
function keysOfResources(resources: Record<string, Json>, values: IntrinsicValues, env: DeployedEnvironment) {
  const keys = new Map<string, string>();
  const keyArn = (key: Json): string => {
    const text = String(resolveIntrinsics(key, values));
    return text.startsWith('arn:') ? text : `arn:aws:kms:${env.region}:${env.account}:key/${text}`;
  };
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::SecretsManager::Secret' && p.KmsKeyId) keys.set(values.ref!(id), keyArn(p.KmsKeyId));
    if (r.Type === 'AWS::SNS::Topic' && p.KmsMasterKeyId) keys.set(values.ref!(id), keyArn(p.KmsMasterKeyId));
    if (r.Type === 'AWS::DynamoDB::Table' && p.SSESpecification?.KMSMasterKeyId) {
      keys.set(values.getAtt(id, 'Arn'), keyArn(p.SSESpecification.KMSMasterKeyId));
    }
  }
  return keys;
}

/** Resource ARN → its resource policy, for the template's KMS keys, topics and secrets that have one. */
function resourcePoliciesOf(resources: Record<string, Json>, values: IntrinsicValues): Map<string, Json> {
  const policies = new Map<string, Json>();
  const arnOf = (value: Json): string => String(resolveIntrinsics(value, values));
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::KMS::Key' && p.KeyPolicy) policies.set(values.getAtt(id, 'Arn'), p.KeyPolicy);
    if (r.Type === 'AWS::SNS::TopicPolicy') {
      for (const topic of p.Topics) policies.set(arnOf(topic), p.PolicyDocument);
    }
    if (r.Type === 'AWS::SecretsManager::ResourcePolicy') policies.set(arnOf(p.SecretId), p.ResourcePolicy);
  }
  return new Map([...policies].map(([arn, policy]) => [arn, resolveDeep(policy, values)]));
}

/**
 * The simulator's verdict. Its resource-type lookup reads the `*` of a type pattern such as DMS's
 * `arn:${Partition}:dms:${Region}:${Account}:task:*` as a literal character, so it cannot type a concrete task ARN
 * ("no.resource.types"); that request is evaluated by the same engine without the lookup (the policies, the action
 * and the service were validated by then). Any other problem with the request is a mistake of the test: thrown.
 */
async function evaluate(simulation: Simulation): Promise<EvaluationResult> {
  const result = await runSimulation(simulation, { simulationMode: 'Strict' });
  if (result.resultType !== 'error') return result.overallResult;
  if (result.errors.message === 'no.resource.types') return runUnsafeSimulation(simulation, {});
  const { action, resource } = simulation.request;
  throw new Error(
    `IAM simulation of ${action} on ${resource.resource} could not run: ${JSON.stringify(result.errors)}`,
  );
}

/** The logical id of the role the function `functionLogicalId` runs as. */
function roleOf(resources: Record<string, Json>, functionLogicalId: string): string {
  const fn = resources[functionLogicalId];
  if (fn?.Type !== 'AWS::Lambda::Function') throw new Error(`${functionLogicalId} is not a Lambda function`);
  return fn.Properties.Role['Fn::GetAtt'][0];
}

/**
 * A copy of `template` whose policies attached to the role of the function `functionLogicalId` lack the statements
 * `drop` picks (returned as `removed`): to show a call fails without its grant.
 */
export function withoutStatements(
  template: Json,
  functionLogicalId: string,
  drop: (statement: { Action: string | string[]; Resource: unknown }) => boolean,
): { template: Json; removed: unknown[] } {
  const copy = JSON.parse(JSON.stringify(template)) as Json;
  const roleId = roleOf(copy.Resources, functionLogicalId);
  const removed: unknown[] = [];
  for (const resource of Object.values<Json>(copy.Resources)) {
    if (!ATTACHED_POLICY_TYPES.includes(resource.Type)) continue;
    if (!(resource.Properties.Roles ?? []).some((role: Json) => role?.Ref === roleId)) continue;
    const statements: Json[] = resource.Properties.PolicyDocument.Statement;
    removed.push(...statements.filter(drop));
    resource.Properties.PolicyDocument.Statement = statements.filter((statement) => !drop(statement));
  }
  return { template: copy, removed };
}

/** The authorizer of the function `functionLogicalId` of `template` (the stack `stackName`, deployed to `env`). */
export function iamAuthorizer(
  template: Json,
  stackName: string,
  functionLogicalId: string,
  env: DeployedEnvironment = TEST_ENVIRONMENT,
): IamAuthorizer {
  const resources: Record<string, Json> = template.Resources;
  const roleId = roleOf(resources, functionLogicalId);
  const values = intrinsicValuesOf(templateResolver(template, stackName, env), env);
  const roleArn = values.getAtt(roleId, 'Arn');
  const session = `arn:aws:sts::${env.account}:assumed-role/${values.ref!(roleId)}/${values.ref!(functionLogicalId)}`;
  const identityPolicies = policiesOfRole(resources, roleId).map(({ name, document }) => ({
    name,
    policy: resolveDeep(document, values),
  }));
  const keys = keysOfResources(resources, values, env);
  const resourcePolicies = resourcePoliciesOf(resources, values);
  const requestEnv: RequestEnvironment = { ...env, keyOf: (arn) => keys.get(arn) };
  const decisions: IamDecision[] = [];
  return {
    roleArn,
    decisions,
    async authorize(command) {
      for (const request of iamRequestsOf(command, requestEnv)) {
        const resourcePolicy = resourcePolicies.get(request.resource);
        const result = await evaluate({
          request: {
            principal: roleArn,
            action: request.action,
            resource: { resource: request.resource, accountId: env.account },
            // the SDK sends every request over TLS
            contextVariables: { 'aws:SecureTransport': 'true' },
          },
          identityPolicies,
          ...(resourcePolicy ? { resourcePolicy } : {}),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        });
        decisions.push({ ...request, result });
        if (result !== 'Allowed') {
          const why =
            result === 'ExplicitlyDenied'
              ? 'with an explicit deny'
              : `because no identity-based policy allows the ${request.action} action`;
          throw new AccessDeniedException(
            `User: ${session} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}`,
          );
        }
      }
    },
  };
}

/**
 * `fake` (the mocked service's answer to `Command`) behind IAM: each call is first authorized for the function that
 * makes it, `caller()`; a call with no caller is a mistake of the test.
 */
export function behindIam<I extends object, O>(
  caller: () => IamAuthorizer | undefined,
  Command: new (input: I) => object,
  fake: (input: I) => O | Promise<O>,
): (input: I) => Promise<O> {
  return async (input) => {
    const authorizer = caller();
    if (!authorizer) throw new Error(`${Command.name} was sent outside any function: no role to authorize it`);
    await authorizer.authorize(new Command(input));
    return fake(input);
  };
}
