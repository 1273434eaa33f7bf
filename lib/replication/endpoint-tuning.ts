import { Duration, Size } from 'aws-cdk-lib';
import { assertNumberInRange } from '../private/validation';

/** The PostgreSQL endpoint and task options the forward and the reverse replication share. */
export interface EndpointTuningOptions {
  readonly heartbeatEnabled?: boolean;
  readonly heartbeatFrequency?: Duration;
  readonly heartbeatSchema?: string;
  readonly captureDdls?: boolean;
  readonly maxFileSize?: Size;
  readonly executeTimeout?: Duration;
  readonly failTasksOnLobTruncation?: boolean;
  readonly lobMaxSize?: Size;
}

/** Those options checked and in DMS units, once, for every endpoint and task that uses them. */
export interface EndpointTuning {
  /** `PostgreSqlSettings` of an endpoint that reads changes (the forward source, the reverse's Aurora). */
  readonly source: {
    readonly heartbeatEnable: boolean;
    readonly heartbeatFrequency: number;
    readonly heartbeatSchema?: string;
    readonly captureDdls: boolean;
    readonly maxFileSize: number;
    readonly executeTimeout: number;
    readonly failTasksOnLobTruncation: boolean;
    readonly mapBooleanAsBoolean: boolean;
  };
  /** `PostgreSqlSettings` of an endpoint that applies them. */
  readonly target: {
    readonly maxFileSize: number;
    readonly executeTimeout: number;
    readonly mapBooleanAsBoolean: boolean;
  };
  readonly lobMaxSizeKiB: number;
}

/**
 * `MapBooleanAsBoolean` on every PostgreSQL endpoint, source and target alike. DMS documents (PostgreSQLSettings in the
 * DMS API reference): "When true, lets PostgreSQL migrate the boolean type as boolean. By default, PostgreSQL migrates
 * booleans as varchar(5). You must set this setting on both the source and target endpoints for it to take effect."
 * Left at its default, a `boolean` travels as the text 'true'/'false': a table DMS creates (DROP_AND_CREATE) gets a
 * `varchar(5)` column, and DMS validation compares text with the boolean the target holds. Both directions of this
 * construct are PostgreSQL to PostgreSQL with the same schema, so a boolean stays a boolean: true, deliberately.
 */
const MAP_BOOLEAN_AS_BOOLEAN = true;

export function endpointTuning(options: EndpointTuningOptions): EndpointTuning {
  const lobMaxSizeKiB = (options.lobMaxSize ?? Size.kibibytes(32)).toKibibytes();
  assertNumberInRange('lobMaxSize (KiB)', lobMaxSizeKiB, 1, 102400);
  const heartbeatMinutes = (options.heartbeatFrequency ?? Duration.minutes(5)).toMinutes();
  assertNumberInRange('heartbeatFrequency (minutes)', heartbeatMinutes, 1, 1440);
  const maxFileSize = (options.maxFileSize ?? Size.mebibytes(32)).toKibibytes();
  assertNumberInRange('maxFileSize (KiB)', maxFileSize, 1, 1048576);
  const executeTimeout = (options.executeTimeout ?? Duration.seconds(60)).toSeconds();
  assertNumberInRange('executeTimeout (seconds)', executeTimeout, 1, 86400);
  return {
    source: {
      heartbeatEnable: options.heartbeatEnabled ?? true,
      heartbeatFrequency: heartbeatMinutes,
      heartbeatSchema: options.heartbeatSchema,
      captureDdls: options.captureDdls ?? false,
      maxFileSize,
      executeTimeout,
      failTasksOnLobTruncation: options.failTasksOnLobTruncation ?? true,
      mapBooleanAsBoolean: MAP_BOOLEAN_AS_BOOLEAN,
    },
    target: { maxFileSize, executeTimeout, mapBooleanAsBoolean: MAP_BOOLEAN_AS_BOOLEAN },
    lobMaxSizeKiB,
  };
}
