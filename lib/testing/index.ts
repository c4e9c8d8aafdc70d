/** Test utilities, exported for users' own operator tests. */
export { FIRST_SEQUENCE_NUMBER, WindowOperatorHarness, harnessShardId } from './harness.ts';
export type { HarnessOptions } from './harness.ts';
export {
  CrashingStateStore,
  FaultPlan,
  InjectedCrashError,
  SimulatedCrash,
  addFaultStats,
  faultyDeadLetter,
  faultyShardDirectory,
  faultySink,
  faultyStateStore,
} from './faults.ts';
export { seededRandom, zipfSampler } from './random.ts';
export { DynamoDbRecordingProxy } from './dynamodb-recording-proxy.ts';
export type {
  RecordedWrite,
  RecordingProxyOptions,
  WireAttribute,
  WireItem,
} from './dynamodb-recording-proxy.ts';
export type { CrashPoint, FaultPlanOptions, MethodStats } from './faults.ts';
export { SimulatedEsm, SimulatedKinesis } from './simulated-esm.ts';
export type {
  EsmStats,
  SimRecord,
  SimShard,
  SimulatedEsmOptions,
  SimulatedFunction,
} from './simulated-esm.ts';
