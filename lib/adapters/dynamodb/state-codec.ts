/**
 * The state table's item layout (see docs/state-table.md): how window items,
 * shard progress and the operator watermark map to DynamoDB attribute values,
 * and the sortable encodings the sort keys and index keys rely on.
 *
 * Hand-written marshalling rather than `@aws-sdk/util-dynamodb`: the layout is
 * fixed, and the JSON parts (accumulator, outbox value, supersedes) must stay
 * JSON strings, because a DynamoDB number holds 38 significant digits and no
 * NaN, -0 or exponents beyond 1e125, while a JSON number in an accumulator
 * (a float sum, an HLL register array) must round-trip bit for bit.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { JsonValue } from '../../model/json.ts';
import { shardId, type ShardId } from '../../model/position.ts';
import type { ShardProgress } from '../../model/progress.ts';
import type { ReplayedSpan, SequenceRange } from '../../model/shard-ranges.ts';
import type { TimeWindow } from '../../model/time-window.ts';
import type { OutboxEntry, WindowItem } from '../../ports/state-store.ts';
import { WeirError } from '../../errors.ts';

/** Attribute names of the state table. */
export const StateAttr = {
  PK: 'pk',
  SK: 'sk',
  KEY: 'key',
  START: 'start',
  END: 'end',
  ACCUMULATOR: 'acc',
  ABSORBED: 'absorbed',
  FIRED_VERSION: 'firedVersion',
  PENDING: 'pending',
  /** The item's cleanupAt as a number (always present). */
  CLEANUP_MS: 'cleanupMs',
  REVISION: 'revision',
  PURGED: 'purged',
  SUPERSEDES: 'supersedes',
  OUTBOX: 'outbox',
  DUE_BUCKET: 'dueBucket',
  DUE_AT: 'dueAt',
  EXPIRY_BUCKET: 'expiryBucket',
  /** Sort key of the expiry index: padded cleanupAt, present on open items only. */
  CLEANUP_AT: 'cleanupAt',
  OUTBOX_BUCKET: 'outboxBucket',
  OUTBOX_AT: 'outboxAt',
  EXPIRES_AT: 'expiresAt',
  SHARD_ID: 'shardId',
  COMMITTED: 'committed',
  WATERMARK: 'watermark',
  LAST_ACTIVITY: 'lastActivity',
  CLOSED: 'closed',
  /** `ShardProgress.judged`: present while an attempt's late output covers records above `committed`. */
  JUDGED_UP_TO: 'judgedUpTo',
  /** Absent when the view had no published watermark (-Infinity). */
  JUDGED_PUBLISHED: 'judgedPublished',
  /**
   * Absent when the view had no other active shard (Infinity);
   * {@link NO_WATERMARK_N} when another active shard had no watermark yet (-Infinity).
   */
  JUDGED_OTHERS: 'judgedOthers',
  /** `ShardProgress.failing` as a JSON string ({@link failingJson}); absent when none. */
  FAILING: 'failing',
  /** `ShardProgress.replayed` as a JSON string ({@link replayedJson}); absent when none. */
  REPLAYED: 'replayed',
  /**
   * The restore generation an item was written under (window, progress and
   * watermark items; on the watermark item, the operator's generation).
   * Absent means 0, so tables written before restores existed read as
   * generation 0 and generation-0 items keep their layout.
   */
  GENERATION: 'gen',
} as const;

/** Index names (the construct's `WeirResourceNames` spell the same). */
export const StateIndex = { DUE: 'due', EXPIRY: 'expiry', OUTBOX: 'outbox' } as const;

/** DynamoDB's maximum item size (names + values, UTF-8). */
export const MAX_ITEM_BYTES = 400 * 1024;

/** Offset that maps every safe integer to a non-negative one: -2^53 -> 0. */
const TIME_OFFSET = 2n ** 53n;
/** Digits of an encoded time: 2^54 has 17 digits. */
const TIME_WIDTH = 17;
const MIN_TIME = -Number.MAX_SAFE_INTEGER;
const MAX_TIME = Number.MAX_SAFE_INTEGER;

/**
 * A time (epoch ms, any safe integer, negative included) as a fixed-width
 * string whose string order is the numeric order: `t + 2^53`, zero-padded to
 * 17 digits. Non-integers are floored and out-of-range values clamped, which
 * is only used for index bounds (exact comparisons happen on the full item).
 */
export function encodeTime(t: number): string {
  const c = Number.isNaN(t) ? MIN_TIME : Math.min(MAX_TIME, Math.max(MIN_TIME, Math.floor(t)));
  return (BigInt(c) + TIME_OFFSET).toString().padStart(TIME_WIDTH, '0');
}

/** Sort key of a window item: `W#<encodeTime(start)>#<encodeTime(end)>`. */
export function windowSortKey(start: number, end: number): string {
  return `W#${encodeTime(start)}#${encodeTime(end)}`;
}

/** Partition key of a window item: `<operator>#<key>`. */
export function windowPartitionKey(operator: string, key: string): string {
  return `${operator}#${key}`;
}

/** Sort key of a shard's progress item. */
export function progressSortKey(shard: ShardId): string {
  return `P#${shard}`;
}

/** Sort key of the operator watermark item. */
export const WATERMARK_SORT_KEY = 'W';

/**
 * The index bucket of a key: FNV-1a (32 bit) of its UTF-16 code units modulo
 * `buckets`. Stable across processes and releases: changing it (or
 * `dueBuckets`) only moves future index entries, and queries read every
 * bucket, so old entries stay visible as long as the bucket count does not
 * shrink.
 */
export function bucketOf(key: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** The partition value of a bucket of one of the three indexes. */
export function bucketValue(operator: string, bucket: number): string {
  return `${operator}#${bucket}`;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => {
  if (!Number.isFinite(n))
    throw new WeirError(`cannot store the non-finite number ${n} in DynamoDB`);
  return { N: String(n) };
};
const B = (b: boolean): AttributeValue => ({ BOOL: b });

/** Options of {@link windowItemToAttributes}. */
export interface ItemEncoding {
  readonly operator: string;
  readonly buckets: number;
  /** Epoch seconds at which DynamoDB TTL may delete a tombstone. */
  readonly tombstoneExpiresAt: number;
  /** The restore generation the item is written under (stored only when above 0). @default 0 */
  readonly generation?: number;
}

/** The restore generation of a stored item (`gen`; absent means 0). */
export function generationOf(a: Record<string, AttributeValue> | undefined): number {
  const n = a?.[StateAttr.GENERATION]?.N;
  return n === undefined ? 0 : Number(n);
}

/** A window item as the attribute map stored in the table, index attributes included. */
export function windowItemToAttributes(
  item: WindowItem,
  enc: ItemEncoding,
): Record<string, AttributeValue> {
  const absorbed: Record<string, AttributeValue> = {};
  for (const shard in item.absorbed) absorbed[shard] = S(item.absorbed[shard] as string);
  const a: Record<string, AttributeValue> = {
    [StateAttr.PK]: S(windowPartitionKey(enc.operator, item.key)),
    [StateAttr.SK]: S(windowSortKey(item.start, item.end)),
    [StateAttr.KEY]: S(item.key),
    [StateAttr.START]: N(item.start),
    [StateAttr.END]: N(item.end),
    [StateAttr.ACCUMULATOR]: S(JSON.stringify(item.accumulator)),
    [StateAttr.ABSORBED]: { M: absorbed },
    [StateAttr.FIRED_VERSION]: N(item.firedVersion),
    [StateAttr.PENDING]: B(item.pending),
    [StateAttr.CLEANUP_MS]: N(item.cleanupAt),
    [StateAttr.REVISION]: N(item.revision),
    [StateAttr.PURGED]: B(item.purged),
  };
  if (item.supersedes.length > 0) a[StateAttr.SUPERSEDES] = S(JSON.stringify(item.supersedes));
  if (enc.generation !== undefined && enc.generation > 0)
    a[StateAttr.GENERATION] = N(enc.generation);
  const bucket = bucketValue(enc.operator, bucketOf(item.key, enc.buckets));
  // Sparse indexes: an attribute that is absent keeps the item out of the index.
  if (item.pending && !item.purged) {
    a[StateAttr.DUE_BUCKET] = S(bucket);
    a[StateAttr.DUE_AT] = S(encodeTime(item.end - 1));
  }
  if (!item.purged) {
    a[StateAttr.EXPIRY_BUCKET] = S(bucket);
    a[StateAttr.CLEANUP_AT] = S(encodeTime(item.cleanupAt));
  } else {
    a[StateAttr.EXPIRES_AT] = N(enc.tombstoneExpiresAt);
  }
  if (item.outbox !== null) {
    a[StateAttr.OUTBOX] = outboxToAttribute(item.outbox);
    a[StateAttr.OUTBOX_BUCKET] = S(bucket);
    a[StateAttr.OUTBOX_AT] = S(encodeTime(item.outbox.firedAt));
  }
  return a;
}

function outboxToAttribute(o: OutboxEntry): AttributeValue {
  const m: Record<string, AttributeValue> = {
    ...(o.generation > 0 ? { generation: N(o.generation) } : {}),
    version: N(o.version),
    value: S(JSON.stringify(o.value)),
    firedAt: N(o.firedAt),
  };
  if (o.supersedes.length > 0) m['supersedes'] = S(JSON.stringify(o.supersedes));
  return { M: m };
}

function str(a: AttributeValue | undefined, what: string): string {
  if (a?.S === undefined)
    throw new WeirError(`state item attribute ${what} is missing or not a string`);
  return a.S;
}
function num(a: AttributeValue | undefined, what: string): number {
  if (a?.N === undefined)
    throw new WeirError(`state item attribute ${what} is missing or not a number`);
  return Number(a.N);
}
function windows(a: AttributeValue | undefined): readonly TimeWindow[] {
  return a?.S === undefined ? [] : (JSON.parse(a.S) as TimeWindow[]);
}

/** Reads a stored window item back (index attributes are dropped). */
export function attributesToWindowItem(a: Record<string, AttributeValue>): WindowItem {
  const absorbed: Record<string, string> = {};
  const m = a[StateAttr.ABSORBED]?.M ?? {};
  for (const shard in m) absorbed[shard] = str(m[shard], `absorbed.${shard}`);
  const o = a[StateAttr.OUTBOX]?.M;
  const outbox: OutboxEntry | null =
    o === undefined
      ? null
      : {
          generation: o['generation'] === undefined ? 0 : num(o['generation'], 'outbox.generation'),
          version: num(o['version'], 'outbox.version'),
          value: JSON.parse(str(o['value'], 'outbox.value')) as JsonValue,
          supersedes: windows(o['supersedes']),
          firedAt: num(o['firedAt'], 'outbox.firedAt'),
        };
  return {
    key: str(a[StateAttr.KEY], StateAttr.KEY),
    start: num(a[StateAttr.START], StateAttr.START),
    end: num(a[StateAttr.END], StateAttr.END),
    accumulator: JSON.parse(str(a[StateAttr.ACCUMULATOR], StateAttr.ACCUMULATOR)) as JsonValue,
    absorbed,
    firedVersion: num(a[StateAttr.FIRED_VERSION], StateAttr.FIRED_VERSION),
    pending: a[StateAttr.PENDING]?.BOOL === true,
    cleanupAt: num(a[StateAttr.CLEANUP_MS], StateAttr.CLEANUP_MS),
    revision: num(a[StateAttr.REVISION], StateAttr.REVISION),
    purged: a[StateAttr.PURGED]?.BOOL === true,
    supersedes: windows(a[StateAttr.SUPERSEDES]),
    outbox,
  };
}

/**
 * How `judgedOthers` stores -Infinity (an active shard without a watermark
 * yet): a number below every watermark (event times lie within ±8.64e15 ms)
 * that DynamoDB can hold, so the store's numeric conditions compare it as
 * the lowest value.
 */
export const NO_WATERMARK_N = '-1E+125';

/** `JudgedView.others` as stored: `undefined` for Infinity (the attribute is absent). */
export function judgedOthersValue(others: number): AttributeValue | undefined {
  if (others === Infinity) return undefined;
  if (others === -Infinity) return { N: NO_WATERMARK_N };
  return N(others);
}

/** Reads `judgedOthers` back (compared as a number: DynamoDB may return it in another notation). */
function judgedOthersOf(a: AttributeValue | undefined): number {
  if (a === undefined) return Infinity;
  const n = num(a, StateAttr.JUDGED_OTHERS);
  return n <= Number(NO_WATERMARK_N) ? -Infinity : n;
}

/** A shard's progress item. */
export function progressToAttributes(
  operator: string,
  p: ShardProgress,
  generation = 0,
): Record<string, AttributeValue> {
  const a: Record<string, AttributeValue> = {
    [StateAttr.PK]: S(operator),
    [StateAttr.SK]: S(progressSortKey(p.shardId)),
    [StateAttr.SHARD_ID]: S(p.shardId),
    [StateAttr.LAST_ACTIVITY]: N(p.lastActivity),
    [StateAttr.CLOSED]: B(p.closed),
  };
  if (generation > 0) a[StateAttr.GENERATION] = N(generation);
  if (p.committed !== null) a[StateAttr.COMMITTED] = S(p.committed);
  if (p.watermark !== null) a[StateAttr.WATERMARK] = N(p.watermark);
  const j = p.judged;
  if (j !== undefined) {
    a[StateAttr.JUDGED_UP_TO] = S(j.upTo);
    if (Number.isFinite(j.published)) a[StateAttr.JUDGED_PUBLISHED] = N(j.published);
    const others = judgedOthersValue(j.others);
    if (others !== undefined) a[StateAttr.JUDGED_OTHERS] = others;
  }
  const failing = failingJson(p.failing);
  if (failing !== undefined) a[StateAttr.FAILING] = S(failing);
  const replayed = replayedJson(p.replayed);
  if (replayed !== undefined) a[StateAttr.REPLAYED] = S(replayed);
  return a;
}

/**
 * Failing ranges as stored: one canonical JSON string (the order the
 * stores keep them in), so that a condition can compare it for equality;
 * `undefined` when there are none.
 */
export function failingJson(ranges: readonly SequenceRange[] | undefined): string | undefined {
  if (ranges === undefined || ranges.length === 0) return undefined;
  return JSON.stringify(ranges.map((r) => [r.start, r.end]));
}

/** Replayed spans as stored (see {@link failingJson}). */
export function replayedJson(spans: readonly ReplayedSpan[] | undefined): string | undefined {
  if (spans === undefined || spans.length === 0) return undefined;
  return JSON.stringify(spans.map((s) => [s.after, s.upTo, s.done]));
}

function failingOf(a: AttributeValue | undefined): readonly SequenceRange[] | undefined {
  if (a?.S === undefined) return undefined;
  return (JSON.parse(a.S) as [string, string][]).map(([start, end]) => ({ start, end }));
}

function replayedOf(a: AttributeValue | undefined): readonly ReplayedSpan[] | undefined {
  if (a?.S === undefined) return undefined;
  return (JSON.parse(a.S) as [string | null, string | null, boolean][]).map(
    ([after, upTo, done]) => ({ after, upTo, done }),
  );
}

/** Reads a progress item back. */
export function attributesToProgress(a: Record<string, AttributeValue>): ShardProgress {
  return {
    shardId: shardId(str(a[StateAttr.SHARD_ID], StateAttr.SHARD_ID)),
    committed: a[StateAttr.COMMITTED]?.S ?? null,
    watermark: a[StateAttr.WATERMARK]?.N === undefined ? null : Number(a[StateAttr.WATERMARK]?.N),
    lastActivity: num(a[StateAttr.LAST_ACTIVITY], StateAttr.LAST_ACTIVITY),
    closed: a[StateAttr.CLOSED]?.BOOL === true,
    ...(a[StateAttr.JUDGED_UP_TO] === undefined
      ? {}
      : {
          judged: {
            upTo: str(a[StateAttr.JUDGED_UP_TO], StateAttr.JUDGED_UP_TO),
            published:
              a[StateAttr.JUDGED_PUBLISHED] === undefined
                ? -Infinity
                : num(a[StateAttr.JUDGED_PUBLISHED], StateAttr.JUDGED_PUBLISHED),
            others: judgedOthersOf(a[StateAttr.JUDGED_OTHERS]),
          },
        }),
    ...(a[StateAttr.FAILING] === undefined ? {} : { failing: failingOf(a[StateAttr.FAILING]) }),
    ...(a[StateAttr.REPLAYED] === undefined ? {} : { replayed: replayedOf(a[StateAttr.REPLAYED]) }),
  };
}

/**
 * The size DynamoDB charges for an item: attribute names plus values (UTF-8
 * strings, numbers at about 1 byte per 2 digits + 1, 1 byte per boolean, 3
 * bytes of overhead per map or list and 1 per element). An upper-bound
 * estimate, good enough to refuse an item before DynamoDB does.
 */
export function itemSizeBytes(a: Record<string, AttributeValue>): number {
  let n = 0;
  for (const name in a) n += utf8Length(name) + valueSize(a[name] as AttributeValue);
  return n;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8Length(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.length / 2) + 1;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.M !== undefined) {
    let n = 3;
    for (const k in v.M) n += 1 + utf8Length(k) + valueSize(v.M[k] as AttributeValue);
    return n;
  }
  if (v.L !== undefined) return 3 + v.L.reduce((s, x) => s + 1 + valueSize(x), 0);
  return 0;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
