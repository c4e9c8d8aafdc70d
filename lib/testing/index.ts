/** Test utilities, exported for users' own operator tests. */
export { FIRST_SEQUENCE_NUMBER, WindowOperatorHarness, harnessShardId } from './harness.ts';
export type { HarnessOptions } from './harness.ts';
