/**
 * In-memory sinks and dead-letter output with the same semantics as the AWS
 * adapters (idempotent per id, versions never regress), plus inspection
 * helpers and fault injection for tests.
 */
import { deadLetterId, lateRecordId } from '../../model/ids.ts';
import { compareResultOrder } from '../../model/records.ts';
import type { DeadLetter, LateRecord, WindowResult } from '../../model/records.ts';
import { isRetraction, type WindowRetraction } from '../../model/retraction.ts';
import type { TimeWindow } from '../../model/time-window.ts';
import type { DeadLetterOutput } from '../../ports/dead-letter-output.ts';
import { DeadLetterError, SinkError } from '../../ports/errors.ts';
import {
  SinkOutcome,
  type Sink,
  type SinkItemReport,
  type SinkWriteReport,
} from '../../ports/sink.ts';
import { SUPERSEDED_VERSION } from '../dynamodb/dynamodb-result-sink.ts';
import { sinkWriteReport } from '../sink-report.ts';

/** A scripted failure: the next `times` writes fail with `error` (before writing anything). */
interface Fault {
  error: unknown;
  times: number;
}

function takeFault(fault: Fault | undefined): unknown {
  if (!fault || fault.times <= 0) return undefined;
  fault.times -= 1;
  return fault.error ?? new Error('injected failure');
}

/**
 * Window results by (operator, key, window), keeping the highest ordering
 * (generation, version), as {@link DynamoDbResultSink} does. A retraction
 * (lib/model/retraction.ts) is kept like any result, at (generation, 0);
 * {@link InMemoryResultSink.results} and {@link InMemoryResultSink.get}
 * show what a reader sees (retracted windows have no result),
 * {@link InMemoryResultSink.latest} what is stored.
 */
export class InMemoryResultSink implements Sink<WindowResult> {
  readonly #latest = new Map<string, WindowResult>();
  /** Windows replaced by a merged session: slot → the result that superseded it (its generation masks). */
  readonly #superseded = new Map<string, WindowResult>();
  readonly #log: WindowResult[] = [];
  #fault: Fault | undefined;

  async write(items: readonly WindowResult[]): Promise<SinkWriteReport> {
    await Promise.resolve();
    const error = takeFault(this.#fault);
    if (error !== undefined) {
      throw new SinkError<WindowResult>('InMemoryResultSink', 'injected failure', {
        unwritten: [...items],
        report: sinkWriteReport([]),
        retryable: true,
        cause: error,
      });
    }
    const out: SinkItemReport[] = items.map((item, index) => {
      const k = slot(item.operator, item.key, item.window);
      for (const w of item.supersedes ?? []) {
        const old = slot(item.operator, item.key, w);
        const mask = this.#superseded.get(old);
        if (mask === undefined || (mask.generation ?? 0) < (item.generation ?? 0))
          this.#superseded.set(old, item);
        const stored = this.#latest.get(old);
        if (stored && (stored.generation ?? 0) <= (item.generation ?? 0)) this.#latest.delete(old);
      }
      // A superseded-session mark outranks every version of its generation and below.
      const mask = this.#superseded.get(k);
      if (mask !== undefined) {
        if ((mask.generation ?? 0) >= (item.generation ?? 0))
          return { index, outcome: SinkOutcome.Superseded, storedVersion: SUPERSEDED_VERSION };
        this.#superseded.delete(k);
      }
      const stored = this.#latest.get(k);
      const order = stored === undefined ? 1 : compareResultOrder(item, stored);
      if (stored && order < 0) {
        return { index, outcome: SinkOutcome.Superseded, storedVersion: stored.version };
      }
      if (stored && order === 0) {
        return { index, outcome: SinkOutcome.AlreadyPresent, storedVersion: stored.version };
      }
      this.#latest.set(k, item);
      this.#log.push(item);
      return { index, outcome: SinkOutcome.Written };
    });
    return sinkWriteReport(out);
  }

  /** The result a reader sees for one window: the highest ordering stored, unless it is a retraction. */
  get(operator: string, key: string, window: TimeWindow): WindowResult | undefined {
    const stored = this.latest(operator, key, window);
    return stored === undefined || isRetraction(stored) ? undefined : stored;
  }

  /** The highest ordering stored for one window, a retraction included. */
  latest(operator: string, key: string, window: TimeWindow): WindowResult | undefined {
    return this.#latest.get(slot(operator, key, window));
  }

  /**
   * Every result a reader sees (the highest ordering per window, retracted
   * windows left out), sorted by operator, key, window start.
   */
  results(): WindowResult[] {
    return sorted([...this.#latest.values()].filter((r) => !isRetraction(r)));
  }

  /** Windows whose highest ordering stored is a retraction, sorted as {@link results}. */
  retractions(): WindowRetraction[] {
    return sorted([...this.#latest.values()].filter(isRetraction));
  }

  /** Every write that changed the store, in order (idempotent no-ops excluded). */
  writes(): readonly WindowResult[] {
    return this.#log;
  }

  /** Makes the next `times` calls to `write` throw a {@link SinkError} carrying all their items. */
  failNext(times = 1, cause?: unknown): void {
    this.#fault = { error: cause ?? new Error('injected failure'), times };
  }

  clear(): void {
    this.#latest.clear();
    this.#superseded.clear();
    this.#log.length = 0;
  }
}

/**
 * A generic idempotent sink keyed by an id function: the first write of an id
 * is `written`, later ones `already-present`. Use it for late records (the
 * default id is {@link lateRecordId}) or any output without versions.
 */
export class InMemorySink<T> implements Sink<T> {
  readonly #items = new Map<string, T>();
  readonly #idOf: (item: T) => string;
  #deliveries = 0;
  #fault: Fault | undefined;

  constructor(idOf: (item: T) => string) {
    this.#idOf = idOf;
  }

  async write(items: readonly T[]): Promise<SinkWriteReport> {
    await Promise.resolve();
    const error = takeFault(this.#fault);
    if (error !== undefined) {
      throw new SinkError<T>('InMemorySink', 'injected failure', {
        unwritten: [...items],
        report: sinkWriteReport([]),
        retryable: true,
        cause: error,
      });
    }
    this.#deliveries += items.length;
    return sinkWriteReport(
      items.map((item, index) => {
        const id = this.#idOf(item);
        if (this.#items.has(id)) return { index, outcome: SinkOutcome.AlreadyPresent };
        this.#items.set(id, item);
        return { index, outcome: SinkOutcome.Written };
      }),
    );
  }

  /** Distinct items, in first-write order. */
  items(): T[] {
    return [...this.#items.values()];
  }

  get(id: string): T | undefined {
    return this.#items.get(id);
  }

  /** Items offered to `write`, duplicates included. */
  get deliveries(): number {
    return this.#deliveries;
  }

  failNext(times = 1, cause?: unknown): void {
    this.#fault = { error: cause ?? new Error('injected failure'), times };
  }

  clear(): void {
    this.#items.clear();
    this.#deliveries = 0;
  }
}

/** An in-memory late-data sink: idempotent per {@link lateRecordId}. */
export class InMemoryLateRecordSink extends InMemorySink<LateRecord> {
  constructor() {
    super(lateRecordId);
  }
}

/**
 * Dead letters by (operator, position), as `S3DeadLetterOutput` stores them:
 * a retried send replaces, never duplicates. Raw bytes are copied, so later
 * mutation of the caller's buffer cannot change what was stored.
 */
export class InMemoryDeadLetterOutput implements DeadLetterOutput {
  readonly #entries = new Map<string, DeadLetter>();
  #fault: Fault | undefined;

  async send(entries: readonly DeadLetter[]): Promise<void> {
    await Promise.resolve();
    const error = takeFault(this.#fault);
    if (error !== undefined) {
      throw new DeadLetterError('InMemoryDeadLetterOutput', 'injected failure', {
        unsent: [...entries],
        retryable: true,
        cause: error,
      });
    }
    for (const e of entries)
      this.#entries.set(deadLetterId(e), { ...e, data: new Uint8Array(e.data) });
  }

  /** Stored dead letters, sorted by id (operator, shard, offset). */
  entries(): DeadLetter[] {
    return [...this.#entries.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e);
  }

  get size(): number {
    return this.#entries.size;
  }

  failNext(times = 1, cause?: unknown): void {
    this.#fault = { error: cause ?? new Error('injected failure'), times };
  }

  clear(): void {
    this.#entries.clear();
  }
}

function sorted<R extends WindowResult>(results: R[]): R[] {
  return results.sort(
    (a, b) =>
      a.operator.localeCompare(b.operator) ||
      a.key.localeCompare(b.key) ||
      a.window.start - b.window.start ||
      a.window.end - b.window.end,
  );
}

function slot(operator: string, key: string, window: TimeWindow): string {
  return JSON.stringify([operator, key, window.start, window.end]);
}
