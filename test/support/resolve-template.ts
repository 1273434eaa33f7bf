/**
 * Resolves CloudFormation intrinsics in a synthesized template to the strings CloudFormation would produce, with
 * realistic lengths: a 12-digit account, a long region, and physical names and ARNs as CloudFormation generates them
 * (`<stack>-<logical id>-<13 random characters>`). Used to measure what AWS measures after deploy (e.g. the 4 KB of a
 * Lambda function's environment), which a template with `{ "Ref": ... }` in it does not show.
 */
import type { IntrinsicValues } from '../../rehearsal/local/resolve-intrinsics';

export const REALISTIC = {
  account: '123456789012',
  // among the longest region names in the commercial partition
  region: 'ap-southeast-5',
  partition: 'aws',
  urlSuffix: 'amazonaws.com',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed template JSON
type Json = any;

export interface TemplateResolver {
  /** The value of a property after CloudFormation resolves every intrinsic in it. */
  resolve(value: Json): Json;
  /** The value of `Ref` to a resource of the template (its physical name or ARN). */
  ref(logicalId: string): string;
  /** The value of `Fn::GetAtt [logicalId, attribute]`. */
  getAtt(logicalId: string, attribute: string): string;
}

/** Where the stack is deployed. @default REALISTIC */
export interface DeployedEnvironment {
  readonly account: string;
  readonly region: string;
}

const RANDOM = 'ABCDEFGHIJKLM'; // CloudFormation appends 12–13 random characters to generated names

export function templateResolver(
  template: Json,
  stackName: string,
  environment: DeployedEnvironment = REALISTIC,
): TemplateResolver {
  const resources: Record<string, Json> = template.Resources ?? {};
  const { partition, urlSuffix } = REALISTIC;
  const { account, region } = environment;
  const arn = (service: string, resource: string): string =>
    `arn:${partition}:${service}:${region}:${account}:${resource}`;
  const generatedName = (logicalId: string, max = 255): string => `${stackName}-${logicalId}-${RANDOM}`.slice(0, max);

  const physical = (logicalId: string, props: Json): string => {
    const resource = resources[logicalId];
    if (!resource) throw new Error(`Ref to ${logicalId}: no such resource or parameter`);
    const name = (key: string, max?: number): string =>
      typeof props?.[key] === 'string' ? props[key] : generatedName(logicalId, max);
    switch (resource.Type as string) {
      case 'AWS::DMS::ReplicationTask':
        return arn('dms', `task:${'X'.repeat(26)}`);
      case 'AWS::DMS::ReplicationInstance':
        return arn('dms', `rep:${'X'.repeat(26)}`);
      case 'AWS::DMS::Endpoint':
        return arn('dms', `endpoint:${'X'.repeat(26)}`);
      case 'AWS::DMS::Certificate':
        return arn('dms', `cert:${'X'.repeat(26)}`);
      case 'AWS::SNS::Topic':
        return arn('sns', name('TopicName', 256));
      case 'AWS::DynamoDB::Table':
        return name('TableName', 255);
      case 'AWS::CloudWatch::Alarm':
        return name('AlarmName', 255);
      case 'AWS::SecretsManager::Secret':
        return arn('secretsmanager', `secret:${name('Name', 256)}-AbCdEf`);
      case 'AWS::SecretsManager::SecretTargetAttachment':
        return resolve(resources[logicalId].Properties.SecretId);
      case 'AWS::SSM::Parameter':
        return name('Name', 1011);
      case 'AWS::Route53::HostedZone':
        return 'Z0123456789ABCDEFGHIJ';
      case 'AWS::KMS::Key':
        return '12345678-90ab-cdef-1234-567890abcdef';
      case 'AWS::Lambda::Function':
        return name('FunctionName', 64);
      case 'AWS::StepFunctions::StateMachine':
        return arn('states', `stateMachine:${name('StateMachineName', 80)}`);
      case 'AWS::IAM::Role':
        return name('RoleName', 64);
      case 'AWS::Logs::LogGroup':
        return name('LogGroupName', 512);
      case 'AWS::EC2::SecurityGroup':
        return 'sg-0123456789abcdef0';
      case 'AWS::EC2::Subnet':
        return 'subnet-0123456789abcdef0';
      case 'AWS::RDS::DBCluster':
        return name('DBClusterIdentifier', 63).toLowerCase();
      default:
        return generatedName(logicalId, 128);
    }
  };

  const getAtt = (logicalId: string, attribute: string): string => {
    const resource = resources[logicalId];
    if (!resource) throw new Error(`Fn::GetAtt on ${logicalId}: no such resource`);
    const props = resource.Properties ?? {};
    const ref = physical(logicalId, props);
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::IAM::Role.Arn':
        return `arn:${partition}:iam::${account}:role/${ref}`;
      case 'AWS::DynamoDB::Table.Arn':
        return arn('dynamodb', `table/${ref}`);
      case 'AWS::DynamoDB::Table.StreamArn':
        return arn('dynamodb', `table/${ref}/stream/2026-01-01T00:00:00.000`);
      case 'AWS::CloudWatch::Alarm.Arn':
        return arn('cloudwatch', `alarm:${ref}`);
      case 'AWS::Lambda::Function.Arn':
        return arn('lambda', `function:${ref}`);
      case 'AWS::KMS::Key.Arn':
        return arn('kms', `key/${ref}`);
      case 'AWS::Logs::LogGroup.Arn':
        return arn('logs', `log-group:${ref}:*`);
      case 'AWS::SNS::Topic.TopicArn':
        return ref;
      case 'AWS::SNS::Topic.TopicName':
        return ref.split(':').pop()!;
      case 'AWS::StepFunctions::StateMachine.Name':
        return ref.split(':').pop()!;
      case 'AWS::RDS::DBCluster.Endpoint.Address':
        return `${ref}.cluster-abcdefghijkl.${region}.rds.${urlSuffix}`;
      case 'AWS::RDS::DBCluster.ReadEndpoint.Address':
        return `${ref}.cluster-ro-abcdefghijkl.${region}.rds.${urlSuffix}`;
      case 'AWS::RDS::DBCluster.Endpoint.Port':
        return '5432';
      case 'AWS::EC2::SecurityGroup.GroupId':
        return ref;
      default:
        if (attribute === 'Arn') return arn(resource.Type.split('::')[1].toLowerCase(), ref);
        return `${ref}-${attribute}`;
    }
  };

  const pseudo: Record<string, string> = {
    'AWS::AccountId': account,
    'AWS::Region': region,
    'AWS::Partition': partition,
    'AWS::URLSuffix': urlSuffix,
    'AWS::StackName': stackName,
    'AWS::StackId': arn('cloudformation', `stack/${stackName}/12345678-90ab-cdef-1234-567890abcdef`),
    'AWS::NoValue': '',
  };

  const resolve = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys;
      const arg = value[key];
      switch (key) {
        case 'Ref':
          return arg in pseudo ? pseudo[arg] : physical(arg, resources[arg]?.Properties);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/);
          return getAtt(id, attr);
        }
        case 'Fn::Join': {
          const [separator, parts] = arg;
          return (resolve(parts) as string[]).join(separator);
        }
        case 'Fn::Split': {
          const [separator, source] = arg;
          return String(resolve(source)).split(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg;
          return (resolve(list) as string[])[Number(resolve(index))];
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
          return String(text).replace(/\$\{([^}]+)\}/g, (_: string, name: string) => {
            if (vars && name in vars) return String(resolve(vars[name]));
            if (name in pseudo) return pseudo[name];
            const [id, attr] = name.split(/\.(.*)/);
            return attr ? getAtt(id, attr) : physical(id, resources[id]?.Properties);
          });
        }
        case 'Fn::ImportValue':
          throw new Error(`Fn::ImportValue cannot be resolved offline: ${JSON.stringify(arg)}`);
        default:
          if (key.startsWith('Fn::')) throw new Error(`unsupported intrinsic ${key}: ${JSON.stringify(arg)}`);
      }
    }
    return Object.fromEntries(keys.map((k) => [k, resolve(value[k])]));
  };

  return { resolve, ref: (logicalId) => physical(logicalId, resources[logicalId]?.Properties), getAtt };
}

/**
 * Size of a Lambda function's environment as Lambda limits it ("the total size of all environment variables doesn't
 * exceed 4 KB"): the bytes of every key and value. Also returned: the JSON size (keys, values, quotes and separators),
 * which is the stricter reading.
 */
export function environmentSize(variables: Record<string, string>): { keysAndValues: number; json: number } {
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  return {
    keysAndValues: Object.entries(variables).reduce((sum, [k, v]) => sum + bytes(k) + bytes(String(v)), 0),
    json: bytes(JSON.stringify(variables)),
  };
}

/** The values `resolveIntrinsics` (rehearsal/local/resolve-intrinsics.ts) needs to resolve as `resolver` does. */
export function intrinsicValuesOf(resolver: TemplateResolver, environment: DeployedEnvironment): IntrinsicValues {
  return { ref: resolver.ref, getAtt: resolver.getAtt, account: environment.account, region: environment.region };
}
