import type { TableName } from '../../../contract';

/** Quotes an identifier for SQL. Any name is safe, `x"; drop table y; --` included. */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw new Error(`invalid SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`, both parts quoted. */
export function qualify(name: TableName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/** Quotes a string literal (standard_conforming_strings on, as it is by default since 9.1). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('string literal contains a NUL character');
  return `'${value.replace(/'/g, "''")}'`;
}
