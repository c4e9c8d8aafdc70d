/** In-memory adapters for fast tests. */
export { InMemoryStateStore, InjectedCrashError } from './in-memory-state-store.ts';
