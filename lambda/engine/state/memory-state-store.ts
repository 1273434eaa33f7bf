import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  FreezeRecord,
  MigrationRecord,
  MigrationStatus,
  PhaseName,
  PhaseRecord,
  PointOfNoReturn,
  ReadSwitchRecord,
  ReverseRecord,
  StateStore,
  TrackingRecord,
} from '../ports';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * The state store in memory (rehearsal, tests), with the DynamoDB store's semantics: `ensure` creates once,
 * `*IfAbsent` never overwrite. With `filePath`, every change is written to that JSON file and loaded at start,
 * so a local run can be resumed by a new process.
 */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, Mutable<MigrationRecord>>();

  constructor(private readonly filePath?: string) {
    if (filePath && existsSync(filePath)) {
      const data = JSON.parse(readFileSync(filePath, 'utf8')) as Record<string, MigrationRecord>;
      for (const [id, record] of Object.entries(data)) this.records.set(id, clone(record));
    }
  }

  /** Every record (a copy), for tests and the rehearsal report. */
  snapshot(): Record<string, MigrationRecord> {
    return clone(Object.fromEntries(this.records));
  }

  async get(migrationId: string): Promise<MigrationRecord | undefined> {
    const record = this.records.get(migrationId);
    return record ? clone(record) : undefined;
  }

  async ensure(migrationId: string, mode: MigrationRecord['mode'], now: string): Promise<MigrationRecord> {
    let record = this.records.get(migrationId);
    if (!record) {
      record = { migrationId, mode, status: 'running', createdAt: now, updatedAt: now, phases: {} };
      this.records.set(migrationId, record);
      this.persist();
    }
    return clone(record);
  }

  async restart(migrationId: string, mode: MigrationRecord['mode'], now: string): Promise<MigrationRecord> {
    const existing = this.records.get(migrationId);
    if (existing && existing.status !== 'rolled-back') return clone(existing);
    const record: Mutable<MigrationRecord> = {
      migrationId,
      mode,
      status: 'running',
      createdAt: now,
      updatedAt: now,
      phases: {},
    };
    this.records.set(migrationId, record);
    this.persist();
    return clone(record);
  }

  async putPhase(migrationId: string, phase: PhaseName, record: PhaseRecord): Promise<void> {
    const r = this.require(migrationId);
    r.phases = { ...r.phases, [phase]: clone(record) };
    r.updatedAt = record.endedAt ?? record.startedAt;
    this.persist();
  }

  async saveFreezeIfAbsent(migrationId: string, freeze: FreezeRecord): Promise<FreezeRecord> {
    const r = this.require(migrationId);
    if (!r.freeze) {
      r.freeze = clone(freeze);
      this.persist();
    }
    return clone(r.freeze);
  }

  async markFreezeRestored(migrationId: string, restoredAt: string): Promise<void> {
    const r = this.require(migrationId);
    if (!r.freeze) throw new Error(`migration ${migrationId} has no saved freeze to mark restored`);
    if (!r.freeze.restoredAt) {
      r.freeze = { ...r.freeze, restoredAt };
      this.persist();
    }
  }

  async setMarkerTokenIfAbsent(migrationId: string, token: string): Promise<string> {
    const r = this.require(migrationId);
    if (!r.markerToken) {
      r.markerToken = token;
      this.persist();
    }
    return r.markerToken;
  }

  async setStatus(migrationId: string, status: MigrationStatus, now: string, error?: string): Promise<void> {
    const r = this.require(migrationId);
    r.status = status;
    r.updatedAt = now;
    if (error !== undefined) r.error = error;
    else delete r.error;
    this.persist();
  }

  async setPointOfNoReturnIfAbsent(migrationId: string, point: PointOfNoReturn): Promise<PointOfNoReturn> {
    const r = this.require(migrationId);
    if (!r.pointOfNoReturn) {
      r.pointOfNoReturn = clone(point);
      this.persist();
    }
    return clone(r.pointOfNoReturn);
  }

  async putTracking(migrationId: string, tracking: TrackingRecord): Promise<void> {
    const r = this.require(migrationId);
    r.tracking = clone(tracking);
    this.persist();
  }

  async putReadSwitch(migrationId: string, readSwitch: ReadSwitchRecord): Promise<void> {
    const r = this.require(migrationId);
    r.readSwitch = clone(readSwitch);
    this.persist();
  }

  async putReverse(migrationId: string, reverse: ReverseRecord): Promise<void> {
    const r = this.require(migrationId);
    r.reverse = clone(reverse);
    this.persist();
  }

  private require(migrationId: string): Mutable<MigrationRecord> {
    const r = this.records.get(migrationId);
    if (!r) throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`);
    return r;
  }

  private persist(): void {
    if (!this.filePath) return;
    mkdirSync(dirname(this.filePath), { recursive: true });
    const tmp = `${this.filePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.records), null, 2));
    renameSync(tmp, this.filePath);
  }
}
