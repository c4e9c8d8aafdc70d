/**
 * S3Sink: one object per item under a deterministic key, so a re-driven or
 * retried write overwrites the same object with the same bytes: an
 * exactly-once effect without conditions.
 *
 * Key layouts of the ready-made formats (`<p>` is the prefix, `uri` is
 * encodeURIComponent):
 *
 *     window results:  <p>/<uri operator>/results/window_end=<ISO-8601 of end>/<uri key>/<start>-<end>-<ordering>.json
 *     late records:    <p>/<uri operator>/late/<uri output>/<uri shardId>/<encodeOffset(position)>[-<start>-<end>].json
 *
 * (the JSON bodies are lib/adapters/documents.ts).
 *
 * `<ordering>` is `v<version>` in generation 0 and `g<generation>v<version>`
 * after a restore (the result id's last part). Every firing of a result is
 * its own object, so an older one never overwrites a newer one; readers take
 * the highest (generation, version) of a window: a `g` object outranks every
 * `v` one, and higher generations outrank lower ones (docs/recovery.md,
 * "Corrections").
 * The sink cannot tell "already present" from "written" without an extra
 * request per item, so it reports every item `written`.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError, describeError } from '../../errors.ts';
import { resultIdPart } from '../../model/ids.ts';
import { encodeOffset } from '../../model/position.ts';
import type { LateRecord, WindowResult } from '../../model/records.ts';
import { SinkError } from '../../ports/errors.ts';
import {
  SinkOutcome,
  type Sink,
  type SinkItemReport,
  type SinkWriteReport,
} from '../../ports/sink.ts';
import { intOption } from '../../util/int-option.ts';
import { mapSettled } from '../../util/map-settled.ts';
import { lateRecordJson, windowResultJson } from '../documents.ts';
import { retryPolicy, withRetry, type RetryOptions, type RetryPolicy } from '../retry.ts';
import { sinkWriteReport } from '../sink-report.ts';

/** How items become S3 objects. */
export interface S3ObjectFormat<T> {
  /** The object key below the sink's prefix; must be deterministic in the item. */
  keyOf(item: T): string;
  /** The object body; must be deterministic in the item. */
  body(item: T): string | Uint8Array;
  /** @default 'application/json' */
  readonly contentType?: string;
}

/** Options of {@link S3Sink}. */
export interface S3SinkProps<T> {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix, without a trailing slash ('' for the bucket root). @default '' */
  readonly prefix?: string;
  readonly format: S3ObjectFormat<T>;
  /** PutObject calls in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Backoff of transient errors (SlowDown, 5xx, dropped connections; see {@link RetryOptions}). @default 8 attempts, 25 ms base, 5 s cap */
  readonly retry?: RetryOptions;
}

/** Joins a prefix and a relative key with exactly one slash. */
export function joinKey(prefix: string, key: string): string {
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? key : `${p}/${key}`;
}

/** Results as JSON objects partitioned by window end (Hive-style `window_end=`). */
export const windowResultS3Format: S3ObjectFormat<WindowResult> = {
  keyOf: (r) =>
    `${encodeURIComponent(r.operator)}/results/window_end=${new Date(r.window.end).toISOString()}/` +
    `${encodeURIComponent(r.key)}/${r.window.start}-${r.window.end}-${resultIdPart.ordering(r.generation ?? 0, r.version)}.json`,
  body: (r) => windowResultJson(r),
  contentType: 'application/json',
};

/** Late records as JSON objects (raw bytes base64) keyed by their position. */
export const lateRecordS3Format: S3ObjectFormat<LateRecord> = {
  keyOf: (r) =>
    `${encodeURIComponent(r.operator)}/late/${encodeURIComponent(r.output)}/${encodeURIComponent(r.position.shardId)}/` +
    `${encodeOffset(r.position)}${r.windows.map((w) => `-${w.start}-${w.end}`).join('')}.json`,
  body: (r) => lateRecordJson(r),
  contentType: 'application/json',
};

/**
 * Writes each item as one S3 object at a deterministic key.
 *
 * @example
 * const sink = new S3Sink({ client: clients.s3, bucket: 'out', prefix: 'weir', format: windowResultS3Format });
 */
export class S3Sink<T> implements Sink<T> {
  readonly #props: S3SinkProps<T>;
  readonly #concurrency: number;
  readonly #retry: RetryPolicy;

  constructor(props: S3SinkProps<T>) {
    if (!props.bucket)
      throw new ConfigError('bucket', props.bucket, 'must be a non-empty bucket name');
    const concurrency = intOption('concurrency', props.concurrency, 16, 1, 1000);
    this.#props = props;
    this.#concurrency = concurrency;
    this.#retry = retryPolicy(props.retry, { field: 'retry' });
  }

  /** The full object key an item is written to. */
  keyOf(item: T): string {
    return joinKey(this.#props.prefix ?? '', this.#props.format.keyOf(item));
  }

  async write(items: readonly T[]): Promise<SinkWriteReport> {
    const { client, bucket, format } = this.#props;
    const settled = await mapSettled(
      items,
      this.#concurrency,
      async (item, index): Promise<SinkItemReport> => {
        const body = format.body(item);
        await withRetry(
          () =>
            client.send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: this.keyOf(item),
                Body: body,
                ContentType: format.contentType ?? 'application/json',
              }),
            ),
          this.#retry,
        );
        return { index, outcome: SinkOutcome.Written };
      },
    );
    const done: SinkItemReport[] = [];
    const unwritten: T[] = [];
    let firstError: unknown;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') done.push(s.value);
      else {
        unwritten.push(items[i] as T);
        firstError ??= s.reason;
      }
    });
    if (unwritten.length > 0) {
      throw new SinkError<T>(
        `S3Sink(${bucket})`,
        `PutObject failed: ${describeError(firstError)}`,
        {
          unwritten,
          report: sinkWriteReport(done),
          retryable: true,
          cause: firstError,
        },
      );
    }
    return sinkWriteReport(done);
  }
}
