/**
 * Tiny helpers shared across the library's folders: sleep, bounded fan-out,
 * size-limited chunks, integer options. This folder imports nothing but
 * lib/errors.ts, so any folder may import it.
 */
export { sleep } from './sleep.ts';
export { mapSettled } from './map-settled.ts';
export { chunksBySize } from './chunks.ts';
export { intOption } from './int-option.ts';
