/** The StateStore contract against the reference adapter. */
import { InMemoryStateStore } from '../../lib/adapters/memory/in-memory-state-store.ts';
import { describeStateStoreContract } from './state-store.contract.ts';

describeStateStoreContract('InMemoryStateStore', () => new InMemoryStateStore());
