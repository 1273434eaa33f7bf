import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import type { TrafficSwitch } from '../ports';

const normalize = (name: string): string => (name.endsWith('.') ? name : `${name}.`).toLowerCase();

/** The application connects to a DNS name; switching UPSERTs its CNAME record (TTL configurable). */
export class Route53RecordTrafficSwitch implements TrafficSwitch {
  readonly description: string;
  private readonly route53: Route53Client;

  constructor(
    private readonly hostedZoneId: string,
    private readonly recordName: string,
    private readonly ttlSeconds = 60,
    route53?: Route53Client,
  ) {
    this.description = `CNAME ${recordName} in hosted zone ${hostedZoneId}`;
    this.route53 = route53 ?? new Route53Client({});
  }

  async current(): Promise<string | undefined> {
    const out = await this.route53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: this.hostedZoneId,
        StartRecordName: this.recordName,
        StartRecordType: 'CNAME',
        MaxItems: 1,
      }),
    );
    const record = out.ResourceRecordSets?.find(
      (r) => r.Type === 'CNAME' && normalize(r.Name ?? '') === normalize(this.recordName),
    );
    return record?.ResourceRecords?.[0]?.Value;
  }

  async switchTo(endpoint: string): Promise<void> {
    const current = await this.current();
    if (current !== undefined && normalize(current) === normalize(endpoint)) return;
    await this.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: this.hostedZoneId,
        ChangeBatch: {
          Comment: 'zero-downtime-migration cutover',
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: this.recordName,
                Type: 'CNAME',
                TTL: this.ttlSeconds,
                ResourceRecords: [{ Value: endpoint }],
              },
            },
          ],
        },
      }),
    );
  }
}
