/**
 * The DynamoDB state store's access to its table: options, retries, error
 * classification, paginated queries, batched reads, bounded parallelism,
 * index listings and restore-generation checks. {@link DynamoDbStateStore}
 * builds the port's operations on it (dynamodb-state-store.ts), and the
 * restore operations too (dynamodb-state-restore.ts).
 */
import {
  BatchGetItemCommand,
  GetItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError, FencedError, WeirError, errorName } from '../../errors.ts';
import { systemClock, type Clock } from '../../ports/clock.ts';
import type { WindowItem, WindowScanRequest } from '../../ports/state-store.ts';
import { intOption } from '../../util/int-option.ts';
import { mapSettled } from '../../util/map-settled.ts';
import {
  isTransientError,
  retryPolicy,
  sleepBeforeRetry,
  withRetry,
  type RetryOptions,
  type RetryPolicy,
} from '../retry.ts';
import {
  ConditionFailed,
  StateItemTooLargeError,
  StateStoreError,
  isConditionFailure,
  isItemTooLarge,
  isTransactionConflict,
} from './dynamodb-state-errors.ts';
import {
  MAX_ITEM_BYTES,
  StateAttr,
  WATERMARK_SORT_KEY,
  attributesToWindowItem,
  bucketValue,
  encodeTime,
  generationOf,
} from './state-codec.ts';

/** Options of {@link DynamoDbStateStore}. */
export interface DynamoDbStateStoreOptions {
  /** A DynamoDB client (see `createAwsClients`); a document client is accepted and used for its low-level commands. */
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  /** The state table: `pk`/`sk` strings, GSIs `due`, `expiry`, `outbox` as the WeirOperator construct defines them. */
  readonly tableName: string;
  /**
   * Buckets each index partition of an operator is spread over
   * (`<operator>#<hash(key) % dueBuckets>`); queries read all of them in
   * parallel. Never lower it on a live table (entries in the dropped buckets
   * would no longer be queried); raising it is safe. 1..1000. @default 8
   */
  readonly dueBuckets?: number;
  /** Write (and read) requests in flight at once per call. 1..1000. @default 16 */
  readonly concurrency?: number;
  /** Backoff of transient errors and transaction conflicts, on top of the SDK's own retries (see {@link RetryOptions}). @default 8 attempts, 25 ms base, 5 s cap */
  readonly retry?: RetryOptions;
  /** Processing time, for tombstone expiry. @default systemClock */
  readonly clock?: Clock;
  /**
   * How long a tombstone (purged window: its absorbed positions) lives before
   * DynamoDB TTL deletes it. Must exceed the age of the oldest retained
   * checkpoint: a replay from a checkpoint older than the tombstone's
   * deletion would resurrect the purged window. (TTL deletes within days
   * after expiry, never before.) @default 604800 (7 days)
   */
  readonly tombstoneTtlSeconds?: number;
}

/** TransactWriteItems accepts at most this many actions. */
export const MAX_TRANSACTION_ITEMS = 100;
const BATCH_GET_KEYS = 100;

type Send = (command: unknown) => Promise<unknown>;

/** The table access every operation of {@link DynamoDbStateStore} goes through. */
export class StateTable {
  protected readonly send: Send;
  protected readonly table: string;
  protected readonly buckets: number;
  protected readonly concurrency: number;
  protected readonly retry: RetryPolicy;
  protected readonly clock: Clock;
  protected readonly tombstoneTtlSeconds: number;

  constructor(options: DynamoDbStateStoreOptions) {
    // Both clients share one middleware stack; low-level commands carry AttributeValues already.
    const client = options.client as unknown as { send(command: unknown): Promise<unknown> };
    this.send = (command) => client.send(command);
    if (typeof options.tableName !== 'string' || options.tableName === '') {
      throw new ConfigError('tableName', options.tableName, 'must name the state table');
    }
    this.table = options.tableName;
    this.buckets = intOption('dueBuckets', options.dueBuckets, 8, 1, 1000);
    this.concurrency = intOption('concurrency', options.concurrency, 16, 1, 1000);
    this.tombstoneTtlSeconds = intOption(
      'tombstoneTtlSeconds',
      options.tombstoneTtlSeconds,
      7 * 24 * 3600,
      1,
      10 * 365 * 24 * 3600,
    );
    const user = options.retry ?? {};
    const retryable = user.isRetryable ?? isTransientError;
    this.retry = retryPolicy(
      { ...user, isRetryable: (e) => retryable(e) || isTransactionConflict(e) },
      { field: 'retry' },
    );
    this.clock = options.clock ?? systemClock;
  }

  /** The operator's restore generation: the `gen` of its watermark item (absent: 0), read consistently. */
  async storedGeneration(operator: string): Promise<number> {
    const out = (await this.call(
      operator,
      undefined,
      () =>
        new GetItemCommand({
          TableName: this.table,
          Key: { [StateAttr.PK]: { S: operator }, [StateAttr.SK]: { S: WATERMARK_SORT_KEY } },
          ConsistentRead: true,
        }),
    )) as { Item?: Record<string, AttributeValue> };
    return generationOf(out.Item);
  }

  /** Throws {@link FencedError} unless the operator's stored generation is `generation`. */
  async checkGeneration(operator: string, generation: number): Promise<void> {
    const stored = await this.storedGeneration(operator);
    if (stored !== generation) throw new FencedError(operator, generation, stored);
  }

  /**
   * Whether a stored item counts for a caller of `generation`: `false` for a
   * lower generation (absent to it); {@link FencedError} for a higher one.
   */
  protected ofGeneration(
    operator: string,
    a: Record<string, AttributeValue>,
    generation: number,
  ): boolean {
    const g = generationOf(a);
    if (g > generation) throw new FencedError(operator, generation, g);
    return g === generation;
  }

  /**
   * Queries every bucket of an index in parallel (each up to `limit` keys, in
   * index order), merges them by index sort key, then reads the base items
   * strongly consistently in that order until `limit` pass `valid`.
   */
  protected async listIndexed(
    operator: string,
    index: string,
    bucketAttr: string,
    sortAttr: string,
    upTo: number | undefined,
    limit: number,
    generation: number,
    valid: (item: WindowItem) => boolean,
  ): Promise<WindowItem[]> {
    const bound = upTo === undefined || upTo === Infinity ? undefined : encodeTime(upTo);
    const buckets = Array.from({ length: this.buckets }, (_, b) => b);
    const perBucket = await this.all(buckets, (b) =>
      this.queryAll(
        operator,
        undefined,
        {
          TableName: this.table,
          IndexName: index,
          KeyConditionExpression: bound === undefined ? '#b = :b' : '#b = :b AND #s <= :s',
          ExpressionAttributeNames: {
            '#b': bucketAttr,
            ...(bound === undefined ? {} : { '#s': sortAttr }),
          },
          ExpressionAttributeValues: {
            ':b': { S: bucketValue(operator, b) },
            ...(bound === undefined ? {} : { ':s': { S: bound } }),
          },
          Limit: Math.min(limit, 1000),
        },
        limit,
      ),
    );
    const entries = perBucket.flat();
    entries.sort((x, y) => {
      const a = x[sortAttr]?.S ?? '';
      const b = y[sortAttr]?.S ?? '';
      if (a !== b) return a < b ? -1 : 1;
      const pa = `${x[StateAttr.PK]?.S ?? ''}\u0000${x[StateAttr.SK]?.S ?? ''}`;
      const pb = `${y[StateAttr.PK]?.S ?? ''}\u0000${y[StateAttr.SK]?.S ?? ''}`;
      return pa < pb ? -1 : pa > pb ? 1 : 0;
    });
    const out: WindowItem[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < entries.length && out.length < limit; i += BATCH_GET_KEYS) {
      const keys: { pk: string; sk: string }[] = [];
      for (const e of entries.slice(i, i + BATCH_GET_KEYS)) {
        const pk = e[StateAttr.PK]?.S;
        const sk = e[StateAttr.SK]?.S;
        if (pk === undefined || sk === undefined || seen.has(`${pk}\u0000${sk}`)) continue;
        seen.add(`${pk}\u0000${sk}`);
        keys.push({ pk, sk });
      }
      const found = await this.batchGet(operator, keys);
      for (const k of keys) {
        if (out.length >= limit) break;
        const a = found.get(`${k.pk}\u0000${k.sk}`);
        if (a === undefined) continue; // deleted since the index saw it
        if (!this.ofGeneration(operator, a, generation)) continue;
        const item = attributesToWindowItem(a);
        if (valid(item)) out.push(item);
      }
    }
    return out;
  }

  /** BatchGetItem in chunks of 100 (in parallel), unprocessed keys retried with backoff. */
  protected async batchGet(
    operator: string,
    keys: readonly { pk: string; sk: string }[],
  ): Promise<Map<string, Record<string, AttributeValue>>> {
    const unique = new Map<string, { pk: string; sk: string }>();
    for (const k of keys) unique.set(`${k.pk}\u0000${k.sk}`, k);
    const all = [...unique.values()];
    const chunks: { pk: string; sk: string }[][] = [];
    for (let i = 0; i < all.length; i += BATCH_GET_KEYS)
      chunks.push(all.slice(i, i + BATCH_GET_KEYS));
    const found = new Map<string, Record<string, AttributeValue>>();
    await this.all(chunks, async (chunk) => {
      let pending: Record<string, AttributeValue>[] = chunk.map((k) => ({
        [StateAttr.PK]: { S: k.pk },
        [StateAttr.SK]: { S: k.sk },
      }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt >= this.retry.maxAttempts * 2) {
            throw new StateStoreError(
              operator,
              undefined,
              `BatchGetItem left ${pending.length} keys unprocessed after ${attempt} attempts (throttled)`,
            );
          }
          await sleepBeforeRetry(this.retry, attempt - 1);
        }
        const out = (await this.call(
          operator,
          undefined,
          () =>
            new BatchGetItemCommand({
              RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
            }),
        )) as {
          Responses?: Record<string, Record<string, AttributeValue>[]>;
          UnprocessedKeys?: Record<string, { Keys?: Record<string, AttributeValue>[] }>;
        };
        for (const a of out.Responses?.[this.table] ?? []) {
          found.set(`${a[StateAttr.PK]?.S ?? ''}\u0000${a[StateAttr.SK]?.S ?? ''}`, a);
        }
        pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    });
    return found;
  }

  /** A paginated Query, up to `max` items. */
  protected async queryAll(
    operator: string,
    key: string | undefined,
    input: QueryCommandInput,
    max = Infinity,
  ): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = (await this.call(
        operator,
        key,
        () =>
          new QueryCommand({
            ...input,
            ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
          }),
      )) as {
        Items?: Record<string, AttributeValue>[];
        LastEvaluatedKey?: Record<string, AttributeValue>;
      };
      for (const it of page.Items ?? []) {
        if (items.length >= max) break;
        items.push(it);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined && items.length < max);
    return items;
  }

  /** A conditional write: `true` if applied, `false` if its condition failed. */
  protected async conditional(
    operator: string,
    key: string | undefined,
    command: () => unknown,
  ): Promise<boolean> {
    try {
      await this.call(operator, key, command);
      return true;
    } catch (e) {
      if (e instanceof ConditionFailed) return false;
      throw e;
    }
  }

  /** Sends with retries; failed conditions become {@link ConditionFailed}, anything else a StateStoreError. */
  protected async call(
    operator: string,
    key: string | undefined,
    command: () => unknown,
  ): Promise<unknown> {
    try {
      return await withRetry(() => this.send(command()), this.retry);
    } catch (e) {
      if (e instanceof WeirError) throw e;
      if (isConditionFailure(e))
        throw new ConditionFailed((e as { Item?: Record<string, AttributeValue> }).Item);
      if (isItemTooLarge(e) && key !== undefined) {
        throw new StateItemTooLargeError(operator, key, undefined, MAX_ITEM_BYTES, { cause: e });
      }
      const name = errorName(e);
      const message = e instanceof Error ? e.message : String(e);
      throw new StateStoreError(operator, key, `${name}: ${message}`, { cause: e });
    }
  }

  /** Runs `fn` over `items` with at most `concurrency` in flight; rethrows the first failure once all settled. */
  protected async all<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    if (items.length === 1) return [await fn(items[0] as T)];
    const settled = await mapSettled(items, this.concurrency, fn);
    const out: R[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      out.push(s.value);
    }
    return out;
  }
}

/**
 * Conditions on the restore generation of the item a write targets; they use
 * the names `#gen` and the value `:g`, which {@link generationNames} adds.
 */
export const generationCondition = {
  /** The item is of `generation` (absent counts as 0). */
  same: (generation: number): string =>
    generation === 0 ? '(attribute_not_exists(#gen) OR #gen = :g)' : '#gen = :g',
  /** The item is of a lower generation than `generation` (`undefined`: none is lower than 0). */
  lower: (generation: number): string | undefined =>
    generation === 0 ? undefined : '(attribute_not_exists(#gen) OR #gen < :g)',
  /** The item is of `generation` or lower. */
  atMost: (): string => '(attribute_not_exists(#gen) OR #gen <= :g)',
} as const;

/** Adds `#gen` and `:g` to an expression's names and values. */
export function generationNames(
  names: Record<string, string>,
  values: Record<string, AttributeValue>,
  generation: number,
): void {
  names['#gen'] = StateAttr.GENERATION;
  values[':g'] = { N: String(generation) };
}

export function checkOperator(operator: string): void {
  // pk = <operator>#<key> is unambiguous only if the operator has no '#'.
  if (operator === '' || operator.includes('#')) {
    throw new ConfigError('operator', operator, "must be a non-empty name without '#'");
  }
}

export function checkScanRequest(r: WindowScanRequest): void {
  if (!Number.isInteger(r.totalSegments) || r.totalSegments < 1 || r.totalSegments > 1_000_000)
    throw new ConfigError('totalSegments', r.totalSegments, 'must be an integer 1..1000000');
  if (!Number.isInteger(r.segment) || r.segment < 0 || r.segment >= r.totalSegments)
    throw new ConfigError('segment', r.segment, `must be an integer 0..${r.totalSegments - 1}`);
  if (!Number.isInteger(r.limit) || r.limit < 1)
    throw new ConfigError('limit', r.limit, 'must be a positive integer');
}

/** A scan cursor: the `pk` and `sk` of the page's LastEvaluatedKey. */
export function parseScanCursor(cursor: string): { pk: string; sk: string } {
  let v: unknown;
  try {
    v = JSON.parse(cursor);
  } catch {
    v = undefined;
  }
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof (v as { pk?: unknown }).pk !== 'string' ||
    typeof (v as { sk?: unknown }).sk !== 'string'
  )
    throw new ConfigError('cursor', cursor, 'must be a cursor returned by scanWindows');
  return v as { pk: string; sk: string };
}
