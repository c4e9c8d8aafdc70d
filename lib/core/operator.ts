/**
 * The window operator: the batch algorithm against the StateStore port.
 *
 * One batch of one shard, in order (see docs/semantics.md for the why):
 *
 *   read progress ──► per record: skip if <= committed ─► decode ─► filter/map
 *        │             ─► key ─► event time ─► late? (vs the watermark so far)
 *        │             ─► pre-aggregate into ONE delta per (key, window)
 *        ▼
 *   conditional writes (guard: only positions above the item's absorbed
 *   position for this shard; on conflict re-read, drop what the item has, retry)
 *        ▼
 *   shard progress (committed position, W(s), last activity)
 *        ▼
 *   operator watermark (monotonic) ─► fire due windows (conditional on revision)
 *        ▼
 *   purge windows with cleanupAt < W (tombstones keep absorbed positions)
 *
 * A crash anywhere is safe: a retry skips committed records, the per-item
 * guard drops records an item already absorbed, and firing is conditional.
 */
import { ConfigError, WeirError } from '../errors.ts';
import { ResultIds } from '../model/ids.ts';
import { toJsonValue, type JsonValue } from '../model/json.ts';
import { comparePositions, encodeOffset } from '../model/position.ts';
import type { Position, ShardId } from '../model/position.ts';
import type { JudgedView, ShardProgress } from '../model/progress.ts';
import { DEAD_LETTER_KIND, DeadLetterReason, LateReason } from '../model/records.ts';
import type {
  BatchCounts,
  BatchOutcome,
  DeadLetter,
  DecodedRecord,
  LateRecord,
  SourceRecord,
  TickOutcome,
  WindowResult,
} from '../model/records.ts';
import type { TimeWindow } from '../model/time-window.ts';
import type { Clock } from '../ports/clock.ts';
import type { StateStore, WindowItem, WindowWrite } from '../ports/state-store.ts';
import type { AggregateFunction } from './aggregate.ts';
import {
  AggregateResultError,
  BatchOrderError,
  NondeterministicPipelineError,
  StateContentionError,
} from './errors.ts';
import type { WindowedOperatorDefinition } from './pipeline.ts';
import { watermarkCandidate, isShardActive } from './watermark.ts';
import { windowStart } from './window.ts';

/** Earliest / latest accepted event time (the range of `Date`). */
export const MIN_EVENT_TIME = -8.64e15;
/** Latest accepted event time. */
export const MAX_EVENT_TIME = 8.64e15;

const MAX_ATTEMPTS = 20;
const NONE: readonly TimeWindow[] = Object.freeze([]);
const EMPTY = new Uint8Array(0);
/**
 * Default of {@link WindowOperatorDeps.pageSize}: Lambda's largest Kinesis
 * batch, so the windows one batch closes are normally fired (and purged) in
 * one round. With 1,000, a 10,000-record batch that closes 1,700 windows took
 * two listing rounds plus an empty one for each of firing and purging (on
 * DynamoDB, a due-index query per bucket and a BatchGetItem per round).
 */
export const DEFAULT_PAGE_SIZE = 10_000;

// Per-record status in a batch (0: not decided yet).
const SKIPPED = 1;
const FILTERED = 2;
const DEAD = 3;
const LATE = 4;
const IN_STATE = 5;

/** What the operator needs from outside. */
export interface WindowOperatorDeps {
  readonly store: StateStore;
  readonly clock: Clock;
  /**
   * Windows listed per store query when firing, purging and listing pending
   * results; more are taken in further rounds. An integer 1..100,000.
   * @default 10_000 ({@link DEFAULT_PAGE_SIZE})
   */
  readonly pageSize?: number;
}

/** Per-batch options. */
export interface BatchOptions {
  /** This batch ends a closed shard (resharding): the shard then stops holding back the watermark. @default false */
  readonly shardEnded?: boolean;
  /**
   * Called with the batch's late and dead-letter records after the state
   * writes and BEFORE the shard's progress moves past them, so a runtime can
   * deliver them durably (idempotently, by position) without a crash window
   * in which they could be lost. @default none (read them from the outcome)
   */
  readonly sideOutputs?: (
    late: readonly LateRecord[],
    deadLetters: readonly DeadLetter[],
  ) => Promise<void>;
}

interface Group<ACC> {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  acc: ACC;
  readonly idxs: number[];
}

interface Batch<IN> {
  readonly shardId: ShardId;
  readonly records: readonly (SourceRecord | DecodedRecord<unknown>)[];
  readonly raw: boolean;
  readonly status: Uint8Array;
  readonly applied: Uint8Array;
  readonly winCount: Uint16Array | undefined;
  /**
   * Each record's event after the steps, kept only for decoded batches and
   * sessions (see {@link WindowOperator.valueAt}); `undefined` otherwise.
   */
  readonly values: IN[] | undefined;
  readonly times: Float64Array;
  readonly enc: (string | undefined)[];
  /** Index of the first record above the committed position (`n` when none). */
  firstLive: number;
  /** Per absorbed offset seen on an item: how many leading records it covers (see {@link WindowOperator.cut}). */
  readonly cuts: Map<string, number>;
  readonly late: LateRecord[];
  /** Batch index of each entry of `late`. */
  readonly lateIdx: number[];
  readonly dead: DeadLetter[];
  /** Sessions: the lowest end of the session items this batch planned to write. */
  lowestWrittenEnd: number;
  /** Processing time of the attempt: when its dead letters were decided. */
  readonly now: number;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A copy of `item` with some fields changed, built as one literal so every item has the same shape. */
function changed(
  item: WindowItem,
  accumulator: WindowItem['accumulator'],
  absorbed: WindowItem['absorbed'],
  firedVersion: number,
  pending: boolean,
  purged: boolean,
  supersedes: WindowItem['supersedes'],
  outbox: WindowItem['outbox'] = item.outbox,
): WindowItem {
  return {
    key: item.key,
    start: item.start,
    end: item.end,
    accumulator,
    absorbed,
    firedVersion,
    pending,
    cleanupAt: item.cleanupAt,
    revision: item.revision + 1,
    purged,
    supersedes,
    outbox,
  };
}

/** `absorbed` with `shard` raised to `offset` (callers guarantee it is higher). */
function absorbedWith(
  absorbed: Readonly<Record<string, string>>,
  shard: string,
  offset: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in absorbed) out[k] = absorbed[k] as string;
  out[shard] = offset;
  return out;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Creates a window operator for a pipeline definition.
 *
 * @example
 * const operator = createWindowOperator(views, { store: new InMemoryStateStore(), clock: systemClock });
 * const outcome = await operator.processBatch('shardId-000000000000', records);
 * for (const r of outcome.results) console.log(r.key, r.window, r.value, r.version);
 */
export function createWindowOperator<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  deps: WindowOperatorDeps,
): WindowOperator<IN, ACC, OUT> {
  return new WindowOperator(definition, deps);
}

/** Runs one {@link WindowedOperatorDefinition} against a state store. Stateless itself: all state is in the store. */
export class WindowOperator<IN, ACC, OUT> {
  readonly definition: WindowedOperatorDefinition<IN, ACC, OUT>;
  private readonly store: StateStore;
  private readonly clock: Clock;
  private readonly agg: AggregateFunction<IN, ACC, OUT>;
  private readonly ids: ResultIds;
  private readonly page: number;

  constructor(definition: WindowedOperatorDefinition<IN, ACC, OUT>, deps: WindowOperatorDeps) {
    this.definition = definition;
    this.ids = new ResultIds(definition.name);
    this.store = deps.store;
    this.clock = deps.clock;
    const page = deps.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(page) || page < 1 || page > 100_000) {
      throw new ConfigError(
        'pageSize',
        page,
        'must be an integer 1..100000 (windows per store query)',
      );
    }
    this.page = page;
    this.agg = definition.aggregate;
  }

  /** Processes one batch of raw records of one shard, in position order. */
  processBatch(
    shardId: ShardId,
    records: readonly SourceRecord[],
    options: BatchOptions = {},
  ): Promise<BatchOutcome<OUT>> {
    return this.run(shardId, records, true, options);
  }

  /** Like {@link processBatch} for records whose events are already decoded (the decoder is skipped). */
  processDecodedBatch(
    shardId: ShardId,
    records: readonly DecodedRecord<unknown>[],
    options: BatchOptions = {},
  ): Promise<BatchOutcome<OUT>> {
    return this.run(shardId, records, false, options);
  }

  /**
   * Processing-time tick (the scheduled ticker): re-evaluates idleness,
   * advances the watermark, fires due windows and purges expired ones.
   */
  async tick(): Promise<TickOutcome<OUT>> {
    const now = this.clock.now();
    const progress = await this.store.readProgress(this.definition.name);
    const w = await this.advance(
      progress.watermark,
      watermarkCandidate(progress.shards, now, this.definition.time),
    );
    return { results: await this.fireAndPurge(w), watermark: w };
  }

  /**
   * Results fired in state but not yet acknowledged as emitted (the outbox),
   * at most `limit`. A runtime re-drives them to its sinks (idempotent by
   * version) and then calls {@link acknowledge}.
   */
  async pendingResults(limit = this.page): Promise<WindowResult<JsonValue>[]> {
    const op = this.definition.name;
    const items = await this.store.listOutbox(op, limit);
    const out: WindowResult<JsonValue>[] = [];
    for (const item of items) {
      const o = item.outbox;
      if (o === null) continue;
      out.push({
        id: this.ids.of(item.key, item.start, item.end, o.version),
        operator: op,
        key: item.key,
        window: { start: item.start, end: item.end },
        value: o.value,
        version: o.version,
        supersedes: o.supersedes,
      });
    }
    return out;
  }

  /**
   * Acknowledges that results reached the sinks: clears their outbox entries
   * unless a newer firing replaced them. Returns how many were cleared.
   */
  async acknowledge(
    results: readonly Pick<WindowResult<unknown>, 'key' | 'window' | 'version'>[],
  ): Promise<number> {
    if (results.length === 0) return 0;
    const acks = results.map((r) => ({
      key: r.key,
      start: r.window.start,
      end: r.window.end,
      version: r.version,
    }));
    const ok = await this.store.ackOutbox(this.definition.name, acks);
    return ok.filter((x) => x).length;
  }

  /** Marks a shard closed and fully consumed (it stops holding back the watermark), then ticks. */
  async closeShard(shardId: ShardId): Promise<TickOutcome<OUT>> {
    const progress = await this.store.readProgress(this.definition.name);
    const p = progress.shards.find((s) => s.shardId === shardId);
    await this.store.writeShardProgress(this.definition.name, {
      shardId,
      committed: p?.committed ?? null,
      watermark: p?.watermark ?? null,
      lastActivity: p?.lastActivity ?? this.clock.now(),
      closed: true,
    });
    return this.tick();
  }

  private async advance(published: number | null, candidate: number): Promise<number> {
    const current = published ?? -Infinity;
    if (candidate > current && Number.isFinite(candidate)) {
      return this.store.advanceWatermark(this.definition.name, candidate);
    }
    return current;
  }

  private async run(
    shardId: ShardId,
    records: readonly (SourceRecord | DecodedRecord<unknown>)[],
    raw: boolean,
    options: BatchOptions,
  ): Promise<BatchOutcome<OUT>> {
    const def = this.definition;
    const op = def.name;
    const time = def.time;
    const now = this.clock.now();
    const progress = await this.store.readProgress(op);
    let sp: ShardProgress | undefined;
    let others = Infinity;
    for (const p of progress.shards) {
      if (p.shardId === shardId) sp = p;
      else if (isShardActive(p, now, time)) others = Math.min(others, p.watermark ?? -Infinity);
    }
    const committed = sp?.committed ?? null;
    const published = progress.watermark ?? -Infinity;
    const shardWm0 = sp?.watermark ?? -Infinity;
    const ooo = time.maxOutOfOrderness;
    const lateness = def.allowedLateness;
    const n = records.length;
    // A raw batch's decoded events are not kept: they die young instead of
    // surviving (and being copied by) the garbage collections of the batch.
    // Sessions plan from every event of a key, so they keep them.
    const keepValues = !raw || def.assigner.kind === 'session';
    const batch: Batch<IN> = {
      shardId,
      records,
      raw,
      status: new Uint8Array(n),
      applied: new Uint8Array(n),
      winCount: def.assigner.kind === 'sliding' ? new Uint16Array(n) : undefined,
      values: keepValues ? new Array<IN>(n) : undefined,
      times: new Float64Array(n),
      enc: new Array<string | undefined>(n),
      firstLive: committed === null ? 0 : n,
      cuts: new Map<string, number>(),
      late: [],
      lateIdx: [],
      dead: [],
      lowestWrittenEnd: Infinity,
      now,
    };
    const { status, values, times } = batch;
    // An earlier attempt of this range recorded the view it judged against
    // (`sp.judged`). Tumbling and sliding windows (which record it only when
    // they send records to the late output) judge those records against at
    // least that view, so a record never goes to the late output and, on a
    // retry whose view is lower (a shard came back from idleness), into state
    // too. Sessions record it in every attempt and judge the whole attempt
    // against exactly that view: the per-key guard cannot tell an applied
    // record from a late one, so every attempt must decide alike (a retry
    // whose view is higher would otherwise send to the late output a record
    // the crashed attempt had put in state).
    const floor = sp?.judged;
    const exact = def.assigner.kind === 'session';
    const floorEnd = floor === undefined ? 0 : exact ? n : this.indexAbove(batch, floor.upTo);
    const floorPublished =
      floor === undefined
        ? published
        : exact
          ? floor.published
          : Math.max(published, floor.published);
    const floorOthers =
      floor === undefined ? others : exact ? floor.others : Math.max(others, floor.others);
    const steps = def.steps;
    const nSteps = steps.length;
    const decoder = def.decoder;
    const keySelector = def.keySelector;
    const extractor = def.timestampExtractor;
    const maxKeyBytes = def.maxKeyBytes;
    const maxKeyChars = Math.floor(maxKeyBytes / 3);
    const agg = this.agg;
    const assigner = def.assigner;
    const kind = assigner.kind;
    const size = assigner.kind === 'session' ? assigner.gap : assigner.size;
    const offset = assigner.kind === 'session' ? 0 : assigner.offset;
    const slide = assigner.kind === 'sliding' ? assigner.slide : size;

    // Tumbling and sliding: start -> key -> delta. Sessions: key -> record indexes.
    const byStart = new Map<number, Map<string, Group<ACC>>>();
    const groups: Group<ACC>[] = [];
    const sessionRecs = new Map<string, number[]>();
    let lastStart = NaN;
    let lastInner: Map<string, Group<ACC>> | undefined;

    let maxSeen = -Infinity;
    let pastCommitted = committed === null;
    let prev: Position | undefined;
    let partiallyLate = 0;

    for (let i = 0; i < n; i++) {
      const r = records[i] as SourceRecord | DecodedRecord<unknown>;
      const pos = r.position;
      if (pos.shardId !== shardId) {
        throw new BatchOrderError(
          `batch for ${shardId} contains a record of ${pos.shardId} at index ${i}`,
        );
      }
      if (prev !== undefined && comparePositions(prev, pos) >= 0) {
        throw new BatchOrderError(
          `batch for ${shardId}: positions not strictly increasing at index ${i} (${pos.sequenceNumber})`,
        );
      }
      prev = pos;
      if (!pastCommitted) {
        const e = encodeOffset(pos);
        if (e <= (committed as string)) {
          status[i] = SKIPPED;
          continue;
        }
        pastCommitted = true;
        batch.enc[i] = e;
        batch.firstLive = i;
      }
      let v: unknown;
      if (raw) {
        try {
          v = decoder.decode((r as SourceRecord).data);
        } catch (e) {
          this.deadLetter(batch, i, DeadLetterReason.DECODE_FAILED, e);
          continue;
        }
      } else {
        v = (r as DecodedRecord<unknown>).value;
      }
      if (nSteps !== 0) {
        let s = 0;
        for (; s < nSteps; s++) {
          const step = steps[s] as (typeof steps)[number];
          try {
            if (step.kind === 'filter') {
              if (!step.fn(v)) {
                status[i] = FILTERED;
                break;
              }
            } else v = step.fn(v);
          } catch (e) {
            this.deadLetter(
              batch,
              i,
              step.kind === 'filter' ? DeadLetterReason.FILTER_THREW : DeadLetterReason.MAP_THREW,
              e,
            );
            break;
          }
        }
        if (s !== nSteps) continue;
      }
      const value = v as IN;
      let k: unknown;
      try {
        k = keySelector(value);
      } catch (e) {
        this.deadLetter(batch, i, DeadLetterReason.KEY_SELECTOR_THREW, e);
        continue;
      }
      let key: string;
      if (typeof k === 'string') key = k;
      else if (typeof k === 'number' && Number.isFinite(k)) key = String(k);
      else {
        this.deadLetter(
          batch,
          i,
          DeadLetterReason.INVALID_KEY,
          new TypeError(`key must be a non-empty string or a finite number (given ${String(k)})`),
        );
        continue;
      }
      if (key.length === 0) {
        this.deadLetter(
          batch,
          i,
          DeadLetterReason.INVALID_KEY,
          new TypeError('key must be a non-empty string or a finite number (given "")'),
        );
        continue;
      }
      if (key.length > maxKeyChars && utf8Length(key) > maxKeyBytes) {
        this.deadLetter(
          batch,
          i,
          DeadLetterReason.KEY_TOO_LARGE,
          new RangeError(
            `key is ${utf8Length(key)} UTF-8 bytes; keyBy.maxKeyBytes is ${maxKeyBytes}`,
          ),
        );
        continue;
      }
      let t: unknown;
      try {
        t = extractor(value);
      } catch (e) {
        this.deadLetter(batch, i, DeadLetterReason.EVENT_TIME_THREW, e);
        continue;
      }
      if (
        typeof t !== 'number' ||
        !Number.isSafeInteger(t) ||
        t < MIN_EVENT_TIME ||
        t > MAX_EVENT_TIME
      ) {
        this.deadLetter(
          batch,
          i,
          DeadLetterReason.INVALID_EVENT_TIME,
          new RangeError(
            `event time must be an integer epoch ms in ${MIN_EVENT_TIME}..${MAX_EVENT_TIME} (given ${String(t)})`,
          ),
        );
        continue;
      }
      // The watermark this record is judged against: what the operator knew
      // before it (its own event time never makes it late).
      const shardWm = maxSeen - ooo > shardWm0 ? maxSeen - ooo : shardWm0;
      const oth = i < floorEnd ? floorOthers : others;
      const pub = i < floorEnd ? floorPublished : published;
      const low = shardWm < oth ? shardWm : oth;
      const w = low > pub ? low : pub;
      if (t > maxSeen) maxSeen = t;
      if (values !== undefined) values[i] = value;
      times[i] = t;

      if (kind === 'tumbling') {
        // Consecutive records mostly share a window: skip the (floating-point) modulo then.
        const start =
          t >= lastStart && t < lastStart + size ? lastStart : windowStart(t, offset, size);
        const end = start + size;
        if (end - 1 + lateness < w) {
          this.lateRecord(batch, i, key, [{ start, end }], LateReason.WINDOW_CLOSED, w);
          status[i] = LATE;
          continue;
        }
        let inner: Map<string, Group<ACC>> | undefined;
        if (start === lastStart) inner = lastInner;
        else {
          inner = byStart.get(start);
          if (inner === undefined) byStart.set(start, (inner = new Map<string, Group<ACC>>()));
          lastStart = start;
          lastInner = inner;
        }
        let g = (inner as Map<string, Group<ACC>>).get(key);
        if (g === undefined) {
          g = { key, start, end, acc: agg.createAccumulator(), idxs: [] };
          (inner as Map<string, Group<ACC>>).set(key, g);
          groups.push(g);
        }
        try {
          g.acc = agg.add(value, g.acc);
        } catch (e) {
          this.deadLetter(batch, i, DeadLetterReason.AGGREGATE_THREW, e);
          continue;
        }
        g.idxs.push(i);
        status[i] = IN_STATE;
      } else if (kind === 'sliding') {
        let lateWindows: TimeWindow[] | undefined;
        let added = 0;
        let threw = false;
        for (let start = windowStart(t, offset, slide); start > t - size; start -= slide) {
          const end = start + size;
          if (end - 1 + lateness < w) {
            (lateWindows ??= []).push({ start, end });
            continue;
          }
          let inner = byStart.get(start);
          if (inner === undefined) byStart.set(start, (inner = new Map<string, Group<ACC>>()));
          let g = inner.get(key);
          if (g === undefined) {
            g = { key, start, end, acc: agg.createAccumulator(), idxs: [] };
            inner.set(key, g);
            groups.push(g);
          }
          try {
            g.acc = agg.add(value, g.acc);
          } catch (e) {
            // add is deterministic: it throws for the record's first window or not at all.
            this.deadLetter(batch, i, DeadLetterReason.AGGREGATE_THREW, e);
            threw = true;
            break;
          }
          g.idxs.push(i);
          added++;
        }
        if (threw) continue;
        (batch.winCount as Uint16Array)[i] = added;
        if (lateWindows !== undefined) {
          this.lateRecord(batch, i, key, lateWindows, LateReason.WINDOW_CLOSED, w);
          if (added > 0) partiallyLate++;
        }
        status[i] = added > 0 ? IN_STATE : LATE;
      } else {
        // Sessions: an element is late when t + allowedLateness <= W (Flink's
        // isElementLate). That also guarantees it can never touch a session
        // that was already purged, so incremental merging equals a recompute.
        if (t + lateness <= w) {
          this.lateRecord(
            batch,
            i,
            key,
            [{ start: t, end: t + size }],
            LateReason.SESSION_CLOSED,
            w,
          );
          status[i] = LATE;
          continue;
        }
        let list = sessionRecs.get(key);
        if (list === undefined) sessionRecs.set(key, (list = []));
        list.push(i);
        status[i] = IN_STATE;
      }
    }

    if (batch.late.length > 0) partiallyLate -= await this.reclaimAbsorbedLate(batch);

    // Before any state write and before any late record leaves: record what
    // this attempt judged against (merged with an earlier view). A retry then
    // judges these records against at least the same view (sessions: exactly
    // it), so a record judged late here is never applied by a retry (which the
    // per-key session guard would otherwise skip as already absorbed, losing
    // it) nor output twice, and a session record applied here is never sent
    // to the late output by a retry.
    let judged: JudgedView | undefined = floor;
    if (batch.late.length > 0 || (exact && batch.firstLive < n)) {
      const upTo = this.encAt(batch, n - 1);
      judged = {
        upTo: floor !== undefined && floor.upTo > upTo ? floor.upTo : upTo,
        published: floorPublished,
        others: floorOthers,
      };
      await this.store.writeShardProgress(op, {
        shardId,
        committed,
        watermark: sp?.watermark ?? null,
        lastActivity: now,
        closed: sp?.closed ?? false,
        judged,
      });
    }

    let stateWrites: number;
    if (kind === 'session') stateWrites = await this.writeSessions(batch, sessionRecs);
    else stateWrites = await this.writeWindows(batch, groups);

    if (options.sideOutputs !== undefined && (batch.late.length > 0 || batch.dead.length > 0)) {
      await options.sideOutputs(batch.late, batch.dead);
    }
    // Progress after the state writes: records at or below `committed` are
    // durably in state (or in an output), so a retry may skip them.
    const lastEnc = n > 0 ? this.encAt(batch, n - 1) : null;
    const newCommitted =
      lastEnc === null
        ? committed
        : committed === null || lastEnc > committed
          ? lastEnc
          : committed;
    const shardWm = Math.max(shardWm0, maxSeen - ooo);
    const mine: ShardProgress = {
      shardId,
      committed: newCommitted,
      watermark: Number.isFinite(shardWm) ? shardWm : (sp?.watermark ?? null),
      lastActivity: now,
      closed: (options.shardEnded ?? false) || (sp?.closed ?? false),
      // A view still covering records above the new commit (a bisected retry) stays.
      ...(judged !== undefined && (newCommitted === null || judged.upTo > newCommitted)
        ? { judged }
        : {}),
    };
    await this.store.writeShardProgress(op, mine);
    const shards = progress.shards.filter((p) => p.shardId !== shardId);
    shards.push(mine);
    const read = progress.watermark ?? -Infinity;
    const candidate = watermarkCandidate(shards, now, time);
    const w = await this.advance(progress.watermark, candidate);
    // Firing is the job of the batch that raised the watermark: other shards'
    // batches finishing at the same time would list the same due windows and
    // race it for every one (conditional writes make that safe, not cheap). A
    // batch also fires when it wrote a window that is now due (a late update
    // re-fires at the end of its batch), and when it is a retry (its records
    // start at or below the committed position: an attempt that raised the
    // watermark may have died before firing). Anything left waits for the
    // next raise or tick. See docs/semantics.md, "Who fires".
    let lowestEnd = Infinity;
    if (kind === 'session') lowestEnd = batch.lowestWrittenEnd;
    else for (const g of groups) if (g.end < lowestEnd) lowestEnd = g.end;
    const raised = w > read && w === candidate;
    const retried = batch.firstLive > 0;
    const results = raised || retried || lowestEnd - 1 <= w ? await this.fireAndPurge(w) : [];

    let skippedCommitted = 0;
    let filtered = 0;
    let deadLettered = 0;
    let late = 0;
    let inState = 0;
    let alreadyApplied = 0;
    for (let i = 0; i < n; i++) {
      switch (status[i]) {
        case SKIPPED:
          skippedCommitted++;
          break;
        case FILTERED:
          filtered++;
          break;
        case DEAD:
          deadLettered++;
          break;
        case LATE:
          late++;
          break;
        case IN_STATE:
          inState++;
          if (batch.applied[i] === 1) alreadyApplied++;
          break;
        default:
          throw new WeirError(`internal: record ${i} of the batch was not accounted for`);
      }
    }
    const counts: BatchCounts = {
      received: n,
      skippedCommitted,
      filtered,
      deadLettered,
      late,
      inState,
      partiallyLate,
      alreadyApplied,
    };
    return {
      results,
      late: batch.late,
      deadLetters: batch.dead,
      counts,
      watermark: w,
      stateWrites,
    };
  }

  /**
   * A record judged late now may already be in state: an earlier attempt of
   * this batch (crashed before its progress commit) judged it against a lower
   * watermark and applied it. Lateness depends on when a record is judged, so
   * a retry must not send it to the late output as well. Within one attempt
   * the watermark only rises, so a window item whose absorbed position for
   * this shard is at or above the record's holds the record (tumbling and
   * sliding: a later record of the same shard in the same window was on time,
   * so this one was too): those windows are dropped from its late entry, and
   * a record left with no late window counts as in state (already applied).
   * Only batches with late records pay the extra read. Returns how many
   * records stopped being partially late.
   */
  private async reclaimAbsorbedLate(batch: Batch<IN>): Promise<number> {
    const op = this.definition.name;
    const shard = batch.shardId;
    const holds = (item: WindowItem | undefined, i: number): boolean => {
      const abs = item?.absorbed[shard];
      return abs !== undefined && abs >= this.encAt(batch, i);
    };
    const keep: boolean[] = [];
    let noLongerPartial = 0;
    // Sessions judge lateness by the record's own event time, not by its window's, so a session's
    // absorbed position does not prove an older record in it was applied: they keep the limit.
    if (this.definition.assigner.kind === 'session') return 0;
    {
      const refs = new Map<string, { key: string; start: number; end: number }>();
      // Every late entry of the operator's carries its key.
      for (const l of batch.late) {
        const key = l.key as string;
        for (const w of l.windows)
          refs.set(`${w.start}/${w.end}/${key}`, { key, start: w.start, end: w.end });
      }
      const list = [...refs.values()];
      const items = await this.store.getWindows(op, list);
      const byRef = new Map<string, WindowItem | undefined>();
      list.forEach((r, j) => byRef.set(`${r.start}/${r.end}/${r.key}`, items[j]));
      batch.late.forEach((l, j) => {
        const i = batch.lateIdx[j] as number;
        const still = l.windows.filter(
          (w) => !holds(byRef.get(`${w.start}/${w.end}/${l.key as string}`), i),
        );
        if (still.length === l.windows.length) return void keep.push(true);
        if (still.length === 0) {
          keep.push(false);
          if (batch.status[i] === IN_STATE) noLongerPartial++;
          else this.reclaimed(batch, i);
          return;
        }
        keep.push(true);
        batch.late[j] = { ...l, windows: still };
      });
    }
    let w = 0;
    for (let j = 0; j < batch.late.length; j++) {
      if (!keep[j]) continue;
      batch.late[w] = batch.late[j] as LateRecord;
      batch.lateIdx[w] = batch.lateIdx[j] as number;
      w++;
    }
    batch.late.length = w;
    batch.lateIdx.length = w;
    return noLongerPartial;
  }

  private reclaimed(batch: Batch<IN>, i: number): void {
    batch.status[i] = IN_STATE;
    batch.applied[i] = 1;
  }

  /** Index of the first record at `from` or later above the encoded offset `enc` (`n` when none). */
  private indexAbove(batch: Batch<IN>, enc: string, from = 0): number {
    let lo = from;
    let hi = batch.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.encAt(batch, mid) <= enc) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private encAt(batch: Batch<IN>, i: number): string {
    let e = batch.enc[i];
    if (e === undefined) {
      e = encodeOffset((batch.records[i] as SourceRecord).position);
      batch.enc[i] = e;
    }
    return e;
  }

  private deadLetter(batch: Batch<IN>, i: number, reason: DeadLetterReason, error: unknown): void {
    const r = batch.records[i] as SourceRecord | DecodedRecord<unknown>;
    batch.status[i] = DEAD;
    batch.dead.push({
      operator: this.definition.name,
      position: r.position,
      data: batch.raw ? (r as SourceRecord).data : EMPTY,
      kind: DEAD_LETTER_KIND[reason],
      reason: `${reason}: ${messageOf(error)}`,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      at: batch.now,
      code: reason,
      partitionKey: r.partitionKey,
    });
  }

  private lateRecord(
    batch: Batch<IN>,
    i: number,
    key: string,
    windows: readonly TimeWindow[],
    reason: LateReason,
    watermark: number,
  ): void {
    const r = batch.records[i] as SourceRecord | DecodedRecord<unknown>;
    batch.lateIdx.push(i);
    batch.late.push({
      operator: this.definition.name,
      output: this.definition.lateDataTag,
      position: r.position,
      data: batch.raw ? (r as SourceRecord).data : EMPTY,
      eventTime: batch.times[i] as number,
      windows,
      reason,
      watermark,
      key,
      partitionKey: r.partitionKey,
    });
  }

  /**
   * The guard as an index: a record `i` above the committed position is at
   * or below the absorbed offset `abs` exactly when `i < cut(abs)` (positions
   * strictly increase along the batch). An item's offset from an earlier
   * batch is below the batch's first live record, which costs one string
   * comparison; other offsets are found by binary search, once per batch.
   */
  private cut(batch: Batch<IN>, abs: string | undefined): number {
    if (abs === undefined) return 0;
    const first = batch.firstLive;
    const n = batch.records.length;
    if (first >= n || abs < this.encAt(batch, first)) return 0;
    let c = batch.cuts.get(abs);
    if (c === undefined) batch.cuts.set(abs, (c = this.indexAbove(batch, abs, first + 1)));
    return c;
  }

  /** Re-folds a group's records, keeping only those at index `cut` or above (the guard). */
  private rebuild(batch: Batch<IN>, idxs: readonly number[], cut: number): ACC {
    let acc = this.agg.createAccumulator();
    for (const i of idxs) {
      if (batch.status[i] !== IN_STATE) continue;
      if (i < cut) {
        batch.applied[i] = 1;
        continue;
      }
      acc = this.agg.add(this.valueAt(batch, i), acc);
    }
    return acc;
  }

  /**
   * Record `i`'s event after the steps. Decoded batches and sessions keep
   * every event; a raw tumbling or sliding batch re-derives it from the bytes
   * (decode and steps again), which only a rebuild needs: after a conflict or
   * a partly applied write.
   */
  private valueAt(batch: Batch<IN>, i: number): IN {
    if (batch.values !== undefined) return batch.values[i] as IN;
    const def = this.definition;
    const r = batch.records[i] as SourceRecord;
    let v: unknown;
    try {
      v = def.decoder.decode(r.data);
      for (const step of def.steps) {
        if (step.kind === 'map') v = step.fn(v);
        else if (!step.fn(v)) {
          throw new NondeterministicPipelineError(def.name, r.position, 'was filtered out');
        }
      }
    } catch (e) {
      if (e instanceof NondeterministicPipelineError) throw e;
      throw new NondeterministicPipelineError(def.name, r.position, `threw (${messageOf(e)})`, e);
    }
    return v as IN;
  }

  private planWindowWrite(
    batch: Batch<IN>,
    g: Group<ACC>,
    item: WindowItem | undefined,
    rebuild: boolean,
  ): WindowWrite | undefined {
    const agg = this.agg;
    const idxs = g.idxs;
    const last = idxs[idxs.length - 1] as number;
    let acc = g.acc;
    const cut = item === undefined ? 0 : this.cut(batch, item.absorbed[batch.shardId]);
    if (last < cut) {
      for (const i of idxs) batch.applied[i] = 1;
      return undefined;
    }
    if ((idxs[0] as number) < cut) acc = this.rebuild(batch, idxs, cut);
    else if (rebuild) acc = this.rebuild(batch, idxs, 0);
    const lastEnc = this.encAt(batch, last);
    if (item === undefined) {
      return {
        kind: 'put',
        expectedRevision: null,
        item: {
          key: g.key,
          start: g.start,
          end: g.end,
          accumulator: agg.serialize(acc),
          absorbed: absorbedWith({}, batch.shardId, lastEnc),
          firedVersion: 0,
          pending: true,
          cleanupAt: g.end - 1 + this.definition.allowedLateness,
          revision: 1,
          purged: false,
          supersedes: [],
          outbox: null,
        },
      };
    }
    if (item.purged) {
      this.purgedWindow(batch, g.key, idxs, cut, { start: g.start, end: g.end });
      return undefined;
    }
    const merged = agg.merge(agg.deserialize(item.accumulator), acc);
    return {
      kind: 'put',
      expectedRevision: item.revision,
      item: changed(
        item,
        agg.serialize(merged),
        absorbedWith(item.absorbed, batch.shardId, lastEnc),
        item.firedVersion,
        true,
        false,
        item.supersedes,
      ),
    };
  }

  /** Records for a window whose state is gone: only reachable after a restore moved the watermark back. */
  private purgedWindow(
    batch: Batch<IN>,
    key: string,
    idxs: readonly number[],
    cut: number,
    window: TimeWindow,
  ): void {
    for (const i of idxs) {
      if (batch.status[i] !== IN_STATE || i < cut) continue;
      this.lateRecord(batch, i, key, [window], LateReason.WINDOW_PURGED, -Infinity);
      const wc = batch.winCount;
      if (wc !== undefined) wc[i] = (wc[i] ?? 1) - 1;
      if (wc === undefined || wc[i] === 0) batch.status[i] = LATE;
    }
  }

  private async writeWindows(batch: Batch<IN>, all: readonly Group<ACC>[]): Promise<number> {
    const op = this.definition.name;
    let pending = all.filter((g) => g.idxs.length > 0);
    let items = await this.store.getWindows(op, pending);
    let writes = 0;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new StateContentionError(op, MAX_ATTEMPTS);
      const planned: WindowWrite[][] = [];
      const planGroups: Group<ACC>[] = [];
      for (let j = 0; j < pending.length; j++) {
        const g = pending[j] as Group<ACC>;
        const w = this.planWindowWrite(batch, g, items[j], attempt > 1);
        if (w !== undefined) {
          planned.push([w]);
          planGroups.push(g);
        }
      }
      if (planned.length === 0) break;
      const ok = await this.store.write(op, planned);
      const retry: Group<ACC>[] = [];
      for (let j = 0; j < planGroups.length; j++) {
        if (ok[j] === true) writes++;
        else retry.push(planGroups[j] as Group<ACC>);
      }
      pending = retry;
      if (retry.length > 0) items = await this.store.getWindows(op, retry);
    }
    return writes;
  }

  private async writeSessions(
    batch: Batch<IN>,
    sessionRecs: ReadonlyMap<string, number[]>,
  ): Promise<number> {
    const op = this.definition.name;
    let keys = [...sessionRecs.keys()];
    let stored =
      keys.length > 0
        ? await this.store.listKeyWindows(op, keys)
        : new Map<string, readonly WindowItem[]>();
    let writes = 0;
    for (let attempt = 1; keys.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new StateContentionError(op, MAX_ATTEMPTS);
      const planned: WindowWrite[][] = [];
      const planKeys: string[] = [];
      for (const key of keys) {
        const group = this.planSessions(
          batch,
          key,
          sessionRecs.get(key) as number[],
          stored.get(key) ?? [],
        );
        if (group.length > 0) {
          planned.push(group);
          planKeys.push(key);
          for (const w of group)
            if (w.kind === 'put' && w.item.end < batch.lowestWrittenEnd)
              batch.lowestWrittenEnd = w.item.end;
        }
      }
      if (planned.length === 0) break;
      const ok = await this.store.write(op, planned);
      const retry: string[] = [];
      for (let j = 0; j < planKeys.length; j++) {
        if (ok[j] === true)
          writes += (planned[j] as WindowWrite[]).filter((w) => w.kind === 'put').length;
        else retry.push(planKeys[j] as string);
      }
      keys = retry;
      if (retry.length > 0) stored = await this.store.listKeyWindows(op, retry);
    }
    return writes;
  }

  /**
   * Plans one key's session changes as ONE atomic write group. Atomicity per
   * key is what makes the guard sound for sessions: every record of this key
   * in this batch is applied together, so "some item of the key absorbed a
   * position >= p of this shard" implies "the record at p was applied".
   */
  private planSessions(
    batch: Batch<IN>,
    key: string,
    idxs: readonly number[],
    items: readonly WindowItem[],
  ): WindowWrite[] {
    const agg = this.agg;
    const shard = batch.shardId;
    const gap = this.definition.assigner.kind === 'session' ? this.definition.assigner.gap : 0;
    let maxAbs: string | undefined;
    for (const it of items) {
      const a = it.absorbed[shard];
      if (a !== undefined && (maxAbs === undefined || a > maxAbs)) maxAbs = a;
    }
    const cut = this.cut(batch, maxAbs);
    const times = batch.times;
    const tombs = items.filter((it) => it.purged);
    const recs: number[] = [];
    for (const i of idxs) {
      if (batch.status[i] !== IN_STATE) continue;
      if (i < cut) {
        batch.applied[i] = 1;
        continue;
      }
      // A session that would join one already purged: its state is gone. Only
      // reachable when the record was judged against an older view than the
      // purge's (a retry judges its range against the view the range first
      // recorded; or a restore moved the watermark back), as a tumbling
      // window's record meeting a tombstone.
      const t = times[i] as number;
      if (tombs.some((it) => t <= it.end && it.start <= t + gap)) {
        this.lateRecord(
          batch,
          i,
          key,
          [{ start: t, end: t + gap }],
          LateReason.WINDOW_PURGED,
          -Infinity,
        );
        batch.status[i] = LATE;
        continue;
      }
      recs.push(i);
    }
    if (recs.length === 0) return [];
    recs.sort((a, b) => (times[a] as number) - (times[b] as number) || a - b);

    interface Part {
      start: number;
      end: number;
      acc: ACC | undefined;
      item: WindowItem | undefined;
    }
    const parts: Part[] = [];
    let cur: Part | undefined;
    let lastIdx = -1;
    for (const i of recs) {
      const t = times[i] as number;
      try {
        if (cur === undefined || t > cur.end) {
          const acc = agg.add(this.valueAt(batch, i), agg.createAccumulator());
          cur = { start: t, end: t + gap, acc, item: undefined };
          parts.push(cur);
        } else {
          cur.acc = agg.add(this.valueAt(batch, i), cur.acc as ACC);
          if (t + gap > cur.end) cur.end = t + gap;
        }
      } catch (e) {
        this.deadLetter(batch, i, DeadLetterReason.AGGREGATE_THREW, e);
        continue;
      }
      if (i > lastIdx) lastIdx = i;
    }
    if (lastIdx < 0) return [];
    const lastEnc = this.encAt(batch, lastIdx);
    const tombstones = new Map<string, WindowItem>();
    for (const it of items) {
      if (it.purged) tombstones.set(`${it.start}/${it.end}`, it);
      else parts.push({ start: it.start, end: it.end, acc: undefined, item: it });
    }
    parts.sort((a, b) => a.start - b.start || a.end - b.end);

    const writes: WindowWrite[] = [];
    let comp: Part[] = [];
    let compEnd = -Infinity;
    const flush = (): void => {
      if (comp.length === 0 || comp.every((p) => p.item !== undefined)) return;
      const storedParts = comp.filter((p) => p.item !== undefined).map((p) => p.item as WindowItem);
      let acc: ACC | undefined;
      for (const p of comp) {
        const a = p.acc ?? agg.deserialize((p.item as WindowItem).accumulator);
        acc = acc === undefined ? a : agg.merge(acc, a);
      }
      const absorbed: Record<string, string> = {};
      for (const it of storedParts) {
        for (const [s, a] of Object.entries(it.absorbed)) {
          const have = absorbed[s];
          if (have === undefined || a > have) absorbed[s] = a;
        }
      }
      const have = absorbed[shard];
      if (have === undefined || lastEnc > have) absorbed[shard] = lastEnc;
      const start = Math.min(...comp.map((p) => p.start));
      const end = compEnd;
      const only = storedParts.length === 1 ? storedParts[0] : undefined;
      if (only !== undefined && only.start === start && only.end === end) {
        writes.push({
          kind: 'put',
          expectedRevision: only.revision,
          item: {
            ...only,
            accumulator: agg.serialize(acc as ACC),
            absorbed,
            pending: true,
            revision: only.revision + 1,
          },
        });
        return;
      }
      const supersedes: TimeWindow[] = [];
      for (const it of storedParts) {
        supersedes.push(...it.supersedes);
        if (it.firedVersion > 0) supersedes.push({ start: it.start, end: it.end });
        writes.push({ kind: 'delete', ref: it, expectedRevision: it.revision });
      }
      supersedes.sort((a, b) => a.start - b.start || a.end - b.end);
      const tomb = tombstones.get(`${start}/${end}`);
      writes.push({
        kind: 'put',
        expectedRevision: tomb?.revision ?? null,
        item: {
          key,
          start,
          end,
          accumulator: agg.serialize(acc as ACC),
          absorbed,
          firedVersion: tomb?.firedVersion ?? 0,
          pending: true,
          cleanupAt: end - 1 + this.definition.allowedLateness,
          revision: (tomb?.revision ?? 0) + 1,
          purged: false,
          supersedes,
          // A revived tombstone keeps a result it fired but had not emitted yet.
          outbox: tomb?.outbox ?? null,
        },
      });
    };
    for (const p of parts) {
      if (comp.length > 0 && p.start <= compEnd) {
        comp.push(p);
        if (p.end > compEnd) compEnd = p.end;
      } else {
        flush();
        comp = [p];
        compEnd = p.end;
      }
    }
    flush();
    return writes;
  }

  private async fireAndPurge(w: number): Promise<WindowResult<OUT>[]> {
    if (!Number.isFinite(w)) return [];
    const results = await this.fire(w);
    await this.purge(w);
    return results;
  }

  private async fire(w: number): Promise<WindowResult<OUT>[]> {
    const op = this.definition.name;
    const now = this.clock.now();
    const agg = this.agg;
    const out: WindowResult<OUT>[] = [];
    for (let round = 1; ; round++) {
      if (round > MAX_ATTEMPTS * 1000) throw new StateContentionError(op, round);
      const due = [...(await this.store.listDue(op, w, this.page))];
      if (due.length === 0) return out;
      due.sort(
        (a, b) =>
          a.end - b.end || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.start - b.start,
      );
      const planned: WindowWrite[][] = [];
      const pendingResults: WindowResult<OUT>[] = [];
      // Due items come sorted by end: results of one window share one (readonly) bounds object.
      let window: TimeWindow = { start: NaN, end: NaN };
      for (const item of due) {
        let value: OUT;
        try {
          value = agg.getResult(agg.deserialize(item.accumulator));
        } catch (e) {
          throw new AggregateResultError(item.key, item, e);
        }
        const version = item.firedVersion + 1;
        if (window.start !== item.start || window.end !== item.end)
          window = { start: item.start, end: item.end };
        pendingResults.push({
          id: this.ids.of(item.key, item.start, item.end, version),
          operator: op,
          key: item.key,
          window,
          value,
          version,
          supersedes: item.supersedes,
        });
        // Fired, not purged, even when already past its lateness: the purge
        // below skips an item another shard updated in between (see
        // docs/semantics.md, "Firing and purging are two writes").
        planned.push([
          {
            kind: 'put',
            expectedRevision: item.revision,
            // Fired in state and put in the outbox by one write: emission is re-driven until acknowledged.
            item: changed(item, item.accumulator, item.absorbed, version, false, false, NONE, {
              version,
              value: toJsonValue(value),
              supersedes: item.supersedes,
              firedAt: now,
            }),
          },
        ]);
      }
      const ok = await this.store.write(op, planned);
      for (let j = 0; j < ok.length; j++)
        if (ok[j] === true) out.push(pendingResults[j] as WindowResult<OUT>);
    }
  }

  private async purge(w: number): Promise<void> {
    const op = this.definition.name;
    for (;;) {
      const expired = await this.store.listExpired(op, w, this.page);
      const planned: WindowWrite[][] = [];
      for (const item of expired) {
        if (item.pending) continue; // updated after firing: the next fire/purge round takes it
        planned.push([
          {
            kind: 'put',
            expectedRevision: item.revision,
            item: changed(item, null, item.absorbed, item.firedVersion, false, true, NONE),
          },
        ]);
      }
      if (planned.length === 0) return;
      const ok = await this.store.write(op, planned);
      if (!ok.some((x) => x) && expired.length < this.page) return;
    }
  }
}
