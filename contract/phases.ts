/**
 * The phases of a cutover, in order, as the state store records them and the rehearsal reports them. The write
 * freeze runs from freezeWrites to switchTraffic (the point of no return); everything after it runs while the
 * application already writes to the target. The read switch (switchReads) runs before the approval gate;
 * revertReads runs on rollback or on its own (`mode: "revert-reads"`). The way back: prepareReverse (cutover, just before
 * the freeze) creates the reverse slot, armReverse (inside the freeze) records where it starts, startReverse (after the
 * forward stop) advances the slot there and starts the reverse replication; the fallback
 * runs the same phases the other way, with reopenSource (the old source's roles restored) before its switch, and
 * endFallbackWindow closes the way back.
 */
export const PHASES = [
  'preflight',
  'startTracking',
  'preValidation',
  'waitForSync',
  'switchReads',
  'approval',
  'prepareReverse',
  'freezeWrites',
  'finalSync',
  'changeProof',
  'sequences',
  'armReverse',
  'reopenSource',
  'switchTraffic',
  'stopReplication',
  'startReverse',
  'lateWrites',
  'postValidation',
  'dropTracking',
  'done',
  'revertReads',
  'endFallbackWindow',
] as const;
export type PhaseName = (typeof PHASES)[number];

/** Phases inside the write freeze, in order: their total is what the application waits. */
export const FREEZE_PHASES: readonly PhaseName[] = PHASES.slice(
  PHASES.indexOf('freezeWrites'),
  PHASES.indexOf('switchTraffic') + 1,
);
