/**
 * The contract between the constructs (lib/, synth time) and the runtime (lambda/, cli/, rehearsal/): names and
 * shapes both sides must agree on. Dependency-free: no AWS SDK, no CDK, no pg.
 */
export * from './cutover';
export * from './database';
export * from './environment';
export * from './metrics';
export * from './phases';
export * from './roles';
export * from './state-names';
export * from './steps';
export * from './table-selection';
