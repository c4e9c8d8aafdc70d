/**
 * DynamoDbStateStore: the {@link StateStore} port on one DynamoDB table (the
 * construct's state table). Layout, indexes and capacity: docs/state-table.md.
 *
 *   window item   pk = <operator>#<key>   sk = W#<start>#<end>   (times: t + 2^53, 17 digits)
 *   progress item pk = <operator>         sk = P#<shardId>
 *   watermark     pk = <operator>         sk = W
 *   session head  pk = <operator>#<key>   sk = H   (revision = the key's head version)
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
 *   put,  expectedRevision null  ─ attribute_not_exists(pk) OR the item's gen < g
 *   put/delete, revision r       ─ revision = r AND the item's gen = g
 *   group of 1                   ─ PutItem / DeleteItem
 *   session head, version v      ─ as a put of expectedRevision v (v = 0: null), writing v + 1
 *   group of 2..100              ─ TransactWriteItems (all or nothing)
 *   failed condition             ─ `false` for that group (a lost race, not an error)
 *   throttling, 5xx, tx conflict ─ withRetry (capped exponential backoff, full jitter)
 *   anything else                ─ StateStoreError naming operator and key
 *
 * Restore generation (docs/recovery.md "Restore generation and fencing"):
 * every item carries `gen` (absent: 0); the watermark item's is the
 * operator's. Reads drop items of a lower generation than the caller's and
 * throw FencedError on a higher one; writes are conditional on it as above,
 * and a failed condition caused by a higher generation is a FencedError.
 *
 * The table access (retries, queries, batched reads, index listings) is in
 * dynamodb-state-table.ts, the restore operations in dynamodb-state-restore.ts.
 */
import {
  DeleteItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import type {
  OutboxAck,
  RestorableStateStore,
  ScannableStateStore,
  WindowItem,
  WindowRef,
  WindowScanPage,
  WindowScanRequest,
  WindowWrite,
} from '../../ports/state-store.ts';
import { StateItemTooLargeError, StateStoreError } from './dynamodb-state-errors.ts';
import { RestoreTable } from './dynamodb-state-restore.ts';
import {
  MAX_TRANSACTION_ITEMS,
  checkOperator,
  checkScanRequest,
  generationCondition,
  generationNames,
  parseScanCursor,
} from './dynamodb-state-table.ts';
import {
  MAX_ITEM_BYTES,
  StateAttr,
  StateIndex,
  attributesToWindowItem,
  itemSizeBytes,
  windowItemToAttributes,
  windowPartitionKey,
  windowSortKey,
} from './state-codec.ts';

export { StateItemTooLargeError, StateStoreError } from './dynamodb-state-errors.ts';

/** Sort key of a key's session head, in the key's partition (`W#` window items sort after it). */
const SESSION_HEAD_SORT_KEY = 'H';
export { MAX_TRANSACTION_ITEMS } from './dynamodb-state-table.ts';
export type { DynamoDbStateStoreOptions } from './dynamodb-state-table.ts';

/**
 * The DynamoDB state store.
 *
 * @example
 * const clients = createAwsClients({ endpoints: endpointsFromEnv(process.env) });
 * const store = new DynamoDbStateStore({ client: clients.dynamodb, tableName: process.env.WEIR_STATE_TABLE! });
 * const operator = createWindowOperator(definition, { store, clock: systemClock });
 */
export class DynamoDbStateStore
  extends RestoreTable
  implements ScannableStateStore, RestorableStateStore
{
  async getWindows(
    operator: string,
    refs: readonly WindowRef[],
    generation: number,
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
      return a === undefined || !this.ofGeneration(operator, a, generation)
        ? undefined
        : attributesToWindowItem(a);
    });
  }

  async readSessionHeads(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<readonly number[]> {
    checkOperator(operator);
    const pks = keys.map((k) => windowPartitionKey(operator, k));
    const found = await this.batchGet(
      operator,
      pks.map((pk) => ({ pk, sk: SESSION_HEAD_SORT_KEY })),
    );
    return pks.map((pk) => {
      const a = found.get(`${pk}\u0000${SESSION_HEAD_SORT_KEY}`);
      if (a === undefined || !this.ofGeneration(operator, a, generation)) return 0;
      return Number(a[StateAttr.REVISION]?.N ?? 0);
    });
  }

  async listKeyWindows(
    operator: string,
    keys: readonly string[],
    generation: number,
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
    unique.forEach((key, i) =>
      out.set(
        key,
        (lists[i] ?? [])
          .filter((a) => this.ofGeneration(operator, a, generation))
          .map(attributesToWindowItem),
      ),
    );
    for (const key of keys) if (!out.has(key)) out.set(key, []);
    return out;
  }

  async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    checkOperator(operator);
    const expiresAt = Math.floor(this.clock.now() / 1000) + this.tombstoneTtlSeconds;
    return this.all(groups, (group) => this.writeGroup(operator, group, expiresAt, generation));
  }

  async listDue(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
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
      generation,
      (item) => item.pending && !item.purged && item.end - 1 <= watermark,
    );
  }

  async listExpired(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
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
      generation,
      (item) => !item.purged && item.cleanupAt < watermark,
    );
  }

  async listOutbox(
    operator: string,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]> {
    checkOperator(operator);
    if (!(limit > 0)) return [];
    return this.listIndexed(
      operator,
      StateIndex.OUTBOX,
      StateAttr.OUTBOX_BUCKET,
      StateAttr.OUTBOX_AT,
      undefined,
      limit,
      generation,
      (item) => item.outbox !== null,
    );
  }

  async ackOutbox(
    operator: string,
    acks: readonly OutboxAck[],
    generation: number,
  ): Promise<readonly boolean[]> {
    checkOperator(operator);
    return this.all(acks, (a) => {
      const names: Record<string, string> = {
        '#o': StateAttr.OUTBOX,
        '#ob': StateAttr.OUTBOX_BUCKET,
        '#oa': StateAttr.OUTBOX_AT,
        '#rev': StateAttr.REVISION,
        '#v': 'version',
        '#og': 'generation',
      };
      const values: Record<string, AttributeValue> = {
        ':v': { N: String(a.version) },
        ':one': { N: '1' },
      };
      generationNames(names, values, generation);
      // The outbox's generation is stored only when above 0.
      const outboxGeneration =
        a.generation === 0
          ? 'attribute_not_exists(#o.#og)'
          : ((values[':og'] = { N: String(a.generation) }), '#o.#og = :og');
      return this.conditional(
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
            ConditionExpression: `#o.#v = :v AND ${outboxGeneration} AND ${generationCondition.same(generation)}`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
      );
    });
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
    const g = request.generation;
    const items = (page.Items ?? []).filter(
      (a) => g === undefined || this.ofGeneration(operator, a, g),
    );
    return {
      items: items.map(attributesToWindowItem),
      cursor: pk === undefined || sk === undefined ? null : JSON.stringify({ pk, sk }),
    };
  }

  // -------------------------------------------------------------------------

  private async writeGroup(
    operator: string,
    group: readonly WindowWrite[],
    expiresAt: number,
    generation: number,
  ): Promise<boolean> {
    if (group.length === 0) return true;
    const first = group[0] as WindowWrite;
    const firstKey =
      first.kind === 'put' ? first.item.key : first.kind === 'head' ? first.key : first.ref.key;
    if (group.length > MAX_TRANSACTION_ITEMS) {
      throw new StateStoreError(
        operator,
        firstKey,
        `an atomic write group has ${group.length} writes; DynamoDB TransactWriteItems takes at most ${MAX_TRANSACTION_ITEMS}. ` +
          'A session merge this large means the session gap is too small for the data; raise it.',
      );
    }
    const actions = group.map((w) => this.action(operator, w, expiresAt, generation));
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

  private action(
    operator: string,
    w: WindowWrite,
    expiresAt: number,
    generation: number,
  ): TransactWriteItem {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    let expression: string;
    const expected = w.kind !== 'head' ? w.expectedRevision : w.expectedVersion || null;
    if (expected === null) {
      // An item of a lower generation is absent to this writer: it may replace it.
      names['#pk'] = StateAttr.PK;
      const lower = generationCondition.lower(generation);
      if (lower !== undefined) generationNames(names, values, generation);
      expression =
        lower === undefined ? 'attribute_not_exists(#pk)' : `attribute_not_exists(#pk) OR ${lower}`;
    } else {
      names['#rev'] = StateAttr.REVISION;
      values[':expected'] = { N: String(expected) };
      generationNames(names, values, generation);
      expression = `#rev = :expected AND ${generationCondition.same(generation)}`;
    }
    const condition = {
      ConditionExpression: expression,
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    };
    if (w.kind === 'head') {
      const head: Record<string, AttributeValue> = {
        [StateAttr.PK]: { S: windowPartitionKey(operator, w.key) },
        [StateAttr.SK]: { S: SESSION_HEAD_SORT_KEY },
        [StateAttr.REVISION]: { N: String(w.expectedVersion + 1) },
        [StateAttr.EXPIRES_AT]: { N: String(expiresAt) },
        ...(generation > 0 ? { [StateAttr.GENERATION]: { N: String(generation) } } : {}),
      };
      return { Put: { TableName: this.table, Item: head, ...condition } };
    }
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
      generation,
    });
    const size = itemSizeBytes(item);
    if (size > MAX_ITEM_BYTES) throw new StateItemTooLargeError(operator, w.item.key, w.item, size);
    return { Put: { TableName: this.table, Item: item, ...condition } };
  }
}
