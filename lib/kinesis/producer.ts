/**
 * A bulk Kinesis producer: batches records into PutRecords requests within
 * Kinesis' limits, retries only what failed, and reports where every record
 * landed.
 *
 * How one request moves through time (maxAttempts 3, one entry throttled):
 *
 *     attempt 1  PutRecords [r0 r1 r2 r3]  ->  r2: ProvisionedThroughputExceededException
 *                sleep random(0, min(maxDelay, base * 2^0))
 *     attempt 2  PutRecords [r2]           ->  ok
 *     done: r0..r3 stored once each; retriedEntries += 1
 *
 *     attempt 1  PutRecords [r4 ... r9]    ->  HTTP 500 (whole request)
 *                sleep random(0, min(maxDelay, base * 2^0))
 *     attempt 2  PutRecords [r4 ... r9]    ->  ok; retriedRequests += 1
 *
 * A whole-request failure that is not transient (ResourceNotFound,
 * AccessDenied, validation) fails at once; a transient one, or a failed entry,
 * that is still failing after `maxAttempts` fails with {@link ProducerError}
 * listing every failed input index and its last error code. Delays and the
 * transient-error classification are the adapters' retry policy
 * (lib/adapters/retry.ts); only the re-sending of failed entries is the
 * producer's own.
 */
import { kinesisStreamTarget } from '../adapters/kinesis/list-shards.ts';
import { retryPolicy } from '../adapters/retry.ts';
import { ConfigError } from '../errors.ts';
import { intOption } from '../util/int-option.ts';
import { AggregateSlots, RequestBatcher } from './producer-batching.ts';
import {
  TokenBucket,
  encoder,
  plainEntry,
  prepareRanges,
  validateRecord,
} from './producer-entries.ts';
import { PutRecordsSender } from './producer-sender.ts';
import {
  KINESIS_LIMITS,
  ProducerError,
  ProducerFailure,
  type KinesisPutRecordsClient,
  type ProducerRecord,
  type PutRecordsOptions,
  type PutRecordsResult,
} from './producer-types.ts';

export {
  InvalidRecordError,
  KINESIS_LIMITS,
  ProducerError,
  ProducerFailure,
  type FailedEntry,
  type KinesisPutRecordsClient,
  type ProducerProgress,
  type ProducerRecord,
  type PutRecordsOptions,
  type PutRecordsResult,
  type ShardHashRange,
} from './producer-types.ts';
export { hashKeyOf } from './producer-entries.ts';

/** Validated options of one {@link putRecords} call. */
interface ProducerLimits {
  readonly concurrency: number;
  readonly maxRecordBytes: number;
  readonly maxRecordsPerRequest: number;
  readonly maxRequestBytes: number;
  readonly rate: number | undefined;
}

function producerLimits(options: PutRecordsOptions): ProducerLimits {
  const concurrency = intOption('concurrency', options.concurrency, 4, 1, 256);
  const maxRecordBytes = intOption(
    'maxRecordBytes',
    options.maxRecordBytes,
    KINESIS_LIMITS.maxRecordBytes,
    1,
    KINESIS_LIMITS.maxRecordBytesCeiling,
  );
  let maxRecordsPerRequest = intOption(
    'maxRecordsPerRequest',
    options.maxRecordsPerRequest,
    KINESIS_LIMITS.maxRecordsPerRequest,
    1,
    KINESIS_LIMITS.maxRecordsPerRequest,
  );
  const maxRequestBytes = intOption(
    'maxRequestBytes',
    options.maxRequestBytes,
    KINESIS_LIMITS.maxRequestBytes,
    1,
    KINESIS_LIMITS.maxRequestBytes,
  );
  const rate = options.ratePerSecond;
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) {
    throw new ConfigError('ratePerSecond', rate, 'must be a positive number of records per second');
  }
  if (options.total !== undefined && !(Number.isInteger(options.total) && options.total >= 0)) {
    throw new ConfigError('total', options.total, 'must be a non-negative integer');
  }
  // With a low rate, smaller requests keep the flow smooth instead of one burst per N seconds.
  if (rate !== undefined)
    maxRecordsPerRequest = Math.max(1, Math.min(maxRecordsPerRequest, Math.floor(rate)));
  return { concurrency, maxRecordBytes, maxRecordsPerRequest, maxRequestBytes, rate };
}

/**
 * Sends records to a Kinesis stream with PutRecords, in order of input, within
 * Kinesis' limits. Resolves when every record is stored exactly once (as far
 * as the producer can tell: a request whose response is lost is retried and
 * may store duplicates; consumers dedupe on a record id when that matters).
 *
 * Oversized or malformed records fail fast: every record BEFORE the bad one
 * is sent and confirmed first, nothing at or after it is sent, and the error
 * ({@link RecordTooLargeError} or {@link InvalidRecordError}) names its index,
 * so fixing the record and re-running from that index stores each record once.
 *
 * Ordering: Kinesis orders records within a shard by arrival. A retried entry
 * arrives after the entries that succeeded with it, and concurrent requests
 * race; use `concurrency: 1` and `maxAttempts: 1` if strict per-key order
 * matters more than throughput.
 *
 * @param kinesis a KinesisClient (build it with createAwsClients).
 * @param stream a stream name, or an ARN (`arn:...`).
 *
 * @example
 * const { kinesis } = createAwsClients({ endpoints: endpointsFromEnv(process.env) });
 * const result = await putRecords(kinesis, 'clicks', events.map((e) => ({
 *   data: JSON.stringify(e),
 *   partitionKey: e.userId,
 * })));
 * console.log(result.records, result.perShard, result.positions[0]);
 */
export async function putRecords(
  kinesis: KinesisPutRecordsClient,
  stream: string,
  records: AsyncIterable<ProducerRecord> | Iterable<ProducerRecord>,
  options: PutRecordsOptions = {},
): Promise<PutRecordsResult> {
  const policy = retryPolicy(options, { defaults: { baseDelayMs: 100 } });
  const limits = producerLimits(options);
  const { maxRecordBytes, maxRequestBytes, rate } = limits;
  const now = options.now ?? (() => performance.now());
  const signal = options.signal;
  const bucket = rate === undefined ? undefined : new TokenBucket(rate, now, policy.sleep, signal);
  const sender = new PutRecordsSender(kinesis, {
    policy,
    concurrency: limits.concurrency,
    keepPositions: options.recordPositions ?? true,
    target: kinesisStreamTarget(stream),
    bucket,
    signal,
    total: options.total,
    onProgress: options.onProgress,
  });
  const batcher = new RequestBatcher(
    limits.maxRecordsPerRequest,
    maxRequestBytes,
    bucket !== undefined,
    (batch) => sender.launch(batch),
  );
  const aggregating = options.aggregate !== undefined && options.aggregate !== false;
  const ranges =
    typeof options.aggregate === 'object' ? prepareRanges(options.aggregate.shards) : undefined;
  const slots = aggregating
    ? new AggregateSlots(ranges, maxRecordBytes, maxRequestBytes, batcher)
    : undefined;

  let rejected: Error | undefined;
  let inputError: { error: unknown } | undefined;
  let index = 0;
  try {
    try {
      for await (const record of records) {
        if (sender.failure !== undefined) break;
        if (signal?.aborted) {
          sender.failure = {
            reason: ProducerFailure.ABORTED,
            message: 'aborted',
            cause: signal.reason,
          };
          break;
        }
        const i = index++;
        const data = typeof record.data === 'string' ? encoder.encode(record.data) : record.data;
        const problem = validateRecord(i, record, data.length, maxRecordBytes);
        if (problem !== undefined) {
          rejected = problem;
          break;
        }
        const size = data.length + encoder.encode(record.partitionKey).length;
        if (slots === undefined) await batcher.push(plainEntry(record, data, size, i));
        else await slots.add(record, data, size, i);
      }
    } catch (error) {
      // The input failed (a bad NDJSON line, an unreadable file): like a bad
      // record, everything read before it is still sent.
      inputError = { error };
    }
    if (sender.failure === undefined) {
      await slots?.flush();
      await batcher.flush();
    }
  } finally {
    // Whatever happened, let in-flight requests finish so the tallies are final.
    await sender.drain();
  }
  const failure = sender.failure;
  if (failure !== undefined) {
    const failed = sender.failed;
    failed.sort((a, b) => a.index - b.index);
    const list = failed
      .slice(0, 10)
      .map((f) => `#${f.index} ${f.errorCode}`)
      .join(', ');
    throw new ProducerError(
      failure.reason,
      `${failure.message}; ${sender.sent} record(s) stored, ${failed.length} failed` +
        (failed.length > 0 ? ` (${list}${failed.length > 10 ? ', ...' : ''})` : ''),
      failed,
      sender.snapshot(),
      failure.cause === undefined ? undefined : { cause: failure.cause },
    );
  }
  if (inputError !== undefined) throw inputError.error;
  if (rejected !== undefined) throw rejected;
  return sender.snapshot();
}
