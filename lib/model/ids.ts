/**
 * Deterministic ids of what weir emits. The same input always gives the same
 * id, so a retried batch or a re-driven outbox writes the same id again:
 * sinks that can condition their writes turn that into a no-op, the others
 * (Kinesis) deliver it again and consumers dedupe by id. Names are
 * URI-encoded, so the separators can never occur inside them and different
 * inputs never collide.
 */
import { encodeOffset } from './position.ts';
import type { DeadLetter, LateRecord, WindowResult } from './records.ts';
import type { TimeWindow } from './time-window.ts';

/** Keys whose URI encoding {@link ResultIds} keeps. */
const KEY_CACHE = 10_000;

/**
 * The parts of a {@link resultId}, in order (the ordering follows the last
 * one: `<version>` in generation 0, `g<generation>v<version>` otherwise), for
 * a caller that builds many ids and caches the parts they share
 * ({@link ResultIds}).
 */
export const resultIdPart = {
  /** `<operator>/`, URI-encoded. */
  operator: (operator: string): string => encodeURIComponent(operator) + '/',
  /** `<key>/`, URI-encoded. */
  key: (key: string): string => encodeURIComponent(key) + '/',
  /** `<start>-<end>/`. */
  window: (start: number, end: number): string => String(start) + '-' + String(end) + '/',
  /** `v<version>` in generation 0 (the format from before restores), `g<generation>v<version>` after. */
  ordering: (generation: number, version: number): string =>
    generation === 0 ? 'v' + String(version) : 'g' + String(generation) + 'v' + String(version),
} as const;

/**
 * The deterministic id of a result: the same (operator, key, window,
 * generation, version) always gives the same id, and different ones never
 * collide. Generation 0 (no restore yet) keeps the format ids had before
 * restores existed; a restore's generation adds `g<generation>` before the
 * version (docs/recovery.md, "Corrections").
 *
 * @example
 * resultId('clicks', 'user-1', { start: 0, end: 60000 }, 1);
 * // "clicks/user-1/0-60000/v1"
 * resultId('clicks', 'user-1', { start: 0, end: 60000 }, 1, 2);
 * // "clicks/user-1/0-60000/g2v1"
 */
export function resultId(
  operator: string,
  key: string,
  window: TimeWindow,
  version: number,
  generation = 0,
): string {
  return (
    resultIdPart.operator(operator) +
    resultIdPart.key(key) +
    resultIdPart.window(window.start, window.end) +
    resultIdPart.ordering(generation, version)
  );
}

/**
 * Builds the ids {@link resultId} builds, from the same parts, with the
 * operator part and recent keys' parts cached: firing builds one id per
 * window, on the hot path.
 */
export class ResultIds {
  private readonly prefix: string;
  private readonly keys = new Map<string, string>();
  /** `<start>-<end>/` of the last window asked for (firing goes window by window). */
  private bounds = '';
  private lastStart = NaN;
  private lastEnd = NaN;

  constructor(operator: string) {
    this.prefix = resultIdPart.operator(operator);
  }

  /** The id of (key, [start, end), version, generation); equals `resultId(operator, key, { start, end }, version, generation)`. */
  of(key: string, start: number, end: number, version: number, generation = 0): string {
    let k = this.keys.get(key);
    if (k === undefined) {
      if (this.keys.size >= KEY_CACHE) this.keys.clear();
      k = resultIdPart.key(key);
      this.keys.set(key, k);
    }
    if (start !== this.lastStart || end !== this.lastEnd) {
      this.lastStart = start;
      this.lastEnd = end;
      this.bounds = resultIdPart.window(start, end);
    }
    return this.prefix + k + this.bounds + resultIdPart.ordering(generation, version);
  }
}

/**
 * Builds a {@link WindowResult} with its id filled in.
 *
 * @example
 * const r = windowResult({ operator: 'clicks', key: 'u1', window: { start: 0, end: 60000 }, value: 3, version: 1 });
 */
export function windowResult<OUT>(fields: Omit<WindowResult<OUT>, 'id'>): WindowResult<OUT> {
  return {
    ...fields,
    id: resultId(
      fields.operator,
      fields.key,
      fields.window,
      fields.version,
      fields.generation ?? 0,
    ),
  };
}

/**
 * The deterministic id of a late-output item: (operator, output, shard,
 * offset and its window, as a late-data sink stores one item per window). A
 * retried batch produces the same id.
 */
export function lateRecordId(
  record: Pick<LateRecord, 'operator' | 'output' | 'position' | 'windows'>,
): string {
  const p = record.position;
  let w = '';
  for (const x of record.windows) w += `/${x.start}-${x.end}`;
  return (
    `${encodeURIComponent(record.operator)}/${encodeURIComponent(record.output)}/` +
    `${encodeURIComponent(p.shardId)}/${p.sequenceNumber}.${p.subSequenceNumber}${w}`
  );
}

/** The deterministic identity of a dead letter: one per (operator, record position). */
export function deadLetterId(deadLetter: Pick<DeadLetter, 'operator' | 'position'>): string {
  return `${encodeURIComponent(deadLetter.operator)}/${encodeURIComponent(deadLetter.position.shardId)}/${encodeOffset(deadLetter.position)}`;
}
