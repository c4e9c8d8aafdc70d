/**
 * Turns the records of a Lambda Kinesis event into the engine's
 * {@link SourceRecord}s: base64 decoded, KPL aggregates de-aggregated (one
 * user record per sub-sequence number), arrival time in epoch ms. A broken
 * aggregate becomes a dead letter with its reason; it never blocks the
 * shard.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { deaggregate, KplDecodeError } from '../../kinesis/kpl.ts';
import { position, shardId as toShardId, type ShardId } from '../../model/position.ts';
import { DeadLetterKind, type DeadLetter, type SourceRecord } from '../../model/records.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One shard's part of an event, in delivery order. */
export interface ShardBatch {
  readonly shardId: ShardId;
  readonly records: SourceRecord[];
  /** Kinesis sequence numbers of the event's records for this shard, in order (for batchItemFailures). */
  readonly sequenceNumbers: string[];
  /** Records that could not even be turned into source records (broken KPL aggregates). */
  readonly deadLetters: DeadLetter[];
}

/** Splits an event by shard (an ESM batch holds one shard, but nothing here relies on it). */
export function shardBatchesFromEvent(
  records: readonly KinesisStreamRecord[],
  operator: string,
  now: number,
): ShardBatch[] {
  const byShard = new Map<ShardId, ShardBatch>();
  for (const r of records) {
    const shardId = shardIdOfEventId(r.eventID);
    let batch = byShard.get(shardId);
    if (!batch) {
      batch = { shardId, records: [], sequenceNumbers: [], deadLetters: [] };
      byShard.set(shardId, batch);
    }
    const seq = r.kinesis.sequenceNumber;
    batch.sequenceNumbers.push(seq);
    if (!BASE64.test(r.kinesis.data)) {
      // Lambda always sends valid base64; a hand-built or corrupted event may not. Never guess the bytes.
      batch.deadLetters.push({
        operator,
        position: position(shardId, seq, 0),
        data: new Uint8Array(Buffer.from(r.kinesis.data, 'utf8')),
        reason: 'kinesis.data is not valid base64 (the raw field is stored as UTF-8 text)',
        kind: DeadLetterKind.Decode,
        at: now,
      });
      continue;
    }
    const data = Buffer.from(r.kinesis.data, 'base64');
    const arrival = Math.round(r.kinesis.approximateArrivalTimestamp * 1000);
    try {
      for (const u of deaggregate({
        data,
        partitionKey: r.kinesis.partitionKey,
        sequenceNumber: seq,
      })) {
        batch.records.push({
          position: position(shardId, seq, u.subSequenceNumber),
          data: u.data,
          partitionKey: u.partitionKey,
          approximateArrivalTimestamp: arrival,
        });
      }
    } catch (err) {
      if (!(err instanceof KplDecodeError)) throw err;
      batch.deadLetters.push({
        operator,
        position: position(shardId, seq, 0),
        data: new Uint8Array(data),
        reason: err.message,
        kind: DeadLetterKind.Kpl,
        error: err.reason,
        at: now,
      });
    }
  }
  return [...byShard.values()];
}

/** `shardId-000000000001:4959...` → `shardId-000000000001`. */
export function shardIdOfEventId(eventId: string): ShardId {
  const i = eventId.lastIndexOf(':');
  return toShardId(i > 0 ? eventId.slice(0, i) : eventId);
}
