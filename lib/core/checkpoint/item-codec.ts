/**
 * The stable text form of a window item in a checkpoint part: one JSON
 * object per line (NDJSON), fields in a fixed order, `absorbed` shards sorted,
 * so equal items give equal lines whatever store they came from. It is the
 * LOGICAL item of the StateStore port, not a store's attributes, so a
 * checkpoint taken from DynamoDB restores into memory (and back), and a
 * human can read it with `zcat part-00000.ndjson.gz | head`.
 *
 *     {"key":"/home","start":0,"end":60000,"accumulator":3,"absorbed":{"shardId-000000000000":"000…049.0000000000"},
 *      "firedVersion":0,"pending":true,"cleanupAt":89999,"revision":4,"purged":false,"supersedes":[],"outbox":null}
 *
 * Accumulators and outbox values are JSON already (the port's `JsonValue`),
 * with the same limits as in the state table: no NaN, no Infinity, -0 reads
 * back as 0.
 */
import type { JsonValue } from '../../model/json.ts';
import type { TimeWindow } from '../../model/time-window.ts';
import type { OutboxEntry, WindowItem } from '../../ports/state-store.ts';

/** One window item as one line (no line terminator). */
export function encodeCheckpointItem(item: WindowItem): string {
  const absorbed: Record<string, string> = {};
  for (const shard of Object.keys(item.absorbed).sort()) {
    absorbed[shard] = item.absorbed[shard] as string;
  }
  return JSON.stringify({
    key: item.key,
    start: item.start,
    end: item.end,
    accumulator: item.accumulator,
    absorbed,
    firedVersion: item.firedVersion,
    pending: item.pending,
    cleanupAt: item.cleanupAt,
    revision: item.revision,
    purged: item.purged,
    supersedes: item.supersedes.map(window),
    outbox:
      item.outbox === null
        ? null
        : {
            // Generation 0 writes the line it always wrote (format 1 unchanged).
            ...(item.outbox.generation > 0 ? { generation: item.outbox.generation } : {}),
            version: item.outbox.version,
            value: item.outbox.value,
            supersedes: item.outbox.supersedes.map(window),
            firedAt: item.outbox.firedAt,
          },
  });
}

/**
 * Reads a line back. Throws a `TypeError` saying which field is wrong; the
 * checkpoint reader turns it into a `CheckpointError` naming part and line.
 */
export function decodeCheckpointItem(line: string): WindowItem {
  const v: unknown = JSON.parse(line);
  const o = record(v, 'item');
  // Fields are checked in line order, so the message names the first bad one.
  const key = string(o['key'], 'key');
  const start = finite(o['start'], 'start');
  const end = finite(o['end'], 'end');
  const accumulator = json(o['accumulator'], 'accumulator');
  const absorbedIn = record(o['absorbed'], 'absorbed');
  const absorbed: Record<string, string> = {};
  for (const shard of Object.keys(absorbedIn)) {
    absorbed[shard] = string(absorbedIn[shard], `absorbed.${shard}`);
  }
  return {
    key,
    start,
    end,
    accumulator,
    absorbed,
    firedVersion: finite(o['firedVersion'], 'firedVersion'),
    pending: boolean(o['pending'], 'pending'),
    cleanupAt: finite(o['cleanupAt'], 'cleanupAt'),
    revision: finite(o['revision'], 'revision'),
    purged: boolean(o['purged'], 'purged'),
    supersedes: windows(o['supersedes'], 'supersedes'),
    outbox: o['outbox'] === null ? null : outbox(o['outbox']),
  };
}

function window(w: TimeWindow): TimeWindow {
  return { start: w.start, end: w.end };
}

function outbox(v: unknown): OutboxEntry {
  const o = record(v, 'outbox');
  const g = o['generation'];
  return {
    generation: g === undefined ? 0 : finite(g, 'outbox.generation'),
    version: finite(o['version'], 'outbox.version'),
    value: json(o['value'], 'outbox.value'),
    supersedes: windows(o['supersedes'], 'outbox.supersedes'),
    firedAt: finite(o['firedAt'], 'outbox.firedAt'),
  };
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`${what} is not an object`);
  }
  return v as Record<string, unknown>;
}
function string(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`${what} is not a string`);
  return v;
}
function finite(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${what} is not a number`);
  return v;
}
function boolean(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${what} is not a boolean`);
  return v;
}
function json(v: unknown, what: string): JsonValue {
  if (v === undefined) throw new TypeError(`${what} is missing`);
  return v as JsonValue;
}
function windows(v: unknown, what: string): readonly TimeWindow[] {
  if (!Array.isArray(v)) throw new TypeError(`${what} is not a list`);
  return v.map((w, i) => {
    const o = record(w, `${what}[${i}]`);
    return {
      start: finite(o['start'], `${what}[${i}].start`),
      end: finite(o['end'], `${what}[${i}].end`),
    };
  });
}
