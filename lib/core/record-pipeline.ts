/**
 * The record pipeline: from a record's bytes to a keyed, timed event, or to
 * the dead-letter output (docs/semantics.md, "Pipeline and record order").
 *
 *   bytes ─► decode ─► filter / map ─► keyBy ─► eventTime ─► (key, event, t)
 *              │           │    │        │          │
 *              ▼           ▼    ▼        ▼          ▼
 *         decode-failed filtered  │   key-selector-threw  event-time-threw
 *                        filter-threw invalid-key         invalid-event-time
 *                        map-threw    key-too-large
 *
 * It knows nothing of windows: any keyed, event-time operator can run its
 * records through it (`KeyedStreamDefinition`).
 */
import { NondeterministicPipelineError } from './errors.ts';
import { RecordStatus, messageOf } from './batch.ts';
import type { Batch } from './batch.ts';
import type { Decoder } from './decode.ts';
import type { KeyedStreamDefinition, Step } from './pipeline.ts';
import { DeadLetterReason } from '../model/records.ts';
import type { DecodedRecord, SourceRecord } from '../model/records.ts';

/** Earliest accepted event time (the range of `Date`). */
export const MIN_EVENT_TIME = -8.64e15;
/** Latest accepted event time. */
export const MAX_EVENT_TIME = 8.64e15;

/** Returned by a stage when the record left the pipeline (filtered or dead-lettered). */
const GONE: unique symbol = Symbol('gone');

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

// The rejections below are out of line on purpose: the hot functions stay
// small enough for the compiler to inline them into the operator's record
// loop (building an error message is not on the hot path).

function rejected(
  batch: Batch<unknown>,
  i: number,
  reason: DeadLetterReason,
  e: unknown,
): undefined {
  batch.deadLetter(i, reason, e);
  return undefined;
}

function stepThrew(batch: Batch<unknown>, i: number, step: Step, e: unknown): undefined {
  const reason =
    step.kind === 'filter' ? DeadLetterReason.FILTER_THREW : DeadLetterReason.MAP_THREW;
  return rejected(batch, i, reason, e);
}

function invalidKey(batch: Batch<unknown>, i: number, k: unknown): undefined {
  const given = k === '' ? '""' : String(k);
  const e = new TypeError(`key must be a non-empty string or a finite number (given ${given})`);
  return rejected(batch, i, DeadLetterReason.INVALID_KEY, e);
}

function keyTooLarge(batch: Batch<unknown>, i: number, key: string, max: number): undefined {
  const e = new RangeError(`key is ${utf8Length(key)} UTF-8 bytes; keyBy.maxKeyBytes is ${max}`);
  return rejected(batch, i, DeadLetterReason.KEY_TOO_LARGE, e);
}

function invalidEventTime(batch: Batch<unknown>, i: number, t: unknown): undefined {
  const e = new RangeError(
    `event time must be an integer epoch ms in ${MIN_EVENT_TIME}..${MAX_EVENT_TIME} (given ${String(t)})`,
  );
  return rejected(batch, i, DeadLetterReason.INVALID_EVENT_TIME, e);
}

/** Runs one definition's decode, steps, key and event time over a batch's records. */
export class RecordPipeline<IN> {
  /** The event of the record {@link accept} last returned a key for. */
  value: unknown = undefined;
  /** Its event time (epoch ms). */
  time = 0;
  private readonly name: string;
  private readonly decoder: Decoder<unknown>;
  private readonly steps: readonly Step[];
  private readonly keySelector: (value: IN) => string | number;
  private readonly extractor: (value: IN) => number;
  private readonly maxKeyBytes: number;
  /** Keys of at most this many UTF-16 units cannot exceed `maxKeyBytes`: no need to count bytes. */
  private readonly maxKeyChars: number;

  constructor(definition: KeyedStreamDefinition<IN>) {
    this.name = definition.name;
    this.decoder = definition.decoder;
    this.steps = definition.steps;
    this.keySelector = definition.keySelector;
    this.extractor = definition.timestampExtractor;
    this.maxKeyBytes = definition.maxKeyBytes;
    this.maxKeyChars = Math.floor(definition.maxKeyBytes / 3);
  }

  /**
   * Runs record `i` through the pipeline. Returns its key, with its event in
   * {@link value} and its event time in {@link time} (and in the batch's
   * columns), or `undefined` when the record was filtered out or
   * dead-lettered (its status is then set).
   */
  accept(batch: Batch<IN>, i: number): string | undefined {
    const v = this.event(batch, i);
    if (v === GONE) return undefined;
    const value = v as IN;
    const key = this.keyOf(batch, i, value);
    if (key === undefined) return undefined;
    const t = this.eventTime(batch, i, value);
    if (t === undefined) return undefined;
    this.value = value;
    this.time = t;
    if (batch.values !== undefined) batch.values[i] = value;
    batch.times[i] = t;
    return key;
  }

  /** Decode and steps. */
  private event(batch: Batch<IN>, i: number): unknown {
    const r = batch.records[i] as SourceRecord | DecodedRecord<unknown>;
    let v: unknown;
    if (batch.raw) {
      try {
        v = this.decoder.decode((r as SourceRecord).data);
      } catch (e) {
        rejected(batch, i, DeadLetterReason.DECODE_FAILED, e);
        return GONE;
      }
    } else {
      v = (r as DecodedRecord<unknown>).value;
    }
    const steps = this.steps;
    for (let s = 0; s < steps.length; s++) {
      const step = steps[s] as Step;
      try {
        if (step.kind === 'filter') {
          if (!step.fn(v)) {
            batch.status[i] = RecordStatus.FILTERED;
            return GONE;
          }
        } else v = step.fn(v);
      } catch (e) {
        stepThrew(batch, i, step, e);
        return GONE;
      }
    }
    return v;
  }

  /** The key: a non-empty string or a finite number (as a string), within `maxKeyBytes`. */
  private keyOf(batch: Batch<IN>, i: number, value: IN): string | undefined {
    let k: unknown;
    try {
      k = this.keySelector(value);
    } catch (e) {
      return rejected(batch, i, DeadLetterReason.KEY_SELECTOR_THREW, e);
    }
    const key =
      typeof k === 'string' ? k : typeof k === 'number' && Number.isFinite(k) ? String(k) : '';
    if (key.length === 0) return invalidKey(batch, i, k);
    if (key.length > this.maxKeyChars && utf8Length(key) > this.maxKeyBytes)
      return keyTooLarge(batch, i, key, this.maxKeyBytes);
    return key;
  }

  /** The event time: a safe integer of epoch ms within the range of `Date`. */
  private eventTime(batch: Batch<IN>, i: number, value: IN): number | undefined {
    let t: unknown;
    try {
      t = this.extractor(value);
    } catch (e) {
      return rejected(batch, i, DeadLetterReason.EVENT_TIME_THREW, e);
    }
    if (
      typeof t !== 'number' ||
      !Number.isSafeInteger(t) ||
      t < MIN_EVENT_TIME ||
      t > MAX_EVENT_TIME
    )
      return invalidEventTime(batch, i, t);
    return t;
  }

  /**
   * Record `i`'s event after the steps. Batches that keep their events
   * (decoded batches, sessions) have it; a raw tumbling or sliding batch
   * re-derives it from the bytes (decode and steps again), which only a
   * rebuild needs: after a conflict or a partly applied write. A record
   * that does not come out the same is a nondeterministic pipeline.
   */
  eventAt(batch: Batch<IN>, i: number): IN {
    if (batch.values !== undefined) return batch.values[i] as IN;
    const r = batch.records[i] as SourceRecord;
    let v: unknown;
    try {
      v = this.decoder.decode(r.data);
      for (const step of this.steps) {
        if (step.kind === 'map') v = step.fn(v);
        else if (!step.fn(v)) {
          throw new NondeterministicPipelineError(this.name, r.position, 'was filtered out');
        }
      }
    } catch (e) {
      if (e instanceof NondeterministicPipelineError) throw e;
      throw new NondeterministicPipelineError(this.name, r.position, `threw (${messageOf(e)})`, e);
    }
    return v as IN;
  }
}
