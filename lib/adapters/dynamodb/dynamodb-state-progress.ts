/**
 * The DynamoDB state store's progress items: every shard's progress and the
 * operator watermark (whose item also holds the restore generation), with
 * the conditions that keep them monotonic and fenced. {@link DynamoDbStateStore}
 * extends it.
 */
import {
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { FencedError } from '../../errors.ts';
import type { ShardId } from '../../model/position.ts';
import { keptJudgedView, progressRegresses } from '../../model/progress.ts';
import { keptFailingRanges, keptReplayedSpans } from '../../model/shard-ranges.ts';
import type { JudgedView, ShardProgress } from '../../model/progress.ts';
import type { StoredProgress } from '../../ports/state-store.ts';
import { ConditionFailed, StateStoreError } from './dynamodb-state-errors.ts';
import {
  StateTable,
  checkOperator,
  generationCondition,
  generationNames,
} from './dynamodb-state-table.ts';
import {
  StateAttr,
  WATERMARK_SORT_KEY,
  attributesToProgress,
  failingJson,
  generationOf,
  judgedOthersValue,
  progressSortKey,
  progressToAttributes,
  replayedJson,
} from './state-codec.ts';

/** Conditional progress writes before `writeShardProgress` gives up (only a second consumer makes them race). */
const MAX_PROGRESS_ATTEMPTS = 10;

/** Progress and watermark operations of {@link DynamoDbStateStore}. */
export class ProgressTable extends StateTable {
  async readProgress(operator: string): Promise<StoredProgress> {
    checkOperator(operator);
    const items = await this.queryAll(operator, undefined, {
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': StateAttr.PK },
      ExpressionAttributeValues: { ':pk': { S: operator } },
      ConsistentRead: true,
    });
    let watermark: number | null = null;
    let generation = 0;
    const shards: { a: Record<string, AttributeValue>; p: ShardProgress }[] = [];
    for (const a of items) {
      const sk = a[StateAttr.SK]?.S;
      if (sk === WATERMARK_SORT_KEY) {
        const w = a[StateAttr.WATERMARK]?.N;
        watermark = w === undefined ? null : Number(w);
        generation = generationOf(a);
      } else if (sk?.startsWith('P#') === true) {
        shards.push({ a, p: attributesToProgress(a) });
      }
    }
    // Progress of a lower generation (a fenced writer's, after a restore) is absent.
    return {
      watermark,
      shards: shards.filter((s) => generationOf(s.a) >= generation).map((s) => s.p),
      generation,
    };
  }

  async writeShardProgress(
    operator: string,
    progress: ShardProgress,
    generation: number,
  ): Promise<boolean> {
    checkOperator(operator);
    // Mirrors InMemoryStateStore: committed and watermark may only be kept or
    // raised, and the judged view becomes keptJudgedView(stored, written).
    // DynamoDB cannot take a maximum in an update, so the view is a
    // read-modify-write: the put assumes the stored view (none at first) and
    // is conditional on the stored view being no higher; when that fails,
    // the item is read and the put retried with the merged view. An item of
    // a lower generation is absent (replaced); one of a higher one fences.
    // The failing ranges and replayed spans likewise: the first put assumes
    // the stored ones are those the writer passes (it read them), and is
    // conditional on exactly those being stored.
    let stored: ShardProgress | undefined;
    for (let attempt = 1; ; attempt++) {
      const judged = keptJudgedView(stored?.judged, progress);
      const base = stored ?? progress;
      const failing = keptFailingRanges(base.failing, progress.failing, progress.settles);
      const replayed = keptReplayedSpans(base.replayed, progress.replayed);
      const { judged: _j, failing: _f, replayed: _r, settles: _s, ...rest } = progress;
      const item: ShardProgress = {
        ...rest,
        ...(judged === undefined ? {} : { judged }),
        ...(failing === undefined ? {} : { failing }),
        ...(replayed === undefined ? {} : { replayed }),
      };
      const names: Record<string, string> = {
        '#pk': StateAttr.PK,
        '#c': StateAttr.COMMITTED,
        '#w': StateAttr.WATERMARK,
      };
      const values: Record<string, AttributeValue> = {};
      generationNames(names, values, generation);
      const committed =
        progress.committed === null
          ? 'attribute_not_exists(#c)'
          : ((values[':c'] = { S: progress.committed }), '(attribute_not_exists(#c) OR #c <= :c)');
      const watermark =
        progress.watermark === null
          ? 'attribute_not_exists(#w)'
          : ((values[':w'] = { N: String(progress.watermark) }),
            '(attribute_not_exists(#w) OR #w <= :w)');
      const view = [
        judgedCondition(judged, progress.committed, names, values),
        storedEquals('#fr', StateAttr.FAILING, failingJson(base.failing), names, values),
        storedEquals('#rp', StateAttr.REPLAYED, replayedJson(base.replayed), names, values),
      ].join(' AND ');
      const lower = generationCondition.lower(generation);
      const same = generationCondition.same(generation);
      const ok = await this.conditional(
        operator,
        undefined,
        () =>
          new PutItemCommand({
            TableName: this.table,
            Item: progressToAttributes(operator, item, generation),
            ConditionExpression:
              `attribute_not_exists(#pk) OR ${lower === undefined ? '' : `${lower} OR `}` +
              `(${same} AND ${committed} AND ${watermark} AND ${view})`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
      );
      if (ok) return true;
      const current = await this.readShardProgress(operator, progress.shardId, generation);
      if (current !== undefined && progressRegresses(current, progress)) return false;
      if (attempt >= MAX_PROGRESS_ATTEMPTS) {
        throw new StateStoreError(
          operator,
          undefined,
          `the progress of ${progress.shardId} kept changing under ${MAX_PROGRESS_ATTEMPTS} conditional writes; ` +
            'only the batch of a shard, the ticker and shard registration write it, so check for a second consumer of the shard',
        );
      }
      stored = current;
    }
  }

  /**
   * One shard's progress item (consistent read), or `undefined` before it was
   * first written or when it is of a lower generation; FencedError when it
   * is of a higher one.
   */
  private async readShardProgress(
    operator: string,
    shardId: ShardId,
    generation: number,
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
    if (out.Item === undefined || !this.ofGeneration(operator, out.Item, generation))
      return undefined;
    return attributesToProgress(out.Item);
  }

  async advanceWatermark(operator: string, watermark: number, generation: number): Promise<number> {
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
            ConditionExpression: `${generationCondition.same(generation)} AND (attribute_not_exists(#w) OR #w < :w)`,
            ExpressionAttributeNames: { '#w': StateAttr.WATERMARK, '#gen': StateAttr.GENERATION },
            ExpressionAttributeValues: {
              ':w': { N: String(watermark) },
              ':g': { N: String(generation) },
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
      );
      return watermark;
    } catch (e) {
      if (!(e instanceof ConditionFailed)) throw e;
      let g: number;
      let w: number | null;
      if (e.item !== undefined) {
        g = generationOf(e.item);
        const n = e.item[StateAttr.WATERMARK]?.N;
        w = n === undefined ? null : Number(n);
      } else {
        // An emulator that ignores ReturnValuesOnConditionCheckFailure: read it.
        const stored = await this.readProgress(operator);
        g = stored.generation;
        w = stored.watermark;
      }
      if (g !== generation) throw new FencedError(operator, generation, g);
      return w ?? watermark;
    }
  }
}

/** The condition that attribute `attr` holds exactly `value` (`undefined`: is absent). */
function storedEquals(
  name: string,
  attr: string,
  value: string | undefined,
  names: Record<string, string>,
  values: Record<string, AttributeValue>,
): string {
  names[name] = attr;
  if (value === undefined) return `attribute_not_exists(${name})`;
  values[`:${name.slice(1)}`] = { S: value };
  return `${name} = :${name.slice(1)}`;
}

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
