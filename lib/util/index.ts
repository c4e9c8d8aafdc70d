/**
 * Tiny helpers shared across the library's folders. This folder imports
 * nothing but lib/errors.ts, so any folder may import it.
 */
export { sleep } from './sleep.ts';
