/**
 * Checkpoint ids: `<epoch ms of the capture, 16 digits>-<8 lowercase hex>`,
 * for example `0001767225600000-3f9a1c0b`.
 *
 * - They sort as strings in the order their positions were captured (the
 *   time part is fixed-width), so "latest" is the greatest folder name, a
 *   listing rather than a read of every manifest. Within one millisecond the
 *   random part orders them arbitrarily; both are then equally recent.
 * - Two takers never pick the same id: the random part has 2^32 values per
 *   millisecond. (A checkpoint also never overwrites a manifest: S3's
 *   `If-None-Match` guards that on AWS.)
 * - 16 digits cover every epoch ms up to the year 318857, and ms before 1970
 *   are not processing times.
 */
import { ConfigError } from '../errors.ts';

const ID = /^[0-9]{16}-[0-9a-f]{8}$/;

/** Whether `id` is a well-formed checkpoint id. */
export function isCheckpointId(id: string): boolean {
  return ID.test(id);
}

/**
 * A new checkpoint id for a capture at `epochMs`.
 *
 * @param random returns [0, 1); injectable so tests get fixed ids.
 * @example
 * newCheckpointId(clock.now()) // '0001767225600000-3f9a1c0b'
 */
export function newCheckpointId(epochMs: number, random: () => number = Math.random): string {
  if (!Number.isSafeInteger(epochMs) || epochMs < 0) {
    throw new ConfigError('epochMs', epochMs, 'must be a non-negative integer (epoch ms)');
  }
  const suffix = Math.floor(random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
  return `${String(epochMs).padStart(16, '0')}-${suffix.slice(-8)}`;
}

/** The capture time (epoch ms) an id carries. */
export function checkpointIdTime(id: string): number {
  return Number(id.slice(0, 16));
}
