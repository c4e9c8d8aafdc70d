/**
 * MappingControl over weir's local event source mapping: the same pause and
 * resume a restore asks of Lambda's mapping, on the mapping the local
 * runner runs (`LocalMappingRunner.esm`).
 *
 * @example
 * const control = new LocalMappingControl(runner.esm);
 * await control.pause(); // no batch starts; the one running has returned
 * // ... restore the state ...
 * await control.resume(); // each shard continues after its checkpoint
 */
import type { MappingControl } from '../../ports/mapping-control.ts';
import type { LocalEventSourceMapping } from './esm/local-esm.ts';

/** Pauses and resumes a {@link LocalEventSourceMapping}. */
export class LocalMappingControl implements MappingControl {
  constructor(private readonly esm: Pick<LocalEventSourceMapping, 'pause' | 'resume'>) {}

  pause(): Promise<void> {
    return this.esm.pause();
  }

  resume(): Promise<void> {
    this.esm.resume();
    return Promise.resolve();
  }
}
