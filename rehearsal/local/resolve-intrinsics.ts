/**
 * Evaluates the CloudFormation intrinsics a synthesized template uses (Ref, Fn::GetAtt, Fn::Join, Fn::Select,
 * Fn::Split) to plain strings, so a state machine definition or a function environment can run locally.
 */

export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'us-east-1';

export interface IntrinsicValues {
  /** Value of `Fn::GetAtt [logicalId, attribute]`. */
  readonly getAtt: (logicalId: string, attribute: string) => string;
  /** Value of `Ref` to a resource (pseudo parameters are resolved first). @default `ref-<logicalId>` */
  readonly ref?: (logicalId: string) => string;
  readonly region?: string;
  readonly account?: string;
}

/** Resolves `value` to a string or a list of strings; throws naming an intrinsic it does not know. */
export function resolveIntrinsics(value: unknown, values: IntrinsicValues): string | string[] {
  const one = (v: unknown): string => {
    const out = resolveIntrinsics(v, values);
    if (Array.isArray(out)) throw new Error(`expected a string, got the list ${JSON.stringify(out)}`);
    return out;
  };
  const list = (v: unknown): string[] => {
    const out = resolveIntrinsics(v, values);
    if (!Array.isArray(out)) throw new Error(`expected a list, got ${JSON.stringify(out)}`);
    return out;
  };
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(one);
  if (value && typeof value === 'object' && Object.keys(value).length === 1) {
    const [fn] = Object.keys(value);
    const arg = (value as Record<string, unknown>)[fn];
    switch (fn) {
      case 'Ref':
        return pseudo(String(arg), values) ?? (values.ref ?? ((id: string) => `ref-${id}`))(String(arg));
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
        return values.getAtt(String(id), String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown];
        return list(parts).join(separator);
      }
      case 'Fn::Select': {
        const [index, items] = arg as [unknown, unknown];
        const all = list(items);
        const i = Number(one(index));
        if (!(i >= 0 && i < all.length)) throw new Error(`Fn::Select index ${i} out of ${JSON.stringify(all)}`);
        return all[i];
      }
      case 'Fn::Split': {
        const [separator, text] = arg as [string, unknown];
        return one(text).split(separator);
      }
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)?.slice(0, 200)}`);
}

function pseudo(name: string, values: IntrinsicValues): string | undefined {
  return {
    'AWS::Partition': 'aws',
    'AWS::Region': values.region ?? LOCAL_REGION,
    'AWS::AccountId': values.account ?? LOCAL_ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'Local',
  }[name];
}
