import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IHostedZone } from 'aws-cdk-lib/aws-route53';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Token } from 'aws-cdk-lib';

/** What a traffic switch target contributes to the switch-traffic function. */
export interface TrafficSwitchBinding {
  /** Environment variables the step handler reads to build its TrafficSwitch adapter. */
  readonly environment: Record<string, string>;
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

  /** Short description for docs and notices. */
  public abstract readonly kind: 'ssm-parameter' | 'secret' | 'route53-record';

  /**
   * Grants `grantee` exactly what the switch needs and returns the handler's environment.
   * @internal
   */
  public abstract _bind(grantee: iam.IGrantable): TrafficSwitchBinding;
}

class SsmParameterTarget extends TrafficSwitchTarget {
  public readonly kind = 'ssm-parameter';
  constructor(private readonly parameter: IStringParameter) {
    super();
  }
  public _bind(grantee: iam.IGrantable): TrafficSwitchBinding {
    this.parameter.grantRead(grantee);
    this.parameter.grantWrite(grantee);
    return {
      environment: { TRAFFIC_SWITCH_KIND: this.kind, TRAFFIC_SWITCH_PARAMETER_NAME: this.parameter.parameterName },
    };
  }
}

class SecretTarget extends TrafficSwitchTarget {
  public readonly kind = 'secret';
  constructor(private readonly secret: ISecret) {
    super();
  }
  public _bind(grantee: iam.IGrantable): TrafficSwitchBinding {
    this.secret.grantRead(grantee);
    this.secret.grantWrite(grantee);
    return { environment: { TRAFFIC_SWITCH_KIND: this.kind, TRAFFIC_SWITCH_SECRET_ARN: this.secret.secretArn } };
  }
}

class Route53RecordTarget extends TrafficSwitchTarget {
  public readonly kind = 'route53-record';
  constructor(
    private readonly zone: IHostedZone,
    private readonly recordName: string,
  ) {
    super();
  }
  public _bind(grantee: iam.IGrantable): TrafficSwitchBinding {
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
    // GetChange (wait for INSYNC) names changes by id, which are only known at run time.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['route53:GetChange'],
      resourceArns: [`arn:${Stack.of(this.zone).partition}:route53:::change/*`],
    });
    return {
      environment: {
        TRAFFIC_SWITCH_KIND: this.kind,
        TRAFFIC_SWITCH_HOSTED_ZONE_ID: this.zone.hostedZoneId,
        TRAFFIC_SWITCH_RECORD_NAME: this.recordName,
      },
    };
  }
}
