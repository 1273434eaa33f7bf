import { Annotations, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Prefix of every warning this library raises (`Annotations.addWarningV2`). */
export const WARNING_PREFIX = 'zero-downtime-migration';

export function warn(scope: IConstruct, id: string, message: string): void {
  Annotations.of(scope).addWarningV2(`${WARNING_PREFIX}:${id}`, message);
}

function isToken(value: unknown): boolean {
  return (typeof value === 'string' || typeof value === 'number') && Token.isUnresolved(value);
}

/** A value for an error message: `a token` for one resolved only at deploy time, never `${Token[...]}`. */
export function shown(value: unknown): string {
  if (isToken(value)) return 'a token';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Throws when `value` is a resolved number outside [min, max] or not an integer (when `integer`). */
export function assertNumberInRange(
  what: string,
  value: number | undefined,
  min: number,
  max: number,
  integer = true,
): void {
  if (value === undefined || isToken(value)) return;
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new Error(
      `${what} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got ${JSON.stringify(value)}`,
    );
  }
}

/** Throws when a resolved number is not strictly positive. */
export function assertPositive(what: string, value: number | undefined): void {
  if (value === undefined || isToken(value)) return;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new Error(`${what} must be greater than 0, got ${JSON.stringify(value)}`);
  }
}

/** Throws when a resolved string is empty. */
export function assertNonEmpty(what: string, value: string | undefined): void {
  if (value === undefined || isToken(value)) return;
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new Error(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function assertEmail(what: string, value: string): void {
  if (isToken(value)) return;
  if (typeof value !== 'string' || !EMAIL.test(value)) {
    throw new Error(`${what} must be an e-mail address, got ${JSON.stringify(value)}`);
  }
}

/** DMS replication instance classes are `dms.<family>.<size>`, e.g. `dms.t3.medium`, `dms.r6i.2xlarge`. */
const DMS_INSTANCE_CLASS = /^dms\.[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal)$/;

export function assertDmsInstanceClass(value: string): void {
  if (isToken(value)) return;
  if (typeof value !== 'string' || !DMS_INSTANCE_CLASS.test(value)) {
    throw new Error(
      `replicationInstanceClass must be a DMS replication instance class of the form dms.<family>.<size> (e.g. dms.r6i.large), got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * Turns a construct-path based name into a valid DMS / RDS identifier: lowercase letters, digits and
 * hyphens, starting with a letter, no two consecutive hyphens, no trailing hyphen, at most `maxLength`.
 */
export function toDmsIdentifier(raw: string, maxLength = 63): string {
  let id = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-');
  if (!/^[a-z]/.test(id)) id = `zdm-${id}`;
  if (id.length > maxLength) {
    // keep the (unique) hash at the end that Names.uniqueResourceName appends
    id = id.slice(0, maxLength - 9) + id.slice(-9);
  }
  return id.replace(/-+/g, '-').replace(/-$/, '');
}

const DMS_IDENTIFIER = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}$/;

export function assertDmsIdentifier(what: string, value: string | undefined): void {
  if (value === undefined || isToken(value)) return;
  if (!DMS_IDENTIFIER.test(value) || value.endsWith('-')) {
    throw new Error(
      `${what} must be 1 to 63 letters, digits or hyphens, start with a letter, and contain no two consecutive hyphens or a trailing hyphen, got ${JSON.stringify(value)}`,
    );
  }
}
