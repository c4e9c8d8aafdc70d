/**
 * The pipeline API: a Flink user reads
 * `decode -> filter -> keyBy -> eventTime -> window -> allowedLateness ->
 * sideOutputLateData -> aggregate` and knows what happens. Every setting is
 * validated when the pipeline is defined; a bad value throws a
 * {@link ConfigError} naming the field, the value and the allowed range.
 */
import { ConfigError } from '../errors.ts';
import type { AggregateFunction } from './aggregate.ts';
import type { Decoder } from './decode.ts';
import type { Millis } from './duration.ts';
import { SessionWindows, SlidingWindows, TumblingWindows } from './window.ts';
import type { WindowAssigner } from './window.ts';

/** Longest maxOutOfOrderness / allowedLateness / idleTimeout: 7 days. */
export const MAX_TIME_SETTING: Millis = 7 * 86_400_000;
/** Largest accepted maxKeyBytes (DynamoDB partition keys hold 2048 bytes; weir prefixes the operator name). */
export const MAX_KEY_BYTES_LIMIT = 1536;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Event-time settings (Flink's `WatermarkStrategy.forBoundedOutOfOrderness(...).withIdleness(...)`). */
export interface EventTimeOptions {
  /**
   * How far behind the highest event time seen on a shard a record may be and
   * still be on time: W(s) = max event time - maxOutOfOrderness.
   * @default 0
   */
  readonly maxOutOfOrderness?: Millis;
  /**
   * A shard without a batch for this long (processing time) is idle and does
   * not hold back the operator watermark. `undefined`: shards never go idle.
   * @default undefined
   */
  readonly idleTimeout?: Millis;
  /**
   * When every shard is idle (or closed), advance the watermark with processing
   * time: W = max(W, now - idleTimeout - maxOutOfOrderness). Requires idleTimeout.
   * @default false
   */
  readonly idleAdvance?: boolean;
}

/** Resolved event-time settings. */
export interface EventTimeSettings {
  readonly maxOutOfOrderness: Millis;
  readonly idleTimeout: Millis | undefined;
  readonly idleAdvance: boolean;
}

/** Options of `keyBy`. */
export interface KeyByOptions {
  /**
   * Keys longer than this (UTF-8 bytes) go to the dead-letter output.
   * 1..1536.
   * @default 1024
   */
  readonly maxKeyBytes?: number;
}

/** A per-record step between decode and keyBy. */
export type Step =
  | { readonly kind: 'filter'; readonly fn: (value: unknown) => boolean }
  | { readonly kind: 'map'; readonly fn: (value: unknown) => unknown };

/**
 * What every keyed, event-time operator is defined by: how a record's bytes
 * become a keyed, timed event (the core's `RecordPipeline` runs it), and the
 * watermark strategy. A window operator adds windows and an aggregate; a
 * keyed process function or a join would add their own parts.
 */
export interface KeyedStreamDefinition<IN> {
  /** The operator's name: identifies its state, results and outputs. */
  readonly name: string;
  readonly decoder: Decoder<unknown>;
  readonly steps: readonly Step[];
  readonly keySelector: (value: IN) => string | number;
  readonly maxKeyBytes: number;
  readonly timestampExtractor: (value: IN) => number;
  readonly time: EventTimeSettings;
}

/**
 * A complete, validated window operator definition: what `aggregate()`
 * returns and what `createWindowOperator` runs.
 */
export interface WindowedOperatorDefinition<IN, ACC, OUT> extends KeyedStreamDefinition<IN> {
  readonly assigner: WindowAssigner;
  readonly allowedLateness: Millis;
  readonly lateDataTag: string;
  readonly aggregate: AggregateFunction<IN, ACC, OUT>;
}

interface Draft {
  name: string;
  decoder: Decoder<unknown>;
  steps: Step[];
  keySelector?: (value: never) => string | number;
  maxKeyBytes: number;
  timestampExtractor?: (value: never) => number;
  time?: EventTimeSettings;
  assigner?: WindowAssigner;
  allowedLateness: Millis;
  lateDataTag: string;
}

function timeSetting(field: string, value: unknown, min: number): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < min ||
    value > MAX_TIME_SETTING
  ) {
    throw new ConfigError(
      field,
      value,
      `must be an integer number of ms in ${min}..${MAX_TIME_SETTING}`,
    );
  }
  return value;
}

function resolveTime(options: EventTimeOptions): EventTimeSettings {
  const maxOutOfOrderness = timeSetting(
    'eventTime.maxOutOfOrderness',
    options.maxOutOfOrderness ?? 0,
    0,
  );
  const idleTimeout =
    options.idleTimeout === undefined
      ? undefined
      : timeSetting('eventTime.idleTimeout', options.idleTimeout, 1);
  const idleAdvance = options.idleAdvance ?? false;
  if (typeof idleAdvance !== 'boolean')
    throw new ConfigError('eventTime.idleAdvance', idleAdvance, 'must be true or false');
  if (idleAdvance && idleTimeout === undefined) {
    throw new ConfigError(
      'eventTime.idleAdvance',
      idleAdvance,
      'requires eventTime.idleTimeout; set idleTimeout (for example minutes(1))',
    );
  }
  return { maxOutOfOrderness, idleTimeout, idleAdvance };
}

function checkFunction(field: string, fn: unknown): void {
  if (typeof fn !== 'function') throw new ConfigError(field, fn, 'must be a function');
}

/** Start of a pipeline: choose a decoder. */
export interface PipelineSource {
  /** How record bytes become events. */
  decode<T>(decoder: Decoder<T>): Stream<T>;
}

/** A stream of events before keying. */
export interface Stream<T> {
  /** Keeps events for which `predicate` is true; a throwing predicate dead-letters the record. */
  filter(predicate: (value: T) => boolean): Stream<T>;
  /** Transforms events; a throwing mapper dead-letters the record. */
  map<U>(mapper: (value: T) => U): Stream<U>;
  /** Partitions by key; state and windows are per key. */
  keyBy(selector: (value: T) => string | number, options?: KeyByOptions): KeyedStream<T>;
  /** Assigns event time and watermarks (may also be called after keyBy). */
  eventTime(extractor: (value: T) => number, options?: EventTimeOptions): TimedStream<T>;
}

/** A stream with event time, before keying. */
export interface TimedStream<T> {
  filter(predicate: (value: T) => boolean): TimedStream<T>;
  keyBy(selector: (value: T) => string | number, options?: KeyByOptions): TimedKeyedStream<T>;
}

/** A keyed stream without event time yet. */
export interface KeyedStream<T> {
  /** Event time in epoch ms and the watermark strategy. */
  eventTime(extractor: (value: T) => number, options?: EventTimeOptions): TimedKeyedStream<T>;
}

/** A keyed stream with event time: ready for windows. */
export interface TimedKeyedStream<T> {
  window(assigner: WindowAssigner): WindowedStream<T>;
}

/** A windowed stream: set lateness handling, then aggregate. */
export interface WindowedStream<T> {
  /** How long after a window fired late records still update it (re-firing with version + 1). @default 0 */
  allowedLateness(lateness: Millis): WindowedStream<T>;
  /** Tag of the late-data side output. Late records are never dropped. @default 'late-data' */
  sideOutputLateData(tag: string): WindowedStream<T>;
  /** Incremental aggregate of each (key, window); completes the definition. */
  aggregate<ACC, OUT>(fn: AggregateFunction<T, ACC, OUT>): WindowedOperatorDefinition<T, ACC, OUT>;
}

/**
 * Starts a pipeline definition. `name` identifies the operator's state; it is
 * 1..64 characters of letters, digits, `_`, `.`, `-`.
 *
 * @example
 * const views = pipeline('page-views')
 *   .decode(json<Click>())
 *   .filter((e) => e.kind === 'view')
 *   .keyBy((e) => e.page)
 *   .eventTime((e) => e.ts, { maxOutOfOrderness: seconds(5), idleTimeout: minutes(1), idleAdvance: true })
 *   .window(tumbling(minutes(1)))
 *   .allowedLateness(seconds(30))
 *   .sideOutputLateData('late')
 *   .aggregate(count());
 */
export function pipeline(name: string): PipelineSource {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError(
      'pipeline.name',
      name,
      'must be 1..64 characters of letters, digits, "_", "." or "-", starting with a letter or digit',
    );
  }
  return {
    decode<T>(decoder: Decoder<T>): Stream<T> {
      if (decoder === null || typeof decoder !== 'object' || typeof decoder.decode !== 'function') {
        throw new ConfigError('decode', decoder, 'must be a decoder such as json<T>()');
      }
      return stream<T>({
        name,
        decoder,
        steps: [],
        maxKeyBytes: 1024,
        allowedLateness: 0,
        lateDataTag: 'late-data',
      });
    },
  };
}

function withKey(d: Draft, selector: unknown, options: KeyByOptions | undefined): Draft {
  checkFunction('keyBy', selector);
  const maxKeyBytes = options?.maxKeyBytes ?? 1024;
  if (!Number.isSafeInteger(maxKeyBytes) || maxKeyBytes < 1 || maxKeyBytes > MAX_KEY_BYTES_LIMIT) {
    throw new ConfigError(
      'keyBy.maxKeyBytes',
      maxKeyBytes,
      `must be an integer in 1..${MAX_KEY_BYTES_LIMIT}`,
    );
  }
  return { ...d, keySelector: selector as (value: never) => string | number, maxKeyBytes };
}

function withTime(d: Draft, extractor: unknown, options: EventTimeOptions | undefined): Draft {
  checkFunction('eventTime', extractor);
  return {
    ...d,
    timestampExtractor: extractor as (value: never) => number,
    time: resolveTime(options ?? {}),
  };
}

function stream<T>(d: Draft): Stream<T> {
  return {
    filter: (predicate) => {
      checkFunction('filter', predicate);
      return stream<T>({
        ...d,
        steps: [...d.steps, { kind: 'filter', fn: predicate as (v: unknown) => boolean }],
      });
    },
    map: <U>(mapper: (value: T) => U) => {
      checkFunction('map', mapper);
      return stream<U>({
        ...d,
        steps: [...d.steps, { kind: 'map', fn: mapper as (v: unknown) => unknown }],
      });
    },
    keyBy: (selector, options) => keyed<T>(withKey(d, selector, options)),
    eventTime: (extractor, options) => timed<T>(withTime(d, extractor, options)),
  };
}

function timed<T>(d: Draft): TimedStream<T> {
  return {
    filter: (predicate) => {
      checkFunction('filter', predicate);
      return timed<T>({
        ...d,
        steps: [...d.steps, { kind: 'filter', fn: predicate as (v: unknown) => boolean }],
      });
    },
    keyBy: (selector, options) => timedKeyed<T>(withKey(d, selector, options)),
  };
}

function keyed<T>(d: Draft): KeyedStream<T> {
  return { eventTime: (extractor, options) => timedKeyed<T>(withTime(d, extractor, options)) };
}

function timedKeyed<T>(d: Draft): TimedKeyedStream<T> {
  return {
    window: (assigner) => {
      if (!(
        assigner instanceof TumblingWindows ||
        assigner instanceof SlidingWindows ||
        assigner instanceof SessionWindows
      )) {
        throw new ConfigError(
          'window',
          assigner,
          'must be tumbling(...), sliding(...) or session(...)',
        );
      }
      return windowed<T>({ ...d, assigner });
    },
  };
}

function windowed<T>(d: Draft): WindowedStream<T> {
  return {
    allowedLateness: (lateness) =>
      windowed<T>({ ...d, allowedLateness: timeSetting('allowedLateness', lateness, 0) }),
    sideOutputLateData: (tag) => {
      if (typeof tag !== 'string' || !NAME.test(tag)) {
        throw new ConfigError(
          'sideOutputLateData',
          tag,
          'must be 1..64 characters of letters, digits, "_", "." or "-"',
        );
      }
      return windowed<T>({ ...d, lateDataTag: tag });
    },
    aggregate: <ACC, OUT>(fn: AggregateFunction<T, ACC, OUT>) => {
      if (fn === null || typeof fn !== 'object')
        throw new ConfigError('aggregate', fn, 'must be an AggregateFunction such as count()');
      for (const m of [
        'createAccumulator',
        'add',
        'merge',
        'getResult',
        'serialize',
        'deserialize',
      ] as const) {
        checkFunction(`aggregate.${m}`, (fn as unknown as Record<string, unknown>)[m]);
      }
      if (
        d.keySelector === undefined ||
        d.timestampExtractor === undefined ||
        d.time === undefined ||
        d.assigner === undefined
      ) {
        throw new ConfigError(
          'pipeline',
          d.name,
          'is incomplete: call keyBy, eventTime and window before aggregate',
        );
      }
      return Object.freeze({
        name: d.name,
        decoder: d.decoder,
        steps: Object.freeze([...d.steps]),
        keySelector: d.keySelector as (value: T) => string | number,
        maxKeyBytes: d.maxKeyBytes,
        timestampExtractor: d.timestampExtractor as (value: T) => number,
        time: d.time,
        assigner: d.assigner,
        allowedLateness: d.allowedLateness,
        lateDataTag: d.lateDataTag,
        aggregate: fn,
      });
    },
  };
}
