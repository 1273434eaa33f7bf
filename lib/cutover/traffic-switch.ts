import { Fn, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IHostedZone } from 'aws-cdk-lib/aws-route53';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import {
  CUTOVER_ENVIRONMENT,
  ROUTE53_TARGET_SEPARATOR,
  TRAFFIC_SWITCH_KIND,
  type TrafficSwitchKind,
} from '../../contract';

/** What a traffic switch target contributes to the traffic function. */
export interface TrafficSwitchBinding {
  /**
   * Environment variables the step handler reads to build its TrafficSwitch adapter: `TRAFFIC_SWITCH_KIND` and
   * `TRAFFIC_SWITCH_TARGET` for the write path, `READ_TRAFFIC_SWITCH_*` for the read path
   * (see lambda/handlers/environment.ts).
   */
  readonly environment: Record<string, string>;
}

/** Which path a switch moves: the application's writes (and reads) or only its reads (the read-first switch). */
type TrafficPath = 'writes' | 'reads';

function switchEnvironment(path: TrafficPath, kind: TrafficSwitchKind, target: string): TrafficSwitchBinding {
  return {
    environment:
      path === 'writes'
        ? { [CUTOVER_ENVIRONMENT.trafficSwitchKind]: kind, [CUTOVER_ENVIRONMENT.trafficSwitchTarget]: target }
        : {
            [CUTOVER_ENVIRONMENT.readTrafficSwitchKind]: kind,
            [CUTOVER_ENVIRONMENT.readTrafficSwitchTarget]: target,
          },
  };
}

/**
 * Where the application reads its database endpoint from; the SwitchTraffic step points it at Aurora.
 * Only the function running that step is granted access, and only to this one resource.
 */
export abstract class TrafficSwitchTarget {
  /** A String SSM parameter whose value is the endpoint (ssm:GetParameter + ssm:PutParameter on it). */
  public static ssmParameter(parameter: IStringParameter): TrafficSwitchTarget {
    return new SsmParameterTarget(parameter);
  }

  /**
   * A secret whose JSON `host` field (or whole string value when it is not JSON) is the endpoint
   * (GetSecretValue + PutSecretValue on it).
   */
  public static secret(secret: ISecret): TrafficSwitchTarget {
    return new SecretTarget(secret);
  }

  /**
   * A CNAME record `recordName` in `hostedZone`, UPSERTed to the endpoint. The grant is limited to that
   * record name (route53:ChangeResourceRecordSetsNormalizedRecordNames).
   * @param recordName fully qualified, e.g. `db.example.com` (a trailing dot is ignored)
   */
  public static route53Record(hostedZone: IHostedZone, recordName: string): TrafficSwitchTarget {
    if (!Token.isUnresolved(recordName)) {
      const name = recordName.replace(/\.$/, '').toLowerCase();
      if (
        !/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(name)
      ) {
        throw new Error(
          `trafficSwitch: recordName must be a DNS name such as db.example.com, got ${JSON.stringify(recordName)}`,
        );
      }
      return new Route53RecordTarget(hostedZone, name);
    }
    return new Route53RecordTarget(hostedZone, recordName);
  }

  /** Which kind of switch this is: the handler's `TRAFFIC_SWITCH_KIND` (`ssm-parameter`, `secret` or `route53-cname`). */
  public abstract readonly kind: Exclude<TrafficSwitchKind, typeof TRAFFIC_SWITCH_KIND.none>;

  /**
   * Grants `grantee` exactly what the switch needs and returns the handler's environment for `path`.
   * @internal
   */
  public abstract _bind(grantee: iam.IGrantable, path: TrafficPath): TrafficSwitchBinding;
}

class SsmParameterTarget extends TrafficSwitchTarget {
  public readonly kind = TRAFFIC_SWITCH_KIND.ssmParameter;
  constructor(private readonly parameter: IStringParameter) {
    super();
  }
  public _bind(grantee: iam.IGrantable, path: TrafficPath): TrafficSwitchBinding {
    this.parameter.grantRead(grantee);
    this.parameter.grantWrite(grantee);
    return switchEnvironment(path, this.kind, this.parameter.parameterName);
  }
}

class SecretTarget extends TrafficSwitchTarget {
  public readonly kind = TRAFFIC_SWITCH_KIND.secret;
  constructor(private readonly secret: ISecret) {
    super();
  }
  public _bind(grantee: iam.IGrantable, path: TrafficPath): TrafficSwitchBinding {
    this.secret.grantRead(grantee);
    this.secret.grantWrite(grantee);
    return switchEnvironment(path, this.kind, this.secret.secretArn);
  }
}

class Route53RecordTarget extends TrafficSwitchTarget {
  public readonly kind = TRAFFIC_SWITCH_KIND.route53Cname;
  constructor(
    private readonly zone: IHostedZone,
    private readonly recordName: string,
  ) {
    super();
  }
  public _bind(grantee: iam.IGrantable, path: TrafficPath): TrafficSwitchBinding {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['route53:ChangeResourceRecordSets'],
      resourceArns: [this.zone.hostedZoneArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': [this.recordName],
          'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
        },
      },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['route53:ListResourceRecordSets'],
      resourceArns: [this.zone.hostedZoneArn],
    });
    // No route53:GetChange: the adapter UPSERTs and does not wait for INSYNC.
    return switchEnvironment(
      path,
      this.kind,
      Fn.join(ROUTE53_TARGET_SEPARATOR, [this.zone.hostedZoneId, this.recordName]),
    );
  }
}
