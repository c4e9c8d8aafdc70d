/**
 * Tiny helpers shared across the library's folders (sleep, bounded fan-out). This folder imports
 * nothing but lib/errors.ts, so any folder may import it.
 */
export { sleep } from './sleep.ts';
export { mapSettled } from './map-settled.ts';
