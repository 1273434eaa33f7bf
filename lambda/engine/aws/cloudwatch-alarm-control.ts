import { CloudWatchClient, DisableAlarmActionsCommand, EnableAlarmActionsCommand } from '@aws-sdk/client-cloudwatch';
import type { AlarmControl } from '../ports';

/** Turns the actions of named CloudWatch alarms off (the lag alarms, before a planned stop) or on (a planned start). */
export class CloudWatchAlarmControl implements AlarmControl {
  private readonly cloudwatch: CloudWatchClient;

  constructor(
    private readonly alarmNames: readonly string[],
    cloudwatch?: CloudWatchClient,
  ) {
    this.cloudwatch = cloudwatch ?? new CloudWatchClient({});
  }

  private batches(): string[][] {
    const out: string[][] = [];
    for (let i = 0; i < this.alarmNames.length; i += 100) out.push(this.alarmNames.slice(i, i + 100));
    return out;
  }

  async disable(): Promise<void> {
    for (const AlarmNames of this.batches()) await this.cloudwatch.send(new DisableAlarmActionsCommand({ AlarmNames }));
  }

  async enable(): Promise<void> {
    for (const AlarmNames of this.batches()) await this.cloudwatch.send(new EnableAlarmActionsCommand({ AlarmNames }));
  }
}
