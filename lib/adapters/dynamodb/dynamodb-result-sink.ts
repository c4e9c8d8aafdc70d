/**
 * DynamoDbResultSink: window results in a DynamoDB table, one item per
 * (operator, key, window), holding the highest ordering (generation,
 * version) fired so far.
 *
 * Results-table layout (both keys are strings):
 *
 * | attribute     | type | content                                                        |
 * |---------------|------|----------------------------------------------------------------|
 * | `pk`          | S    | `<uri(operator)>#<uri(key)>`: all windows of one key together   |
 * | `sk`          | S    | `W#<start 16 digits>#<end 16 digits>`: windows in time order    |
 * | `operator`    | S    | operator name                                                  |
 * | `key`         | S    | logical key                                                    |
 * | `windowStart` | N    | window start, epoch ms (inclusive)                             |
 * | `windowEnd`   | N    | window end, epoch ms (exclusive)                               |
 * | `version`     | N    | 1 for the first firing, +1 per late re-firing                  |
 * | `generation`  | N    | restore generation of the firing; absent for 0                 |
 * | `id`          | S    | the result id (`resultId`)                                     |
 * | `value`       | S    | the result value as JSON text (lossless: DynamoDB numbers cannot hold every JSON number) |
 * | `firedAt`     | N    | processing time of the firing, when given                      |
 * | `retracted`   | BOOL | `true` on a retraction (version 0, value `null`); absent otherwise |
 *
 * (`uri` is encodeURIComponent, so `#` never occurs inside a part. The
 * zero-padded window bounds sort correctly for windows at or after 1970.)
 *
 * Exactly-once effect: every write is a conditional PutItem that applies
 * only over a lower ordering: `attribute_not_exists(pk) OR generation < :g
 * OR (generation = :g AND version < :v)` (an absent generation is 0), so
 * re-writing a firing is a no-op (`already-present`) and an older one never
 * replaces a newer one (`superseded`), whatever the order retries and
 * concurrent writers arrive in. A window re-fired after a restore carries a
 * higher generation and replaces the earlier result whatever its version
 * (docs/recovery.md, "Corrections").
 * The failed condition returns the stored item (ReturnValuesOnConditionCheckFailure
 * ALL_OLD) to tell the two apart without a second read.
 *
 * Superseded sessions: a result that `supersedes` earlier windows (fired
 * sessions merged into it) turns each of their items into a marker with
 * `version` = {@link SUPERSEDED_VERSION} and `supersededBy` = the new result's
 * id, by the same conditional put. The marker outranks every real version of
 * its generation and below, so a late or re-driven write of the old session
 * can never bring it back; a later generation's result replaces it.
 * Readers skip markers ({@link isSupersededItem}).
 *
 * Retractions (lib/model/retraction.ts): a restore's "this window has no
 * result" is written by the same conditional put at (generation, 0), so it
 * replaces every result of an older generation, is refused over any firing
 * of its own, and a later firing replaces it. The item stays as a marker
 * (`retracted` true) rather than being deleted, so the ordering it holds
 * keeps refusing late writes of the older generations. Readers skip it
 * ({@link isRetractedItem}).
 *
 * BatchWriteItem is NOT usable here: it accepts no condition expressions, so
 * it could regress a newer version on a retried batch.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ConfigError, describeError, errorName } from '../../errors.ts';
import type { JsonValue } from '../../model/json.ts';
import { compareResultOrder, type WindowResult } from '../../model/records.ts';
import type { TimeWindow } from '../../model/time-window.ts';
import { SinkError } from '../../ports/errors.ts';
import {
  SinkOutcome,
  type Sink,
  type SinkItemReport,
  type SinkWriteReport,
} from '../../ports/sink.ts';
import { intOption } from '../../util/int-option.ts';
import { mapSettled } from '../../util/map-settled.ts';
import { retryPolicy, withRetry, type RetryOptions, type RetryPolicy } from '../retry.ts';
import { sinkWriteReport } from '../sink-report.ts';

/** Options of {@link DynamoDbResultSink}. */
export interface DynamoDbResultSinkProps {
  /** A DynamoDB client (see `createAwsClients`). */
  readonly client: DynamoDBClient;
  /** The results table: partition key `pk` (S), sort key `sk` (S). */
  readonly tableName: string;
  /** Conditional writes in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Backoff of transient errors (see {@link RetryOptions}). @default 8 attempts, 25 ms base, 5 s cap */
  readonly retry?: RetryOptions;
}

/** The partition key of a result item. */
export function resultPartitionKey(operator: string, key: string): string {
  return `${encodeURIComponent(operator)}#${encodeURIComponent(key)}`;
}

/** The sort key of a result item. */
export function resultSortKey(window: TimeWindow): string {
  const pad = (n: number): string =>
    n < 0 ? `-${String(-n).padStart(16, '0')}` : String(n).padStart(16, '0');
  return `W#${pad(window.start)}#${pad(window.end)}`;
}

/**
 * Writes window results to DynamoDB, idempotently and never regressing.
 *
 * @example
 * const sink = new DynamoDbResultSink({ client: clients.dynamodb, tableName: 'weir-results' });
 * const report = await sink.write([windowResult({ operator: 'clicks', key: 'u1', window, value: 3, version: 1 })]);
 */
export class DynamoDbResultSink implements Sink<WindowResult> {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #concurrency: number;
  readonly #retry: RetryPolicy;

  constructor(props: DynamoDbResultSinkProps) {
    if (!props.tableName)
      throw new ConfigError('tableName', props.tableName, 'must be a non-empty table name');
    const concurrency = intOption('concurrency', props.concurrency, 16, 1, 1000);
    this.#client = props.client;
    this.#tableName = props.tableName;
    this.#concurrency = concurrency;
    this.#retry = retryPolicy(props.retry, { field: 'retry' });
  }

  async write(items: readonly WindowResult[]): Promise<SinkWriteReport> {
    const settled = await mapSettled(items, this.#concurrency, (item, index) =>
      this.#writeOne(item, index),
    );
    const done: SinkItemReport[] = [];
    const unwritten: WindowResult[] = [];
    let firstError: unknown;
    let retryable = true;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') done.push(s.value);
      else {
        unwritten.push(items[i] as WindowResult);
        firstError ??= s.reason;
        if (isPermanent(s.reason)) retryable = false;
      }
    });
    if (unwritten.length > 0) {
      throw new SinkError<WindowResult>(
        `DynamoDbResultSink(${this.#tableName})`,
        `write failed: ${describeError(firstError)}`,
        { unwritten, report: sinkWriteReport(done), retryable, cause: firstError },
      );
    }
    return sinkWriteReport(done);
  }

  async #writeOne(item: WindowResult, index: number): Promise<SinkItemReport> {
    // Mask superseded sessions first: if this write then fails, a re-drive repeats both.
    for (const w of item.supersedes ?? [])
      await this.#put(supersededMarker(item, w), SUPERSEDED_VERSION);
    return this.#put(item, item.version, index);
  }

  async #put(item: WindowResult, version: number, index = -1): Promise<SinkItemReport> {
    const generation = item.generation ?? 0;
    const key = {
      pk: { S: resultPartitionKey(item.operator, item.key) },
      sk: { S: resultSortKey(item.window) },
    };
    try {
      await withRetry(
        () =>
          this.#client.send(
            new PutItemCommand({
              TableName: this.#tableName,
              Item: {
                ...key,
                ...toAttributes(item),
                ...(version === SUPERSEDED_VERSION ? { supersededBy: { S: item.id } } : {}),
              },
              ConditionExpression:
                generation === 0
                  ? 'attribute_not_exists(pk) OR ((attribute_not_exists(#g) OR #g = :g) AND version < :v)'
                  : 'attribute_not_exists(pk) OR attribute_not_exists(#g) OR #g < :g OR (#g = :g AND version < :v)',
              ExpressionAttributeNames: { '#g': 'generation' },
              ExpressionAttributeValues: {
                ':v': { N: String(version) },
                ':g': { N: String(generation) },
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          ),
        this.#retry,
      );
      return { index, outcome: SinkOutcome.Written };
    } catch (error) {
      if (
        !(error instanceof ConditionalCheckFailedException) &&
        errorName(error) !== 'ConditionalCheckFailedException'
      ) {
        throw error;
      }
      // The condition failed, so an item with an ordering >= ours exists. ALL_OLD
      // says which; emulators that ignore it (dynalite) get a consistent read.
      let stored = orderingOf((error as { Item?: Record<string, AttributeValue> }).Item);
      if (stored === undefined) {
        const got = await withRetry(
          () =>
            this.#client.send(
              new GetItemCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }),
            ),
          this.#retry,
        );
        stored = orderingOf(got.Item) ?? { generation, version };
      }
      return compareResultOrder(stored, { generation, version }) > 0
        ? { index, outcome: SinkOutcome.Superseded, storedVersion: stored.version }
        : { index, outcome: SinkOutcome.AlreadyPresent, storedVersion: stored.version };
    }
  }
}

/**
 * The `version` of a marker left where a session result was superseded by a
 * merged session: above every real version, so the condition `version < :v`
 * rejects any later write of the old window.
 */
export const SUPERSEDED_VERSION = Number.MAX_SAFE_INTEGER;

/** True for a marker item of a superseded session (not a result). */
export function isSupersededItem(item: Record<string, AttributeValue>): boolean {
  return item['supersededBy']?.S !== undefined;
}

function supersededMarker(by: WindowResult, window: TimeWindow): WindowResult {
  return {
    operator: by.operator,
    key: by.key,
    window,
    value: null,
    version: SUPERSEDED_VERSION,
    ...(by.generation !== undefined && by.generation > 0 ? { generation: by.generation } : {}),
    id: by.id,
  };
}

/**
 * True for a retraction (the window has no result; docs/sinks.md
 * "Retractions"): a reader of current results skips it.
 */
export function isRetractedItem(item: Record<string, AttributeValue>): boolean {
  return item['retracted']?.BOOL === true;
}

/**
 * Reads a stored item back into a {@link WindowResult} (for tools and tests);
 * a retraction comes back with `retracted: true` ({@link isRetractedItem}).
 * Throws for a superseded-session marker: filter with {@link isSupersededItem}.
 */
export function fromResultItem(item: Record<string, AttributeValue>): WindowResult {
  if (isSupersededItem(item)) {
    throw new TypeError(
      `result item ${item['sk']?.S ?? ''} is a superseded-session marker (skip it with isSupersededItem)`,
    );
  }
  const s = (name: string): string => {
    const v = item[name]?.S;
    if (v === undefined) throw new TypeError(`result item has no string attribute ${name}`);
    return v;
  };
  const n = (name: string): number => Number(item[name]?.N);
  const firedAt = item['firedAt']?.N;
  return {
    operator: s('operator'),
    key: s('key'),
    window: { start: n('windowStart'), end: n('windowEnd') },
    value: JSON.parse(s('value')) as JsonValue,
    version: n('version'),
    ...(item['generation']?.N === undefined ? {} : { generation: n('generation') }),
    id: s('id'),
    ...(firedAt === undefined ? {} : { firedAt: Number(firedAt) }),
    ...(item['supersedes']?.S === undefined
      ? {}
      : { supersedes: JSON.parse(item['supersedes'].S) as TimeWindow[] }),
    ...(isRetractedItem(item) ? { retracted: true as const } : {}),
  };
}

function toAttributes(item: WindowResult): Record<string, AttributeValue> {
  return {
    operator: { S: item.operator },
    key: { S: item.key },
    windowStart: { N: String(item.window.start) },
    windowEnd: { N: String(item.window.end) },
    version: { N: String(item.version) },
    ...(item.generation !== undefined && item.generation > 0
      ? { generation: { N: String(item.generation) } }
      : {}),
    id: { S: item.id },
    value: { S: JSON.stringify(item.value) },
    ...(item.firedAt === undefined ? {} : { firedAt: { N: String(item.firedAt) } }),
    ...(item.supersedes && item.supersedes.length > 0
      ? { supersedes: { S: JSON.stringify(item.supersedes) } }
      : {}),
    ...(item.retracted === true ? { retracted: { BOOL: true } } : {}),
  };
}

function orderingOf(
  item: Record<string, AttributeValue> | undefined,
): { generation: number; version: number } | undefined {
  const v = item?.['version']?.N;
  if (v === undefined) return undefined;
  const g = item?.['generation']?.N;
  return { generation: g === undefined ? 0 : Number(g), version: Number(v) };
}

/** Errors that re-driving the same item cannot fix (validation, item too large, missing table, access). */
function isPermanent(error: unknown): boolean {
  const name = errorName(error);
  return (
    name === 'ValidationException' ||
    name === 'ResourceNotFoundException' ||
    name === 'AccessDeniedException'
  );
}
