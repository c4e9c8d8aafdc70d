/** Helpers of the in-memory state store's segmented scan (checkpoints). */
import { ConfigError } from '../../errors.ts';
import type { WindowItem, WindowScanPage, WindowScanRequest } from '../../ports/state-store.ts';
import type { Items, KeyEntry } from './in-memory-state-index.ts';

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

/**
 * One page of a segment of `items` (see InMemoryStateStore.scanWindows): a
 * key belongs to segment FNV-1a(key) mod `totalSegments`; items come in
 * (key, start, end) order after the cursor.
 */
export function scanPage(items: Items, request: WindowScanRequest): WindowScanPage {
  checkScanRequest(request);
  const { segment, totalSegments, limit } = request;
  const after = request.cursor === null ? undefined : parseScanCursor(request.cursor);
  const keys: string[] = [];
  for (const key of items.keys()) {
    if (scanSegmentOf(key, totalSegments) !== segment) continue;
    if (after === undefined || key >= after.key) keys.push(key);
  }
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: WindowItem[] = [];
  let more = false;
  for (const key of keys) {
    const e = items.get(key) as KeyEntry;
    const own = [...e.open, ...(e.tombs ?? [])]
      .map((s) => s.item as WindowItem)
      .filter(
        (it) =>
          after === undefined ||
          key > after.key ||
          it.start > after.start ||
          (it.start === after.start && it.end > after.end),
      )
      .sort((a, b) => a.start - b.start || a.end - b.end);
    for (const it of own) {
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(it);
    }
    if (more) break;
  }
  const last = out.at(-1);
  return {
    items: out,
    cursor: more && last !== undefined ? JSON.stringify([last.key, last.start, last.end]) : null,
  };
}
