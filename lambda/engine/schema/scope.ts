import { SYSTEM_SCHEMAS, ZDM_SCHEMA } from '../../../contract';
import type { TableInfo } from '../catalog';

/** What one database's readers look at: the schemas compared, and that database's tables present on both sides. */
export interface SideScope {
  readonly schemas: readonly string[];
  readonly tables: readonly TableInfo[];
}

/** Schemas never compared: the system's, and the one the cutover workflow owns (its marker table). */
export function isExcludedSchema(schema: string): boolean {
  return (
    schema === ZDM_SCHEMA ||
    SYSTEM_SCHEMAS.includes(schema) ||
    schema.startsWith('pg_temp') ||
    schema.startsWith('pg_toast')
  );
}

/** The schemas of the selected tables on either database, sorted. */
export function schemasOf(...tableLists: readonly (readonly TableInfo[])[]): string[] {
  const names = new Set(tableLists.flatMap((tables) => tables.map((t) => t.name.schema)));
  return [...names].filter((s) => !isExcludedSchema(s)).sort();
}

/** `table.oid → table` of one side. */
export function tablesByOid(scope: SideScope): Map<number, TableInfo> {
  return new Map(scope.tables.map((t) => [t.oid, t]));
}

export const oidsOf = (scope: SideScope): number[] => scope.tables.map((t) => t.oid);
