import type { AlarmControl } from '../../lambda/engine';

/** Alarm control that changes nothing and records the calls (rehearsal, tests). */
export class RecordingAlarmControl implements AlarmControl {
  readonly calls: ('disable' | 'enable')[] = [];

  /** @param enabled whether alarm actions are enabled to begin with (the reverse lag alarms start muted) */
  constructor(public enabled = true) {}

  async disable(): Promise<void> {
    this.calls.push('disable');
    this.enabled = false;
  }

  async enable(): Promise<void> {
    this.calls.push('enable');
    this.enabled = true;
  }
}
