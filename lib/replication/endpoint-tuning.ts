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
  };
  /** `PostgreSqlSettings` of an endpoint that applies them. */
  readonly target: { readonly maxFileSize: number; readonly executeTimeout: number };
  readonly lobMaxSizeKiB: number;
}

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
    },
    target: { maxFileSize, executeTimeout },
    lobMaxSizeKiB,
  };
}
