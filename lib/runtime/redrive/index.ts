/** `weir redrive`: ranges an event source mapping gave up on, read back and applied exactly once. */
export * from './failed-batches.ts';
export * from './kinesis-range.ts';
export * from './redrive.ts';
