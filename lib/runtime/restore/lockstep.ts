/**
 * The replay's scheduler: every shard that is ready advanced together, in
 * rounds over slices of arrival time (docs/recovery.md, "Lateness in a
 * replay").
 *
 * A record is judged against the lowest watermark of the OTHER shards as it
 * stands when its batch starts (lib/core/judged-view.ts). Live, the mapping
 * polls every shard about once a second, so a batch sees the other shards
 * about where their own arrivals had taken them. The replay reproduces that
 * order instead of letting one shard run ahead:
 *
 *   arrival ─────────┬──────────┬──────────┬──────────►
 *                    │ round 1  │ round 2  │ round 3
 *   shard a  ● ● ●   │ ● ●      │ ●  ●     │
 *   shard b   ●  ●   │   ● ● ●  │          │ ●
 *   child c (waits for a: starts when a is read to its end) ──►
 *
 *   round: end = the next slice boundary after the earliest unread arrival;
 *          every ready shard hands its records arriving before `end`
 *          (≤ chunkRecords per runtime call, ≤ concurrency calls at once);
 *          the round ends when all have; a shard read to its end is done,
 *          and its children start reading.
 *
 * Each shard reads ahead at most `readAheadPages` pages, so memory is
 * bounded by shards × (readAheadPages + 1) pages whatever the stream holds.
 */
import { WeirError } from '../../errors.ts';
import type { StreamRecordInput } from '../local/esm/kinesis-event.ts';

/** A shard the scheduler runs: its id and the parents it waits for. */
export interface LockstepShard {
  readonly shardId: string;
  /** Shards that must be read to their end before this one starts. */
  readonly waitsFor: readonly string[];
}

/** Options of {@link replayInLockstep}. */
export interface LockstepOptions<S extends LockstepShard> {
  readonly shards: readonly S[];
  /** The shard's records, page by page, in sequence order. */
  read(shard: S): AsyncIterable<readonly StreamRecordInput[]>;
  /** Hands records of one shard to the runtime; a rejection stops the replay. */
  handle(shardId: string, records: readonly StreamRecordInput[]): Promise<void>;
  /** A shard was read to its end and every record of it handled. */
  onShardDone?(shardId: string): void;
  /** Width of a round, milliseconds of ApproximateArrivalTimestamp. */
  readonly sliceMs: number;
  /** Records per `handle` call at most. */
  readonly chunkRecords: number;
  /** `handle` calls in flight at once at most. */
  readonly concurrency: number;
  /** Pages a shard reads ahead of the one being handed. */
  readonly readAheadPages: number;
}

const arrival = (r: StreamRecordInput): number => r.ApproximateArrivalTimestamp.getTime();

/** A shard's pages, read ahead a bounded number. */
export class ShardReader {
  private readonly it: AsyncIterator<readonly StreamRecordInput[]>;
  private readonly ahead: Promise<IteratorResult<readonly StreamRecordInput[]>>[] = [];
  private page: readonly StreamRecordInput[] = [];
  private at = 0;
  private ended = false;

  constructor(
    pages: AsyncIterable<readonly StreamRecordInput[]>,
    private readonly readAhead: number,
  ) {
    this.it = pages[Symbol.asyncIterator]();
    this.fill();
  }

  private fill(): void {
    while (!this.ended && this.ahead.length < this.readAhead) {
      const next = this.it.next();
      next.catch(() => undefined); // observed when its turn comes
      this.ahead.push(next);
    }
  }

  /** The next record without taking it (`undefined`: the shard is read to its end). */
  async peek(): Promise<StreamRecordInput | undefined> {
    while (this.at >= this.page.length) {
      if (this.ended) return undefined;
      const result = await (this.ahead.shift() ?? this.it.next());
      if (result.done === true) {
        this.ended = true;
        return undefined;
      }
      this.page = result.value;
      this.at = 0;
      this.fill();
    }
    return this.page[this.at];
  }

  /** Takes up to `max` records, in order, while they arrived before `end` (epoch ms). */
  async take(end: number, max: number): Promise<StreamRecordInput[]> {
    let out: StreamRecordInput[] = [];
    while (out.length < max) {
      const head = await this.peek();
      if (head === undefined || arrival(head) >= end) break;
      const stop = Math.min(this.page.length, this.at + max - out.length);
      let j = this.at + 1;
      while (j < stop && arrival(this.page[j] as StreamRecordInput) < end) j++;
      out = out.concat(this.page.slice(this.at, j));
      this.at = j;
    }
    return out;
  }

  /** Stops reading: lets the pages in flight settle and closes the source. */
  async close(): Promise<void> {
    this.ended = true;
    await Promise.allSettled(this.ahead.splice(0));
    await this.it.return?.();
  }
}

/**
 * Runs every shard to its end, parents before children, ready shards in
 * lockstep by arrival time. The first failure (a read or a `handle`) stops
 * every shard at its next call and is rethrown once the calls in flight end.
 */
export async function replayInLockstep<S extends LockstepShard>(
  o: LockstepOptions<S>,
): Promise<void> {
  const readers = new Map<string, ShardReader>();
  const done = new Set<string>();
  try {
    while (done.size < o.shards.length) {
      for (const s of o.shards)
        if (!readers.has(s.shardId) && !done.has(s.shardId) && s.waitsFor.every((p) => done.has(p)))
          readers.set(s.shardId, new ShardReader(o.read(s), o.readAheadPages));
      if (readers.size === 0)
        throw new WeirError(
          `internal: shards ${o.shards
            .filter((s) => !done.has(s.shardId))
            .map((s) => s.shardId)
            .join(', ')} wait for parents that never finish`,
        );
      const heads = await Promise.all(
        [...readers].map(async ([id, r]) => ({ id, r, head: await r.peek() })),
      );
      let first = Infinity;
      for (const { id, r, head } of heads) {
        if (head === undefined) {
          readers.delete(id);
          await r.close();
          done.add(id);
          o.onShardDone?.(id);
        } else first = Math.min(first, arrival(head));
      }
      // A shard ended: its children may start, and may hold the earliest arrival.
      if (heads.some((h) => h.head === undefined)) continue;
      await round(o, readers, (Math.floor(first / o.sliceMs) + 1) * o.sliceMs);
    }
  } finally {
    await Promise.allSettled([...readers.values()].map((r) => r.close()));
  }
}

/** One round: every reader hands its records arriving before `end`, ≤ `concurrency` calls at once. */
async function round<S extends LockstepShard>(
  o: LockstepOptions<S>,
  readers: ReadonlyMap<string, ShardReader>,
  end: number,
): Promise<void> {
  const queue = [...readers];
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [id, reader] = next;
      for (;;) {
        if (failure !== undefined) return;
        const records = await reader.take(end, o.chunkRecords);
        if (records.length === 0 || failure !== undefined) break;
        await o.handle(id, records);
      }
    }
  };
  const workers = Array.from({ length: Math.min(o.concurrency, queue.length) }, () =>
    worker().catch((error: unknown) => {
      failure ??= { error };
    }),
  );
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
}
