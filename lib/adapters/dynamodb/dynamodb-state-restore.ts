/**
 * The DynamoDB state store's restore operations (the `RestorableStateStore`
 * port; lib/core/checkpoint/restore-state.ts orchestrates them):
 *
 *   raiseGeneration   watermark item: ADD gen 1            (fences every caller of the old one)
 *   clearState        delete window and progress items of a lower gen; REMOVE watermark
 *   loadWindows       put each checkpoint item with gen = g  (replaces lower-gen items)
 *   resetProgress     put each shard's progress with gen = g; SET/REMOVE watermark
 *
 * Each call first checks that the operator's generation is still `g` (a
 * newer restore fences an older one), and every put is conditional on the
 * target being of generation `g` or lower. A write a fenced batch makes
 * after `clearState` passed its item is stored under the old generation,
 * which every reader of `g` treats as absent.
 */
import {
  DeleteItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { FencedError } from '../../errors.ts';
import type { OperatorProgress } from '../../model/progress.ts';
import type { WindowItem } from '../../ports/state-store.ts';
import { ProgressTable } from './dynamodb-state-progress.ts';
import { StateItemTooLargeError } from './dynamodb-state-errors.ts';
import { generationCondition, generationNames } from './dynamodb-state-table.ts';
import {
  MAX_ITEM_BYTES,
  StateAttr,
  WATERMARK_SORT_KEY,
  generationOf,
  itemSizeBytes,
  progressToAttributes,
  windowItemToAttributes,
} from './state-codec.ts';

type Key = Record<string, AttributeValue>;

/** Restore operations of {@link DynamoDbStateStore}. */
export class RestoreTable extends ProgressTable {
  /** Raises the operator's restore generation by one (ADD on the watermark item); returns it. */
  async raiseGeneration(operator: string): Promise<number> {
    const out = (await this.call(
      operator,
      undefined,
      () =>
        new UpdateItemCommand({
          TableName: this.table,
          Key: watermarkKey(operator),
          UpdateExpression: 'ADD #gen :one',
          ExpressionAttributeNames: { '#gen': StateAttr.GENERATION },
          ExpressionAttributeValues: { ':one': { N: '1' } },
          ReturnValues: 'UPDATED_NEW',
        }),
    )) as { Attributes?: Key };
    return generationOf(out.Attributes);
  }

  /**
   * Deletes the operator's window items (a Scan of the table filtered to
   * the operator's window items) and progress items of a lower
   * generation, then removes the watermark. Returns how many items it deleted.
   */
  async clearState(operator: string, generation: number): Promise<number> {
    await this.checkGeneration(operator, generation);
    const keys: Key[] = [];
    const progress = await this.queryAll(operator, undefined, {
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :p)',
      ExpressionAttributeNames: { '#pk': StateAttr.PK, '#sk': StateAttr.SK },
      ExpressionAttributeValues: { ':pk': { S: operator }, ':p': { S: 'P#' } },
      ConsistentRead: true,
    });
    for (const a of progress) if (generationOf(a) < generation) keys.push(keyOf(a));
    let start: Key | undefined;
    do {
      const page = (await this.call(
        operator,
        undefined,
        () =>
          new ScanCommand({
            TableName: this.table,
            ConsistentRead: true,
            ProjectionExpression: '#pk, #sk, #gen',
            FilterExpression: 'begins_with(#pk, :op) AND begins_with(#sk, :w)',
            ExpressionAttributeNames: {
              '#pk': StateAttr.PK,
              '#sk': StateAttr.SK,
              '#gen': StateAttr.GENERATION,
            },
            ExpressionAttributeValues: { ':op': { S: `${operator}#` }, ':w': { S: 'W#' } },
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
      )) as { Items?: Key[]; LastEvaluatedKey?: Key };
      for (const a of page.Items ?? []) if (generationOf(a) < generation) keys.push(keyOf(a));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    const deleted = await this.all(keys, (key) =>
      this.conditional(
        operator,
        undefined,
        () =>
          new DeleteItemCommand({
            TableName: this.table,
            Key: key,
            // Only what is still of a lower generation (never a restored item).
            ConditionExpression:
              generationCondition.lower(generation) ?? 'attribute_not_exists(#gen)',
            ExpressionAttributeNames: { '#gen': StateAttr.GENERATION },
            ...(generation > 0
              ? { ExpressionAttributeValues: { ':g': { N: String(generation) } } }
              : {}),
          }),
      ),
    );
    await this.setWatermark(operator, null, generation);
    return deleted.filter((x) => x).length;
  }

  /** Puts checkpoint items under `generation`, replacing items of a lower one. */
  async loadWindows(
    operator: string,
    items: readonly WindowItem[],
    generation: number,
  ): Promise<void> {
    await this.checkGeneration(operator, generation);
    const expiresAt = Math.floor(this.clock.now() / 1000) + this.tombstoneTtlSeconds;
    await this.all(items, async (item) => {
      const a = windowItemToAttributes(item, {
        operator,
        buckets: this.buckets,
        tombstoneExpiresAt: expiresAt,
        generation,
      });
      const size = itemSizeBytes(a);
      if (size > MAX_ITEM_BYTES) throw new StateItemTooLargeError(operator, item.key, item, size);
      await this.putAtMost(operator, a, generation, item.key);
    });
  }

  /** Puts every shard's progress under `generation` (unconditionally on positions) and sets the watermark. */
  async resetProgress(
    operator: string,
    progress: OperatorProgress,
    generation: number,
  ): Promise<void> {
    await this.checkGeneration(operator, generation);
    await this.all(progress.shards, (p) =>
      this.putAtMost(operator, progressToAttributes(operator, p, generation), generation),
    );
    await this.setWatermark(operator, progress.watermark, generation);
  }

  /** A put conditional on the target being of `generation` or lower; FencedError otherwise. */
  private async putAtMost(
    operator: string,
    item: Key,
    generation: number,
    key?: string,
  ): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    generationNames(names, values, generation);
    const ok = await this.conditional(
      operator,
      key,
      () =>
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: generationCondition.atMost(),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
    );
    if (!ok) throw new FencedError(operator, generation, undefined);
  }

  /** Sets (or removes, for `null`) the operator watermark, if the operator is still of `generation`. */
  private async setWatermark(
    operator: string,
    watermark: number | null,
    generation: number,
  ): Promise<void> {
    const ok = await this.conditional(
      operator,
      undefined,
      () =>
        new UpdateItemCommand({
          TableName: this.table,
          Key: watermarkKey(operator),
          UpdateExpression: watermark === null ? 'REMOVE #w' : 'SET #w = :w',
          ConditionExpression: generationCondition.same(generation),
          ExpressionAttributeNames: { '#w': StateAttr.WATERMARK, '#gen': StateAttr.GENERATION },
          ExpressionAttributeValues: {
            ':g': { N: String(generation) },
            ...(watermark === null ? {} : { ':w': { N: String(watermark) } }),
          },
        }),
    );
    if (!ok) throw new FencedError(operator, generation, undefined);
  }
}

function watermarkKey(operator: string): Key {
  return { [StateAttr.PK]: { S: operator }, [StateAttr.SK]: { S: WATERMARK_SORT_KEY } };
}

function keyOf(a: Key): Key {
  return {
    [StateAttr.PK]: a[StateAttr.PK] as AttributeValue,
    [StateAttr.SK]: a[StateAttr.SK] as AttributeValue,
  };
}
