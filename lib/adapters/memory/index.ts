/** In-memory adapters for fast tests. */
export { InMemoryStateStore } from './in-memory-state-store.ts';
