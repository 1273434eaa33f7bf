import type { AlarmControl } from '../../lambda/engine/ports';

/** Alarm control that changes nothing and records the calls (rehearsal, tests). */
export class RecordingAlarmControl implements AlarmControl {
  readonly calls: 'disable'[] = [];
  /** Whether alarm actions would be enabled now. */
  enabled = true;

  async disable(): Promise<void> {
    this.calls.push('disable');
    this.enabled = false;
  }
}
