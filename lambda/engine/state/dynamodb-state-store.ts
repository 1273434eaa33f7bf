/**
 * The state store in production: one DynamoDB item per migration (phases, freeze record, point of no return, the way
 * back), written with conditions so a resumed or concurrent execution never overwrites what another recorded.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type PutCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type {
  FreezeRecord,
  MigrationRecord,
  MigrationStatus,
  PhaseName,
  PhaseRecord,
  PointOfNoReturn,
  StateStore,
  ReadSwitchRecord,
  ReverseRecord,
  TrackingRecord,
} from '../ports';

export interface DynamoDbStateStoreOptions {
  /** Table with partition key `migrationId` (string). */
  readonly tableName: string;
  /** @default - a client for the Lambda's region */
  readonly client?: DynamoDBClient | DynamoDBDocumentClient;
}

const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function isConditionFailed(error: unknown): boolean {
  return (error as Error)?.name === 'ConditionalCheckFailedException';
}

/**
 * Cutover state in DynamoDB, one item per migration (key `migrationId`). Reads are strongly consistent;
 * `ensure` and the `*IfAbsent` methods use conditional writes, so two racing executions cannot overwrite the
 * saved freeze settings or the marker token; phases are updated one map entry at a time.
 */
export class DynamoDbStateStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: DynamoDbStateStoreOptions) {
    this.tableName = options.tableName;
    const client = options.client ?? new DynamoDBClient({});
    this.doc =
      client instanceof DynamoDBDocumentClient
        ? client
        : DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async get(migrationId: string): Promise<MigrationRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { migrationId }, ConsistentRead: true }),
    );
    return out.Item as MigrationRecord | undefined;
  }

  async ensure(migrationId: string, mode: MigrationRecord['mode'], now: string): Promise<MigrationRecord> {
    return this.putNew(migrationId, mode, now, 'created', {
      ConditionExpression: 'attribute_not_exists(migrationId)',
    });
  }

  async restart(migrationId: string, mode: MigrationRecord['mode'], now: string): Promise<MigrationRecord> {
    return this.putNew(migrationId, mode, now, 'restarted', {
      ConditionExpression: 'attribute_not_exists(migrationId) OR #status = :rolledBack',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':rolledBack': 'rolled-back' },
    });
  }

  /** Puts a new record when `condition` holds; otherwise returns the stored one. */
  private async putNew(
    migrationId: string,
    mode: MigrationRecord['mode'],
    now: string,
    what: string,
    condition: Pick<PutCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
  ): Promise<MigrationRecord> {
    const record: MigrationRecord = {
      migrationId,
      mode,
      status: 'running',
      createdAt: now,
      updatedAt: now,
      phases: {},
    };
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: record, ...condition }));
      return record;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(migrationId);
      if (!existing) throw new Error(`state record ${migrationId} vanished while being ${what}`, { cause: error });
      return existing;
    }
  }

  async putPhase(migrationId: string, phase: PhaseName, record: PhaseRecord): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression: 'SET #phases.#phase = :record, #updatedAt = :now',
          ConditionExpression: 'attribute_exists(migrationId)',
          ExpressionAttributeNames: { '#phases': 'phases', '#phase': phase, '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':record': plain(record), ':now': record.endedAt ?? record.startedAt },
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) {
        throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`, { cause: error });
      }
      throw error;
    }
  }

  async saveFreezeIfAbsent(migrationId: string, freeze: FreezeRecord): Promise<FreezeRecord> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression: 'SET #freeze = :freeze',
          ConditionExpression: 'attribute_exists(migrationId) AND attribute_not_exists(#freeze)',
          ExpressionAttributeNames: { '#freeze': 'freeze' },
          ExpressionAttributeValues: { ':freeze': plain(freeze) },
        }),
      );
      return freeze;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(migrationId);
      if (!existing) throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`, { cause: error });
      if (!existing.freeze) {
        throw new Error(`saving the freeze of ${migrationId} failed its condition unexpectedly`, { cause: error });
      }
      return existing.freeze;
    }
  }

  async markFreezeRestored(migrationId: string, restoredAt: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression: 'SET #freeze.#restoredAt = :restoredAt',
          ConditionExpression: 'attribute_exists(#freeze) AND attribute_not_exists(#freeze.#restoredAt)',
          ExpressionAttributeNames: { '#freeze': 'freeze', '#restoredAt': 'restoredAt' },
          ExpressionAttributeValues: { ':restoredAt': restoredAt },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(migrationId);
      if (!existing?.freeze) {
        throw new Error(`migration ${migrationId} has no saved freeze to mark restored`, { cause: error });
      }
      // Already marked restored: idempotent.
    }
  }

  async setMarkerTokenIfAbsent(migrationId: string, token: string): Promise<string> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression: 'SET #token = :token',
          ConditionExpression: 'attribute_exists(migrationId) AND attribute_not_exists(#token)',
          ExpressionAttributeNames: { '#token': 'markerToken' },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
      return token;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(migrationId);
      if (!existing?.markerToken) {
        throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`, { cause: error });
      }
      return existing.markerToken;
    }
  }

  async setStatus(migrationId: string, status: MigrationStatus, now: string, error?: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression:
            error === undefined
              ? 'SET #status = :status, #updatedAt = :now REMOVE #error'
              : 'SET #status = :status, #updatedAt = :now, #error = :error',
          ConditionExpression: 'attribute_exists(migrationId)',
          ExpressionAttributeNames: { '#status': 'status', '#updatedAt': 'updatedAt', '#error': 'error' },
          ExpressionAttributeValues: {
            ':status': status,
            ':now': now,
            ...(error === undefined ? {} : { ':error': error.slice(0, 4000) }),
          },
        }),
      );
    } catch (e) {
      if (isConditionFailed(e)) {
        throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`, { cause: e });
      }
      throw e;
    }
  }

  async setPointOfNoReturnIfAbsent(migrationId: string, point: PointOfNoReturn): Promise<PointOfNoReturn> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression: 'SET #point = :point',
          ConditionExpression: 'attribute_exists(migrationId) AND attribute_not_exists(#point)',
          ExpressionAttributeNames: { '#point': 'pointOfNoReturn' },
          ExpressionAttributeValues: { ':point': plain(point) },
        }),
      );
      return point;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(migrationId);
      if (!existing?.pointOfNoReturn) {
        throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`, { cause: error });
      }
      return existing.pointOfNoReturn;
    }
  }

  async putTracking(migrationId: string, tracking: TrackingRecord): Promise<void> {
    await this.replaceField(migrationId, 'tracking', tracking);
  }

  async putReadSwitch(migrationId: string, readSwitch: ReadSwitchRecord): Promise<void> {
    await this.replaceField(migrationId, 'readSwitch', readSwitch);
  }

  async putReverse(migrationId: string, reverse: ReverseRecord): Promise<void> {
    await this.replaceField(migrationId, 'reverse', reverse);
  }

  private async replaceField(
    migrationId: string,
    field: 'tracking' | 'readSwitch' | 'reverse',
    value: object,
  ): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { migrationId },
          UpdateExpression: 'SET #field = :value',
          ConditionExpression: 'attribute_exists(migrationId)',
          ExpressionAttributeNames: { '#field': field },
          ExpressionAttributeValues: { ':value': plain(value) },
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) {
        throw new Error(`no state record for migration ${JSON.stringify(migrationId)}`, { cause: error });
      }
      throw error;
    }
  }
}
