/**
 * The front half of every keyed operator's record loop: one record at a
 * time through the guard (skip what is committed), the record pipeline
 * (bytes to a keyed, timed event, or a dead letter) and the judged view
 * (the watermark it is judged against). What the operator then does with
 * the event (windows, keyed state, a join's buffers) is its own.
 */
import { RecordStatus } from './batch.ts';
import type { Batch } from './batch.ts';
import type { BatchGuard } from './guard.ts';
import type { LatenessView } from './judged-view.ts';
import type { RecordPipeline } from './record-pipeline.ts';

/** Walks one batch's records; after {@link next} returned a key, the record's event, time and watermark. */
export class RecordCursor<IN> {
  /** The event of the record {@link next} last returned a key for. */
  value: IN | undefined = undefined;
  /** Its event time. */
  time = 0;
  /** The watermark it is judged against: what the operator knew before it. */
  watermark = -Infinity;
  private readonly batch: Batch<IN>;
  private readonly guard: BatchGuard;
  private readonly pipeline: RecordPipeline<IN>;
  private readonly view: LatenessView;

  constructor(
    batch: Batch<IN>,
    guard: BatchGuard,
    pipeline: RecordPipeline<IN>,
    view: LatenessView,
  ) {
    this.batch = batch;
    this.guard = guard;
    this.pipeline = pipeline;
    this.view = view;
  }

  /**
   * Record `i` (records are taken in order): its key, or `undefined` when it
   * was skipped as committed, filtered out or dead-lettered (its status is
   * then set).
   */
  next(i: number): string | undefined {
    if (!this.guard.admit(i)) {
      this.batch.status[i] = RecordStatus.SKIPPED;
      return undefined;
    }
    const pipeline = this.pipeline;
    const key = pipeline.accept(this.batch, i);
    if (key === undefined) return undefined;
    const t = pipeline.time;
    // Its own event time never makes a record late: judged, then observed.
    this.watermark = this.view.watermarkBefore(i);
    this.view.observe(t);
    this.time = t;
    this.value = pipeline.value as IN;
    return key;
  }
}
