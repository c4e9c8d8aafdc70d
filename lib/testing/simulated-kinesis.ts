/**
 * An in-memory Kinesis stream, for fault-injection tests of the operator
 * runtime (driven by {@link SimulatedEsm} in simulated-esm.ts): shards
 * holding records with realistic 56-digit sequence numbers; resharding by
 * split (one parent, two children) and merge (two parents, one child), the
 * parents closed, the children open. It is also the runtime's
 * {@link ShardDirectory}.
 */
import type { ManualClock } from '../ports/clock.ts';
import { shardId as toShardId, type SequenceNumber, type ShardId } from '../model/position.ts';
import type { ShardDirectory, ShardInfo } from '../ports/shard-directory.ts';
import type { StreamRecordInput } from '../runtime/local/esm/kinesis-event.ts';

/** One record of a simulated shard. */
export interface SimRecord extends StreamRecordInput {
  readonly shardId: ShardId;
  /** Index in its shard. */
  readonly index: number;
}

/** One simulated shard. */
export interface SimShard {
  readonly shardId: ShardId;
  readonly parentShardId?: ShardId;
  readonly adjacentParentShardId?: ShardId;
  closed: boolean;
  readonly records: SimRecord[];
}

/** First sequence number of the stream (56 digits, like real Kinesis ones). */
const FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898n;

/** An in-memory Kinesis stream with resharding; also a {@link ShardDirectory}. */
export class SimulatedKinesis implements ShardDirectory {
  readonly shards: SimShard[] = [];
  readonly streamArn: string;
  private seq = FIRST_SEQUENCE;

  constructor(
    private readonly clock: ManualClock,
    streamName = 'weir-sim',
  ) {
    this.streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`;
  }

  /** Creates an open shard (no parents: an initial shard). */
  createShard(parents: readonly ShardId[] = []): SimShard {
    const s: SimShard = {
      shardId: toShardId(`shardId-${String(this.shards.length).padStart(12, '0')}`),
      ...(parents[0] === undefined ? {} : { parentShardId: parents[0] }),
      ...(parents[1] === undefined ? {} : { adjacentParentShardId: parents[1] }),
      closed: false,
      records: [],
    };
    this.shards.push(s);
    return s;
  }

  shard(shardId: ShardId): SimShard {
    const s = this.shards.find((x) => x.shardId === shardId);
    if (s === undefined) throw new Error(`no shard ${shardId}`);
    return s;
  }

  /** Appends a record to an open shard; returns it. */
  put(shardId: ShardId, data: Uint8Array | string, partitionKey = 'pk'): SimRecord {
    const s = this.shard(shardId);
    if (s.closed) throw new Error(`${shardId} is closed`);
    // Increasing across the stream, with uneven gaps, as real ones are.
    this.seq += 1_000_000_000_000n + BigInt((s.records.length * 7919) % 1013);
    const r: SimRecord = {
      shardId,
      index: s.records.length,
      SequenceNumber: this.seq.toString(),
      PartitionKey: partitionKey,
      Data: typeof data === 'string' ? new TextEncoder().encode(data) : data,
      ApproximateArrivalTimestamp: new Date(this.clock.now()),
    };
    s.records.push(r);
    return r;
  }

  /** Splits an open shard: it closes, two children open. */
  split(shardId: ShardId): [SimShard, SimShard] {
    this.shard(shardId).closed = true;
    return [this.createShard([shardId]), this.createShard([shardId])];
  }

  /** Merges two open shards: both close, one child opens. */
  merge(a: ShardId, b: ShardId): SimShard {
    this.shard(a).closed = true;
    this.shard(b).closed = true;
    return this.createShard([a, b]);
  }

  listShards(): Promise<readonly ShardInfo[]> {
    return Promise.resolve(
      this.shards.map((s) => ({
        shardId: s.shardId,
        ...(s.parentShardId === undefined ? {} : { parentShardId: s.parentShardId }),
        ...(s.adjacentParentShardId === undefined
          ? {}
          : { adjacentParentShardId: s.adjacentParentShardId }),
        closed: s.closed,
      })),
    );
  }

  isConsumed(shardId: ShardId, committed: SequenceNumber | null): Promise<boolean> {
    const s = this.shard(shardId);
    if (!s.closed) return Promise.resolve(false);
    const last = s.records[s.records.length - 1];
    if (last === undefined) return Promise.resolve(true);
    return Promise.resolve(committed !== null && BigInt(committed) >= BigInt(last.SequenceNumber));
  }

  hasRecordsAfter(shardId: ShardId, committed: SequenceNumber | null): Promise<boolean> {
    const last = this.shard(shardId).records.at(-1);
    if (last === undefined) return Promise.resolve(false);
    return Promise.resolve(committed === null || BigInt(committed) < BigInt(last.SequenceNumber));
  }
}
