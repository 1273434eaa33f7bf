/**
 * A figure a test measured (sizes, durations), printed only when asked (`ZDM_TEST_FIGURES=1 npm test`): `npm test`
 * prints results, not figures. Benchmarks under bench/ print theirs always.
 */
export function figures(line: string): void {
  if (process.env.ZDM_TEST_FIGURES) process.stdout.write(`${line}\n`);
}
