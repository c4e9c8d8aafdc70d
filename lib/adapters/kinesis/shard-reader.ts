/**
 * Reads one shard's records from a start position up to an inclusive end
 * sequence number or the tip: the read side of every replay (a redrive of a
 * range the event source mapping gave up on, and a restore's replay).
 *
 *   start ─► GetShardIterator ─► GetRecords (Limit) ─► page ─► page ─► ... ─► stop
 *            AT_SEQUENCE_NUMBER s      │                                 end reached (inclusive), or
 *            AFTER_SEQUENCE_NUMBER s   │                                 caught up: MillisBehindLatest 0
 *            TRIM_HORIZON              │                                 and an empty page, or
 *                                      │                                 the shard closed (no next iterator)
 *                                      └─ throttling: the shared retry policy (retry.ts)
 *
 * A position older than the shard's retention is never skipped silently.
 * Kinesis does not promise an error for a trimmed sequence number, and
 * kinesalite returns the oldest retained records without one (its
 * GetRecords drops records older than the retention as it reads), so the
 * reader compares instead: the oldest retained record (TRIM_HORIZON, first
 * record) must not be newer than the start, and a read AT a sequence number
 * must return that record first. Otherwise it throws {@link ReplayGapError}
 * naming the shard, the stored position and the oldest available one.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetRecordsCommandOutput,
  type GetShardIteratorCommandOutput,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { ConfigError, ReplayGapError } from '../../errors.ts';
import { withRetry, type RetryOptions } from '../retry.ts';
import type { KinesisStreamTarget } from './list-shards.ts';

/** Where a read starts. */
export type ShardStart =
  | { readonly type: 'AT_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'TRIM_HORIZON' };

/** What the reader needs of a KinesisClient; a hand-written fake fits too. */
export interface KinesisReadClient {
  send(command: GetShardIteratorCommand): Promise<GetShardIteratorCommandOutput>;
  send(command: GetRecordsCommand): Promise<GetRecordsCommandOutput>;
}

/** Options of {@link readShard}. */
export interface ShardReadOptions {
  readonly client: KinesisReadClient;
  /** The stream, by name or ARN (`kinesisStreamTarget`). */
  readonly stream: KinesisStreamTarget;
  readonly shardId: string;
  readonly start: ShardStart;
  /** Last sequence number to return (inclusive). @default the tip */
  readonly end?: string;
  /** GetRecords `Limit`, 1..10000. @default 10000 */
  readonly limit?: number;
  /** Retries of throttled or failed calls. @default the shared policy (retry.ts) */
  readonly retry?: RetryOptions;
  /** Consecutive empty pages accepted before the read counts as caught up although MillisBehindLatest is above 0. @default 100 */
  readonly maxEmptyPages?: number;
}

/** One GetRecords page, cut at `end`. */
export interface ShardPage {
  readonly records: readonly _Record[];
  /** Milliseconds behind the shard's tip after this page. */
  readonly millisBehindLatest: number | undefined;
}

/**
 * The shard's records from `start` to `end` (or the tip), page by page.
 * Throws {@link ReplayGapError} when `start` is older than the oldest
 * retained record.
 *
 * @example
 * for await (const page of readShard({ client, stream: { StreamARN: arn }, shardId,
 *   start: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: from }, end: to })) use(page.records);
 */
export async function* readShard(options: ShardReadOptions): AsyncGenerator<ShardPage> {
  const limit = options.limit ?? 10_000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new ConfigError('limit', limit, 'must be an integer 1..10000 (GetRecords Limit)');
  const end = options.end === undefined ? undefined : BigInt(options.end);
  const start = options.start;
  const from = start.type === 'TRIM_HORIZON' ? undefined : BigInt(start.sequenceNumber);
  if (start.type !== 'TRIM_HORIZON') await checkRetained(options, start);
  if (from !== undefined && end !== undefined && end < from) return;

  let iterator = await startIterator(options);
  let first = true;
  let empty = 0;
  const maxEmpty = options.maxEmptyPages ?? 100;
  while (iterator !== undefined) {
    const page = await call(options, () =>
      options.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit })),
    );
    let records = page.Records ?? [];
    if (first && records.length > 0 && start.type === 'AT_SEQUENCE_NUMBER') {
      // Trimmed between the check and the read? The record asked for is not the first one.
      if (BigInt(records[0]?.SequenceNumber as string) !== from)
        await checkRetained(options, start);
    }
    if (records.length > 0) first = false;
    let done = false;
    if (end !== undefined) {
      const cut = records.findIndex((r) => BigInt(r.SequenceNumber as string) > end);
      if (cut >= 0) {
        records = records.slice(0, cut);
        done = true;
      } else if (records.length > 0 && BigInt(records.at(-1)?.SequenceNumber as string) === end)
        done = true;
    }
    if (records.length > 0) yield { records, millisBehindLatest: page.MillisBehindLatest };
    if (done) return;
    iterator = page.NextShardIterator ?? undefined; // none: the shard is closed and read to its end
    if (records.length === 0) {
      empty += 1;
      if (page.MillisBehindLatest === 0 || empty >= maxEmpty) return; // caught up with the tip
    } else empty = 0;
  }
}

/**
 * The sequence number of the oldest record the shard still retains
 * (`undefined`: none retained, or none ever written).
 */
export async function oldestRetained(
  options: Pick<ShardReadOptions, 'client' | 'stream' | 'shardId' | 'retry' | 'maxEmptyPages'>,
): Promise<string | undefined> {
  for await (const page of readShard({
    ...options,
    start: { type: 'TRIM_HORIZON' },
    limit: 1,
  })) {
    return page.records[0]?.SequenceNumber;
  }
  return undefined;
}

/**
 * Throws {@link ReplayGapError} when the shard no longer retains what
 * `start` needs: the oldest retained record is newer than its sequence
 * number, or (AT a sequence number) the shard retains no record at all. A
 * read AFTER a sequence number of a shard that retains nothing is not a
 * gap: an idle shard whose last record aged out lost nothing after it.
 */
async function checkRetained(
  options: ShardReadOptions,
  start: Exclude<ShardStart, { type: 'TRIM_HORIZON' }>,
): Promise<void> {
  const oldest = await oldestRetained(options);
  if (oldest === undefined) {
    if (start.type === 'AT_SEQUENCE_NUMBER')
      throw new ReplayGapError(options.shardId, start.sequenceNumber, undefined);
    return;
  }
  if (BigInt(oldest) > BigInt(start.sequenceNumber))
    throw new ReplayGapError(options.shardId, start.sequenceNumber, oldest);
}

async function startIterator(options: ShardReadOptions): Promise<string | undefined> {
  const s = options.start;
  const out = await call(options, () =>
    options.client.send(
      new GetShardIteratorCommand({
        ...options.stream,
        ShardId: options.shardId,
        ShardIteratorType: s.type,
        ...(s.type === 'TRIM_HORIZON' ? {} : { StartingSequenceNumber: s.sequenceNumber }),
      }),
    ),
  );
  return out.ShardIterator ?? undefined;
}

function call<T>(options: ShardReadOptions, f: () => Promise<T>): Promise<T> {
  return withRetry(f, options.retry);
}
