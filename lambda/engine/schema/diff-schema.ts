/**
 * Schema differences between the source and the target, both ways, over the selected tables and the schemas they
 * are in (never the workflow's own schema or the system's): tables and columns, column defaults and generated
 * columns, constraints (primary key, unique, foreign key, CHECK, exclusion), indexes, triggers (and whether they
 * are enabled), partitions, views and materialized views (and whether the target's holds data), functions,
 * procedures and aggregates, domains and their constraints, enum labels and their order, sequences, extensions.
 */
import type { Pool } from 'pg';
import type { TableSelection } from '../../../contract';
import { readCatalog, type TableInfo } from '../catalog';
import { withCatalogSession, type CatalogClient } from './catalog-session';
import { compareColumnExpressions, readColumnExpressions } from './column-expressions';
import { compareConstraints, readConstraints } from './constraints';
import { compareDomains, readDomains } from './domains';
import { compareEnums, readEnums } from './enums';
import { compareExtensions, readExtensions } from './extensions';
import { compareIndexes, readIndexes } from './indexes';
import { comparePartitions, partitionNames, readPartitions } from './partitions';
import { compareRoutines, readRoutines } from './routines';
import { isExcludedSchema, schemasOf, type SideScope } from './scope';
import { compareSequenceObjects, readSequenceObjects } from './sequence-objects';
import { compareTables, sharedColumns } from './tables';
import { compareTriggers, readTriggers } from './triggers';
import { compareViews, readViews } from './views';
import type { SchemaReport } from '../validation/types';

/** Everything compared of one database, read in one snapshot (one query per kind of object). */
async function readSide(db: CatalogClient, scope: SideScope) {
  return {
    constraints: await readConstraints(db, scope),
    indexes: await readIndexes(db, scope),
    triggers: await readTriggers(db, scope),
    columns: await readColumnExpressions(db, scope),
    partitions: await readPartitions(db, scope),
    views: await readViews(db, scope),
    routines: await readRoutines(db, scope),
    domains: await readDomains(db, scope),
    enums: await readEnums(db, scope),
    sequences: await readSequenceObjects(db, scope),
    extensions: await readExtensions(db),
  };
}

const userTables = (tables: readonly TableInfo[]): TableInfo[] =>
  tables.filter((t) => !isExcludedSchema(t.name.schema));

export async function diffSchema(source: Pool, target: Pool, selection: TableSelection): Promise<SchemaReport> {
  const [sc, tc] = await Promise.all([readCatalog(source, selection), readCatalog(target, selection)]);
  const sourceTables = userTables(sc.tables);
  const targetTables = userTables(tc.tables);
  const schemas = schemasOf(sourceTables, targetTables);
  const pairs = sourceTables.flatMap((s) => {
    const t = tc.byName(s.name);
    return t ? [[s, t] as const] : [];
  });
  const [a, b] = await Promise.all([
    withCatalogSession(source, (db) => readSide(db, { schemas, tables: pairs.map(([s]) => s) })),
    withCatalogSession(target, (db) => readSide(db, { schemas, tables: pairs.map(([, t]) => t) })),
  ]);
  const differences = [
    ...compareTables(sourceTables, targetTables, {
      source: partitionNames(a.partitions),
      target: partitionNames(b.partitions),
    }),
    ...compareColumnExpressions(a.columns, b.columns, sharedColumns(pairs)),
    ...compareConstraints(a.constraints, b.constraints),
    ...compareIndexes(a.indexes, b.indexes),
    ...compareTriggers(a.triggers, b.triggers),
    ...comparePartitions(a.partitions, b.partitions, pairs),
    ...compareViews(a.views, b.views),
    ...compareRoutines(a.routines, b.routines),
    ...compareDomains(a.domains, b.domains),
    ...compareEnums(a.enums, b.enums),
    ...compareSequenceObjects(a.sequences, b.sequences),
    ...compareExtensions(a.extensions, b.extensions),
  ];
  const errors = differences.filter((d) => d.severity === 'error').length;
  return {
    ok: errors === 0,
    tablesChecked: sourceTables.length,
    schemas,
    errors,
    warnings: differences.length - errors,
    differences,
  };
}
