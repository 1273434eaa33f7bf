/**
 * The phases of a cutover, in order, as the state store records them and the rehearsal reports them. The write
 * freeze runs from freezeWrites to switchTraffic (the point of no return); everything after it runs while the
 * application already writes to the target. The read switch (switchReads) runs before the approval gate;
 * revertReads runs on rollback or on its own (`mode: "revert-reads"`).
 */
export const PHASES = [
  'preflight',
  'startTracking',
  'preValidation',
  'waitForSync',
  'switchReads',
  'approval',
  'freezeWrites',
  'finalSync',
  'changeProof',
  'sequences',
  'switchTraffic',
  'stopReplication',
  'lateWrites',
  'postValidation',
  'dropTracking',
  'done',
  'revertReads',
] as const;
export type PhaseName = (typeof PHASES)[number];

/** Phases inside the write freeze, in order: their total is what the application waits. */
export const FREEZE_PHASES: readonly PhaseName[] = PHASES.slice(
  PHASES.indexOf('freezeWrites'),
  PHASES.indexOf('switchTraffic') + 1,
);
