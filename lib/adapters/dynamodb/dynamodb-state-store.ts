/**
 * DynamoDbStateStore: the {@link StateStore} port on one DynamoDB table (the
 * construct's state table). Layout, indexes and capacity: docs/state-table.md.
 *
 *   window item   pk = <operator>#<key>   sk = W#<start>#<end>   (times: t + 2^53, 17 digits)
 *   progress item pk = <operator>         sk = P#<shardId>
 *   watermark     pk = <operator>         sk = W
 *
 * Three sparse, KEYS_ONLY global secondary indexes, each partitioned by
 * `<operator>#<hash(key) % dueBuckets>` so no operator is one hot partition:
 *
 *   due     dueBucket / dueAt (padded end - 1)   only while pending and open
 *   expiry  expiryBucket / cleanupAt (padded)    only while open
 *   outbox  outboxBucket / outboxAt (firedAt)    only while the outbox is set
 *
 * KEYS_ONLY because an index write is only due when an index key appears,
 * changes or disappears: a pending item whose accumulator changes batch after
 * batch costs no index write, whereas ALL or INCLUDE would copy the
 * accumulator (up to 400 KB) into the index on every update. The query is
 * followed by a strongly consistent BatchGetItem of the base items, which also
 * drops entries the eventually consistent index still shows after a change.
 *
 * Conditions enforced exactly as InMemoryStateStore does:
 *
 *   put,  expectedRevision null  ─ attribute_not_exists(pk)
 *   put/delete, revision r       ─ revision = r
 *   group of 1                   ─ PutItem / DeleteItem
 *   group of 2..100              ─ TransactWriteItems (all or nothing)
 *   failed condition             ─ `false` for that group (a lost race, not an error)
 *   throttling, 5xx, tx conflict ─ withRetry (capped exponential backoff, full jitter)
 *   anything else                ─ StateStoreError naming operator and key
 */
import {
  BatchGetItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError, WeirError, errorName } from '../../errors.ts';
import { systemClock, type Clock } from '../../ports/clock.ts';
import { keptJudgedView, progressRegresses } from '../../model/progress.ts';
import type { ShardId } from '../../model/position.ts';
import type { JudgedView, OperatorProgress, ShardProgress } from '../../model/progress.ts';
import type {
  OutboxAck,
  ScannableStateStore,
  WindowItem,
  WindowRef,
  WindowScanPage,
  WindowScanRequest,
  WindowWrite,
} from '../../ports/state-store.ts';
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
  MAX_ITEM_BYTES,
  StateAttr,
  StateIndex,
  WATERMARK_SORT_KEY,
  attributesToProgress,
  attributesToWindowItem,
  bucketValue,
  encodeTime,
  itemSizeBytes,
  judgedOthersValue,
  progressSortKey,
  progressToAttributes,
  windowItemToAttributes,
  windowPartitionKey,
  windowSortKey,
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

/** A state store request failed for a reason other than a lost condition or a passing throttle. */
export class StateStoreError extends WeirError {
  readonly operator: string;
  /** The logical key concerned, when one is. */
  readonly key: string | undefined;
  constructor(
    operator: string,
    key: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      `state store, operator ${operator}${key === undefined ? '' : `, key ${JSON.stringify(key)}`}: ${message}`,
      options,
    );
    this.operator = operator;
    this.key = key;
  }
}

/** A window item would exceed DynamoDB's 400 KB item limit (`sizeBytes`: the estimate, or the limit when DynamoDB refused it). */
export class StateItemTooLargeError extends StateStoreError {
  readonly sizeBytes: number;
  constructor(
    operator: string,
    key: string,
    window: { start: number; end: number } | undefined,
    sizeBytes: number,
    options?: { cause?: unknown },
  ) {
    super(
      operator,
      key,
      (window === undefined
        ? `a window item exceeds DynamoDB's item limit of ${MAX_ITEM_BYTES} bytes. `
        : `window [${window.start}, ${window.end}) is about ${sizeBytes} bytes; a DynamoDB item holds at most ${MAX_ITEM_BYTES}. `) +
        'Shrink the accumulator (e.g. a lower distinctApprox precision, fewer retained values) or shorten the key.',
      options,
    );
    this.sizeBytes = sizeBytes;
  }
}

/** TransactWriteItems accepts at most this many actions. */
export const MAX_TRANSACTION_ITEMS = 100;
const BATCH_GET_KEYS = 100;

type Send = (command: unknown) => Promise<unknown>;

function cancellationCodes(e: unknown): string[] {
  const reasons =
    (e as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code ?? 'None');
}

/** A transaction lost against another transaction (not against our condition): worth retrying. */
function isTransactionConflict(e: unknown): boolean {
  const name = errorName(e);
  if (name === 'TransactionConflictException' || name === 'TransactionInProgressException')
    return true;
  if (name !== 'TransactionCanceledException') return false;
  const codes = cancellationCodes(e);
  return (
    !codes.includes('ConditionalCheckFailed') &&
    codes.some(
      (c) =>
        c === 'TransactionConflict' ||
        c === 'ThrottlingError' ||
        c === 'ProvisionedThroughputExceeded',
    )
  );
}

function isConditionFailure(e: unknown): boolean {
  const name = errorName(e);
  if (name === 'ConditionalCheckFailedException') return true;
  return (
    name === 'TransactionCanceledException' &&
    cancellationCodes(e).includes('ConditionalCheckFailed')
  );
}

function isItemTooLarge(e: unknown): boolean {
  return (
    errorName(e) === 'ValidationException' &&
    /item size|maximum allowed size/i.test(e instanceof Error ? e.message : '')
  );
}

/**
 * The DynamoDB state store.
 *
 * @example
 * const clients = createAwsClients({ endpoints: endpointsFromEnv(process.env) });
 * const store = new DynamoDbStateStore({ client: clients.dynamodb, tableName: process.env.WEIR_STATE_TABLE! });
 * const operator = createWindowOperator(definition, { store, clock: systemClock });
 */
export class DynamoDbStateStore implements ScannableStateStore {
  private readonly send: Send;
  private readonly table: string;
  private readonly buckets: number;
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;
  private readonly clock: Clock;
  private readonly tombstoneTtlSeconds: number;

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

  async readProgress(operator: string): Promise<OperatorProgress> {
    checkOperator(operator);
    const items = await this.queryAll(operator, undefined, {
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': StateAttr.PK },
      ExpressionAttributeValues: { ':pk': { S: operator } },
      ConsistentRead: true,
    });
    let watermark: number | null = null;
    const shards: ShardProgress[] = [];
    for (const a of items) {
      const sk = a[StateAttr.SK]?.S;
      if (sk === WATERMARK_SORT_KEY) {
        const w = a[StateAttr.WATERMARK]?.N;
        watermark = w === undefined ? null : Number(w);
      } else if (sk?.startsWith('P#') === true) {
        shards.push(attributesToProgress(a));
      }
    }
    return { watermark, shards };
  }

  async writeShardProgress(operator: string, progress: ShardProgress): Promise<boolean> {
    checkOperator(operator);
    // Mirrors InMemoryStateStore: committed and watermark may only be kept or
    // raised, and the judged view becomes keptJudgedView(stored, written).
    // DynamoDB cannot take a maximum in an update, so the view is a
    // read-modify-write: the put assumes the stored view (none at first) and
    // is conditional on the stored view being no higher; when that fails,
    // the item is read and the put retried with the merged view.
    let stored: JudgedView | undefined;
    for (let attempt = 1; ; attempt++) {
      const judged = keptJudgedView(stored, progress);
      const { judged: _written, ...rest } = progress;
      const item = judged === undefined ? rest : { ...rest, judged };
      const names: Record<string, string> = {
        '#pk': StateAttr.PK,
        '#c': StateAttr.COMMITTED,
        '#w': StateAttr.WATERMARK,
      };
      const values: Record<string, AttributeValue> = {};
      const committed =
        progress.committed === null
          ? 'attribute_not_exists(#c)'
          : ((values[':c'] = { S: progress.committed }), '(attribute_not_exists(#c) OR #c <= :c)');
      const watermark =
        progress.watermark === null
          ? 'attribute_not_exists(#w)'
          : ((values[':w'] = { N: String(progress.watermark) }),
            '(attribute_not_exists(#w) OR #w <= :w)');
      const view = judgedCondition(judged, progress.committed, names, values);
      const ok = await this.conditional(
        operator,
        undefined,
        () =>
          new PutItemCommand({
            TableName: this.table,
            Item: progressToAttributes(operator, item),
            ConditionExpression: `attribute_not_exists(#pk) OR (${committed} AND ${watermark} AND ${view})`,
            ExpressionAttributeNames: names,
            ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
          }),
      );
      if (ok) return true;
      const current = await this.readShardProgress(operator, progress.shardId);
      if (current !== undefined && progressRegresses(current, progress)) return false;
      if (attempt >= MAX_PROGRESS_ATTEMPTS) {
        throw new StateStoreError(
          operator,
          undefined,
          `the progress of ${progress.shardId} kept changing under ${MAX_PROGRESS_ATTEMPTS} conditional writes; ` +
            'only the batch of a shard, the ticker and shard registration write it, so check for a second consumer of the shard',
        );
      }
      stored = current?.judged;
    }
  }

  /** One shard's progress item (consistent read), or `undefined` before it was first written. */
  private async readShardProgress(
    operator: string,
    shardId: ShardId,
  ): Promise<ShardProgress | undefined> {
    const out = (await this.call(
      operator,
      undefined,
      () =>
        new GetItemCommand({
          TableName: this.table,
          Key: { [StateAttr.PK]: { S: operator }, [StateAttr.SK]: { S: progressSortKey(shardId) } },
          ConsistentRead: true,
        }),
    )) as { Item?: Record<string, AttributeValue> };
    return out.Item === undefined ? undefined : attributesToProgress(out.Item);
  }

  async advanceWatermark(operator: string, watermark: number): Promise<number> {
    checkOperator(operator);
    if (!Number.isFinite(watermark))
      throw new StateStoreError(operator, undefined, `cannot store the watermark ${watermark}`);
    try {
      await this.call(
        operator,
        undefined,
        () =>
          new UpdateItemCommand({
            TableName: this.table,
            Key: { [StateAttr.PK]: { S: operator }, [StateAttr.SK]: { S: WATERMARK_SORT_KEY } },
            UpdateExpression: 'SET #w = :w',
            ConditionExpression: 'attribute_not_exists(#w) OR #w < :w',
            ExpressionAttributeNames: { '#w': StateAttr.WATERMARK },
            ExpressionAttributeValues: { ':w': { N: String(watermark) } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
      );
      return watermark;
    } catch (e) {
      if (!(e instanceof ConditionFailed)) throw e;
      const stored = e.item?.[StateAttr.WATERMARK]?.N;
      if (stored !== undefined) return Number(stored);
      // An emulator that ignores ReturnValuesOnConditionCheckFailure: read it.
      return (await this.readProgress(operator)).watermark ?? watermark;
    }
  }

  async getWindows(
    operator: string,
    refs: readonly WindowRef[],
  ): Promise<readonly (WindowItem | undefined)[]> {
    checkOperator(operator);
    const found = await this.batchGet(
      operator,
      refs.map((r) => ({
        pk: windowPartitionKey(operator, r.key),
        sk: windowSortKey(r.start, r.end),
      })),
    );
    return refs.map((r) => {
      const a = found.get(
        `${windowPartitionKey(operator, r.key)}\u0000${windowSortKey(r.start, r.end)}`,
      );
      return a === undefined ? undefined : attributesToWindowItem(a);
    });
  }

  async listKeyWindows(
    operator: string,
    keys: readonly string[],
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    checkOperator(operator);
    const unique = [...new Set(keys)];
    const lists = await this.all(unique, (key) =>
      this.queryAll(operator, key, {
        TableName: this.table,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :w)',
        ExpressionAttributeNames: { '#pk': StateAttr.PK, '#sk': StateAttr.SK },
        ExpressionAttributeValues: {
          ':pk': { S: windowPartitionKey(operator, key) },
          ':w': { S: 'W#' },
        },
        ConsistentRead: true,
      }),
    );
    const out = new Map<string, WindowItem[]>();
    unique.forEach((key, i) => out.set(key, (lists[i] ?? []).map(attributesToWindowItem)));
    for (const key of keys) if (!out.has(key)) out.set(key, []);
    return out;
  }

  async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
  ): Promise<readonly boolean[]> {
    checkOperator(operator);
    const expiresAt = Math.floor(this.clock.now() / 1000) + this.tombstoneTtlSeconds;
    return this.all(groups, (group) => this.writeGroup(operator, group, expiresAt));
  }

  async listDue(
    operator: string,
    watermark: number,
    limit: number,
  ): Promise<readonly WindowItem[]> {
    checkOperator(operator);
    if (!(limit > 0) || Number.isNaN(watermark) || watermark === -Infinity) return [];
    return this.listIndexed(
      operator,
      StateIndex.DUE,
      StateAttr.DUE_BUCKET,
      StateAttr.DUE_AT,
      watermark,
      limit,
      (item) => item.pending && !item.purged && item.end - 1 <= watermark,
    );
  }

  async listExpired(
    operator: string,
    watermark: number,
    limit: number,
  ): Promise<readonly WindowItem[]> {
    checkOperator(operator);
    if (!(limit > 0) || Number.isNaN(watermark) || watermark === -Infinity) return [];
    return this.listIndexed(
      operator,
      StateIndex.EXPIRY,
      StateAttr.EXPIRY_BUCKET,
      StateAttr.CLEANUP_AT,
      watermark,
      limit,
      (item) => !item.purged && item.cleanupAt < watermark,
    );
  }

  async listOutbox(operator: string, limit: number): Promise<readonly WindowItem[]> {
    checkOperator(operator);
    if (!(limit > 0)) return [];
    return this.listIndexed(
      operator,
      StateIndex.OUTBOX,
      StateAttr.OUTBOX_BUCKET,
      StateAttr.OUTBOX_AT,
      undefined,
      limit,
      (item) => item.outbox !== null,
    );
  }

  async ackOutbox(operator: string, acks: readonly OutboxAck[]): Promise<readonly boolean[]> {
    checkOperator(operator);
    return this.all(acks, (a) =>
      this.conditional(
        operator,
        a.key,
        () =>
          new UpdateItemCommand({
            TableName: this.table,
            Key: {
              [StateAttr.PK]: { S: windowPartitionKey(operator, a.key) },
              [StateAttr.SK]: { S: windowSortKey(a.start, a.end) },
            },
            UpdateExpression: 'REMOVE #o, #ob, #oa SET #rev = #rev + :one',
            ConditionExpression: '#o.#v = :v',
            ExpressionAttributeNames: {
              '#o': StateAttr.OUTBOX,
              '#ob': StateAttr.OUTBOX_BUCKET,
              '#oa': StateAttr.OUTBOX_AT,
              '#rev': StateAttr.REVISION,
              '#v': 'version',
            },
            ExpressionAttributeValues: { ':v': { N: String(a.version) }, ':one': { N: '1' } },
          }),
      ),
    );
  }

  /**
   * One page of a parallel Scan (`Segment` / `TotalSegments`, `Limit` items
   * evaluated, `ExclusiveStartKey` from the cursor) filtered to the
   * operator's window items (`begins_with(pk, "<operator>#") AND
   * begins_with(sk, "W#")`; progress and watermark items have `pk =
   * <operator>`). Strongly consistent (`ConsistentRead`): a checkpoint
   * captures progress first and needs every write acknowledged before it in
   * the items. The filter runs after the read, so a page may be empty and a
   * table shared by several operators is read whole by each one's scan.
   */
  async scanWindows(operator: string, request: WindowScanRequest): Promise<WindowScanPage> {
    checkOperator(operator);
    checkScanRequest(request);
    const start = request.cursor === null ? undefined : parseScanCursor(request.cursor);
    const page = (await this.call(
      operator,
      undefined,
      () =>
        new ScanCommand({
          TableName: this.table,
          Segment: request.segment,
          TotalSegments: request.totalSegments,
          Limit: request.limit,
          ConsistentRead: true,
          FilterExpression: 'begins_with(#pk, :op) AND begins_with(#sk, :w)',
          ExpressionAttributeNames: { '#pk': StateAttr.PK, '#sk': StateAttr.SK },
          ExpressionAttributeValues: { ':op': { S: `${operator}#` }, ':w': { S: 'W#' } },
          ...(start === undefined
            ? {}
            : {
                ExclusiveStartKey: {
                  [StateAttr.PK]: { S: start.pk },
                  [StateAttr.SK]: { S: start.sk },
                },
              }),
        }),
    )) as {
      Items?: Record<string, AttributeValue>[];
      LastEvaluatedKey?: Record<string, AttributeValue>;
    };
    const last = page.LastEvaluatedKey;
    const pk = last?.[StateAttr.PK]?.S;
    const sk = last?.[StateAttr.SK]?.S;
    return {
      items: (page.Items ?? []).map(attributesToWindowItem),
      cursor: pk === undefined || sk === undefined ? null : JSON.stringify({ pk, sk }),
    };
  }

  // -------------------------------------------------------------------------

  private async writeGroup(
    operator: string,
    group: readonly WindowWrite[],
    expiresAt: number,
  ): Promise<boolean> {
    if (group.length === 0) return true;
    const first = group[0] as WindowWrite;
    const firstKey = first.kind === 'put' ? first.item.key : first.ref.key;
    if (group.length > MAX_TRANSACTION_ITEMS) {
      throw new StateStoreError(
        operator,
        firstKey,
        `an atomic write group has ${group.length} writes; DynamoDB TransactWriteItems takes at most ${MAX_TRANSACTION_ITEMS}. ` +
          'A session merge this large means the session gap is too small for the data; raise it.',
      );
    }
    const actions = group.map((w) => this.action(operator, w, expiresAt));
    if (actions.length === 1) {
      const a = actions[0] as TransactWriteItem;
      return this.conditional(operator, firstKey, () =>
        a.Put !== undefined
          ? new PutItemCommand(a.Put)
          : new DeleteItemCommand(a.Delete as NonNullable<TransactWriteItem['Delete']>),
      );
    }
    return this.conditional(
      operator,
      firstKey,
      () => new TransactWriteItemsCommand({ TransactItems: actions }),
    );
  }

  private action(operator: string, w: WindowWrite, expiresAt: number): TransactWriteItem {
    const condition =
      w.expectedRevision === null
        ? {
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': StateAttr.PK },
          }
        : {
            ConditionExpression: '#rev = :expected',
            ExpressionAttributeNames: { '#rev': StateAttr.REVISION },
            ExpressionAttributeValues: { ':expected': { N: String(w.expectedRevision) } },
          };
    if (w.kind === 'delete') {
      return {
        Delete: {
          TableName: this.table,
          Key: {
            [StateAttr.PK]: { S: windowPartitionKey(operator, w.ref.key) },
            [StateAttr.SK]: { S: windowSortKey(w.ref.start, w.ref.end) },
          },
          ...condition,
        },
      };
    }
    const item = windowItemToAttributes(w.item, {
      operator,
      buckets: this.buckets,
      tombstoneExpiresAt: expiresAt,
    });
    const size = itemSizeBytes(item);
    if (size > MAX_ITEM_BYTES) throw new StateItemTooLargeError(operator, w.item.key, w.item, size);
    return { Put: { TableName: this.table, Item: item, ...condition } };
  }

  /**
   * Queries every bucket of an index in parallel (each up to `limit` keys, in
   * index order), merges them by index sort key, then reads the base items
   * strongly consistently in that order until `limit` pass `valid`.
   */
  private async listIndexed(
    operator: string,
    index: string,
    bucketAttr: string,
    sortAttr: string,
    upTo: number | undefined,
    limit: number,
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
        const item = attributesToWindowItem(a);
        if (valid(item)) out.push(item);
      }
    }
    return out;
  }

  /** BatchGetItem in chunks of 100 (in parallel), unprocessed keys retried with backoff. */
  private async batchGet(
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
  private async queryAll(
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
  private async conditional(
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
  private async call(
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
  private async all<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
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

/** Conditional progress writes before `writeShardProgress` gives up (only a second consumer makes them race). */
const MAX_PROGRESS_ATTEMPTS = 10;

/**
 * The condition under which putting a progress item with view `judged`
 * stores keptJudgedView(stored view, written progress): no stored view, or
 * one no higher than `judged` in every part (absent numbers are the
 * infinities of JudgedView); without a view, no stored view or one the
 * write commits past.
 */
function judgedCondition(
  judged: JudgedView | undefined,
  committed: string | null,
  names: Record<string, string>,
  values: Record<string, AttributeValue>,
): string {
  names['#ju'] = StateAttr.JUDGED_UP_TO;
  if (judged === undefined) {
    return committed === null
      ? 'attribute_not_exists(#ju)'
      : '(attribute_not_exists(#ju) OR #ju <= :c)';
  }
  values[':ju'] = { S: judged.upTo };
  const parts = ['#ju <= :ju'];
  names['#jp'] = StateAttr.JUDGED_PUBLISHED;
  if (Number.isFinite(judged.published)) {
    values[':jp'] = { N: String(judged.published) };
    parts.push('(attribute_not_exists(#jp) OR #jp <= :jp)');
  } else parts.push('attribute_not_exists(#jp)');
  const others = judgedOthersValue(judged.others);
  if (others !== undefined) {
    names['#jo'] = StateAttr.JUDGED_OTHERS;
    values[':jo'] = others;
    parts.push('#jo <= :jo');
  }
  return `(attribute_not_exists(#ju) OR (${parts.join(' AND ')}))`;
}

/** Internal: a condition failed (a domain conflict, surfaced as `false`). */
class ConditionFailed extends Error {
  constructor(readonly item: Record<string, AttributeValue> | undefined) {
    super('condition failed');
  }
}

function checkOperator(operator: string): void {
  // pk = <operator>#<key> is unambiguous only if the operator has no '#'.
  if (operator === '' || operator.includes('#')) {
    throw new ConfigError('operator', operator, "must be a non-empty name without '#'");
  }
}

function checkScanRequest(r: WindowScanRequest): void {
  if (!Number.isInteger(r.totalSegments) || r.totalSegments < 1 || r.totalSegments > 1_000_000)
    throw new ConfigError('totalSegments', r.totalSegments, 'must be an integer 1..1000000');
  if (!Number.isInteger(r.segment) || r.segment < 0 || r.segment >= r.totalSegments)
    throw new ConfigError('segment', r.segment, `must be an integer 0..${r.totalSegments - 1}`);
  if (!Number.isInteger(r.limit) || r.limit < 1)
    throw new ConfigError('limit', r.limit, 'must be a positive integer');
}

/** A scan cursor: the `pk` and `sk` of the page's LastEvaluatedKey. */
function parseScanCursor(cursor: string): { pk: string; sk: string } {
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
