export * from './target/aurora-target';
export * from './replication/dms-replication';
export * from './monitoring/migration-monitoring';
export * from './cutover/cutover-workflow';
export * from './cutover/traffic-switch';
export * from './zero-downtime-migration';
export * from './tables';
