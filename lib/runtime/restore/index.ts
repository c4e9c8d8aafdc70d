/** Restore + replay (`weir restore`): lib/runtime/restore/restore.ts. */
export * from './restore.ts';
export * from './replay.ts';
export * from './kinesis-replay-source.ts';
export * from './lambda-mapping.ts';
export * from './retract.ts';
