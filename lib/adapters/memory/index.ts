/** In-memory adapters for fast tests. */
export { InMemoryStateStore } from './in-memory-state-store.ts';
export { InMemoryCheckpointStore, InMemoryObjects } from './in-memory-checkpoint-store.ts';
export { ScanningWindowCounter } from './scanning-window-counter.ts';
