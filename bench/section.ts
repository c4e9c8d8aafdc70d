/**
 * The shape of one benchmark section. Sections import this module, and
 * bench/run.ts imports the sections: no section imports the runner.
 */

/** One group of benchmark figures, run by `npm run bench` (bench/run.ts). */
export interface BenchSection {
  /** The name `BENCH_ONLY` selects it by. */
  readonly name: string;
  /** Measures and resolves to named figures (merged into bench/results.json). */
  run(): Promise<Record<string, number>>;
}
