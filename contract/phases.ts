/** Phases of a cutover, as the state store records them and the rehearsal reports them. */
/** The phases of a cutover, in order. */
export const PHASES = [
  'preflight',
  'preValidation',
  'waitForSync',
  'approval',
  'freezeWrites',
  'finalSync',
  'stopReplication',
  'sequences',
  'postValidation',
  'switchTraffic',
  'done',
] as const;
export type PhaseName = (typeof PHASES)[number];
