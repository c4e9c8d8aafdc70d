/** Helpers of the in-memory state store's segmented scan (checkpoints). */
import { ConfigError } from '../../errors.ts';
import type { WindowScanRequest } from '../../ports/state-store.ts';

/** The scan segment of a key: FNV-1a (32 bit) of its UTF-16 code units modulo `totalSegments`. */
export function scanSegmentOf(key: string, totalSegments: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % totalSegments;
}

export function checkScanRequest(r: WindowScanRequest): void {
  if (!Number.isInteger(r.totalSegments) || r.totalSegments < 1 || r.totalSegments > 1_000_000)
    throw new ConfigError('totalSegments', r.totalSegments, 'must be an integer 1..1000000');
  if (!Number.isInteger(r.segment) || r.segment < 0 || r.segment >= r.totalSegments)
    throw new ConfigError('segment', r.segment, `must be an integer 0..${r.totalSegments - 1}`);
  if (!Number.isInteger(r.limit) || r.limit < 1)
    throw new ConfigError('limit', r.limit, 'must be a positive integer');
}

export function parseScanCursor(cursor: string): { key: string; start: number; end: number } {
  let v: unknown;
  try {
    v = JSON.parse(cursor);
  } catch {
    v = undefined;
  }
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    typeof v[0] !== 'string' ||
    typeof v[1] !== 'number' ||
    typeof v[2] !== 'number'
  )
    throw new ConfigError('cursor', cursor, 'must be a cursor returned by scanWindows');
  return { key: v[0], start: v[1], end: v[2] };
}
