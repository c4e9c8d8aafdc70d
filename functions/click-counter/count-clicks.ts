/**
 * Pure part of the click counter: groups a Kinesis batch into counts per
 * (page, event-time minute), and per shard, without touching AWS.
 */
import type { KinesisStreamRecord } from 'aws-lambda';

/** One (page, minute) group of a batch. */
export interface WindowCount {
  readonly page: string;
  readonly minuteStart: number;
  count: number;
  /** Lowest sequence number among the group's records (where a retry must resume). */
  firstSequenceNumber: string;
}

/** What one shard contributed to a batch. */
export interface ShardCount {
  records: number;
  deadLettered: number;
  firstSequenceNumber: string;
}

/** Counts of one batch. */
export interface ClickCounts {
  readonly perWindow: Map<string, WindowCount>;
  readonly perShard: Map<string, ShardCount>;
}

const MINUTE = 60_000;

/**
 * Decodes each record as JSON `{ page: string, ts: number }` and counts it.
 * A record that is not such JSON is counted as dead-lettered for its shard
 * (never dropped silently) and logged with its position and reason.
 */
export function countClicks(records: readonly KinesisStreamRecord[]): ClickCounts {
  const perWindow = new Map<string, WindowCount>();
  const perShard = new Map<string, ShardCount>();
  for (const r of records) {
    const seq = r.kinesis.sequenceNumber;
    const shardId = r.eventID.split(':')[0] ?? 'unknown';
    const shard = perShard.get(shardId) ?? { records: 0, deadLettered: 0, firstSequenceNumber: seq };
    perShard.set(shardId, shard);
    shard.records += 1;
    if (BigInt(seq) < BigInt(shard.firstSequenceNumber)) shard.firstSequenceNumber = seq;
    const click = decodeClick(r.kinesis.data);
    if (typeof click === 'string') {
      shard.deadLettered += 1;
      console.error(JSON.stringify({ msg: 'dead-letter', shardId, sequenceNumber: seq, reason: click }));
      continue;
    }
    const minuteStart = Math.floor(click.ts / MINUTE) * MINUTE;
    const key = `${click.page}\u0000${minuteStart}`;
    const g = perWindow.get(key);
    if (g) {
      g.count += 1;
      if (BigInt(seq) < BigInt(g.firstSequenceNumber)) g.firstSequenceNumber = seq;
    } else {
      perWindow.set(key, { page: click.page, minuteStart, count: 1, firstSequenceNumber: seq });
    }
  }
  return { perWindow, perShard };
}

/** Returns the click, or the reason it is not one. */
function decodeClick(base64: string): { page: string; ts: number } | string {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const { page, ts } = value as { page?: unknown; ts?: unknown };
  if (typeof page !== 'string' || page === '') return 'field "page" must be a non-empty string';
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) return 'field "ts" must be epoch milliseconds';
  return { page, ts };
}
