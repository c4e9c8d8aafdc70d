/**
 * {@link WindowCounter} over the state table's sparse indexes: each count is
 * a `Select: COUNT` Query per bucket, so no item is read or returned.
 *
 *   open    expiry index (set on every window item not purged)
 *   pending due index    (set while `pending`)
 *   due     due index, `dueAt <= watermark`
 *   outbox  outbox index (set while a fired result awaits the sinks)
 *
 * Global secondary indexes are eventually consistent: a figure may lag the
 * base items by a moment. Cost: 4 x dueBuckets Queries, each page reading up
 * to 1 MB of index (read units as for a Query, KEYS_ONLY entries of ~150
 * bytes); a bucket stops after `maxPagesPerBucket` pages and the counts are
 * then reported as lower bounds (`exact: false`).
 */
import {
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError } from '../../errors.ts';
import type { WindowCounter, WindowCounts } from '../../ports/operator-status.ts';
import { intOption } from '../../util/int-option.ts';
import { withRetry, type RetryOptions } from '../retry.ts';
import { StateAttr, StateIndex, bucketValue, encodeTime } from './state-codec.ts';

/** Options of {@link DynamoDbWindowCounter}. */
export interface DynamoDbWindowCounterOptions {
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  /** The state table (as `DynamoDbStateStore`'s). */
  readonly tableName: string;
  /** Must equal the store's `dueBuckets` (the runtime uses the default). @default 8 */
  readonly dueBuckets?: number;
  /** Query pages per bucket and index before a count is reported as a lower bound. 1..1000. @default 10 */
  readonly maxPagesPerBucket?: number;
  /** Backoff of throttling and transient errors. @default 8 attempts, 25 ms base */
  readonly retry?: RetryOptions;
}

interface Count {
  readonly n: number;
  readonly exact: boolean;
}

/** Counts an operator's windows in the DynamoDB state table. */
export class DynamoDbWindowCounter implements WindowCounter {
  private readonly send: (command: QueryCommand) => Promise<unknown>;
  private readonly buckets: number;
  private readonly maxPages: number;

  constructor(private readonly options: DynamoDbWindowCounterOptions) {
    const client = options.client as unknown as { send(command: unknown): Promise<unknown> };
    this.send = (command) => client.send(command);
    if (typeof options.tableName !== 'string' || options.tableName === '')
      throw new ConfigError('tableName', options.tableName, 'must name the state table');
    this.buckets = intOption('dueBuckets', options.dueBuckets, 8, 1, 1000);
    this.maxPages = intOption('maxPagesPerBucket', options.maxPagesPerBucket, 10, 1, 1000);
  }

  async countWindows(operator: string, watermark: number | null): Promise<WindowCounts> {
    const [open, pending, due, outbox] = await Promise.all([
      this.count(operator, StateIndex.EXPIRY, StateAttr.EXPIRY_BUCKET),
      this.count(operator, StateIndex.DUE, StateAttr.DUE_BUCKET),
      watermark === null
        ? Promise.resolve({ n: 0, exact: true })
        : this.count(operator, StateIndex.DUE, StateAttr.DUE_BUCKET, {
            attr: StateAttr.DUE_AT,
            upTo: watermark,
          }),
      this.count(operator, StateIndex.OUTBOX, StateAttr.OUTBOX_BUCKET),
    ]);
    return {
      open: open.n,
      pending: pending.n,
      due: due.n,
      outbox: outbox.n,
      exact: open.exact && pending.exact && due.exact && outbox.exact,
    };
  }

  private async count(
    operator: string,
    index: string,
    bucketAttr: string,
    bound?: { readonly attr: string; readonly upTo: number },
  ): Promise<Count> {
    const perBucket = await Promise.all(
      Array.from({ length: this.buckets }, (_, b) =>
        this.countBucket({
          TableName: this.options.tableName,
          IndexName: index,
          Select: 'COUNT',
          KeyConditionExpression: bound ? '#b = :b AND #s <= :s' : '#b = :b',
          ExpressionAttributeNames: { '#b': bucketAttr, ...(bound ? { '#s': bound.attr } : {}) },
          ExpressionAttributeValues: {
            ':b': { S: bucketValue(operator, b) },
            ...(bound ? { ':s': { S: encodeTime(bound.upTo) } } : {}),
          },
        }),
      ),
    );
    return {
      n: perBucket.reduce((s, c) => s + c.n, 0),
      exact: perBucket.every((c) => c.exact),
    };
  }

  private async countBucket(input: QueryCommandInput): Promise<Count> {
    let n = 0;
    let start: Record<string, AttributeValue> | undefined;
    for (let page = 0; page < this.maxPages; page++) {
      const out = (await withRetry(
        () =>
          this.send(
            new QueryCommand({
              ...input,
              ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
            }),
          ),
        this.options.retry,
      )) as { Count?: number; LastEvaluatedKey?: Record<string, AttributeValue> };
      n += out.Count ?? 0;
      start = out.LastEvaluatedKey;
      if (start === undefined) return { n, exact: true };
    }
    return { n, exact: false };
  }
}
