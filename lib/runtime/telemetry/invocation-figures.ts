/**
 * The figures of one Lambda invocation, summed from the runtime's reports:
 * what the metrics writer flushes once at the end of the invocation. Pure
 * (time comes from the caller), so the mapping from reports to metric names
 * (lib/runtime/metrics-names.ts) is tested without AWS.
 *
 *   batch report ──┐
 *   tick report ───┼──► InvocationFigures ──take()──► MetricFigures ──► EMF lines
 *   state writes ──┘        (sums; watermark lag: the maximum)
 */
import type { ShardId } from '../../model/position.ts';
import type { WeirMetricName } from '../metrics-names.ts';
import { AccessDeniedError, isAuthorizationError } from '../authorization.ts';
import type { BatchReport, TickReport } from '../operator-runtime.ts';
import type { RuntimeTelemetry } from './runtime-telemetry.ts';

/** Which function an invocation ran: the batch handler or the ticker. */
export type WeirFunctionRole = 'handler' | 'ticker';

/** The metrics of one invocation, ready to be written. */
export interface MetricFigures {
  /** Every metric the function writes, by name; counts are 0 when nothing happened. */
  readonly values: Readonly<Partial<Record<WeirMetricName, number>>>;
  /** `RecordsDeadLettered` split by reason (only reasons that occurred). */
  readonly deadLettersByReason: Readonly<Record<string, number>>;
}

/** The count metrics each function writes on every invocation (0 when nothing happened). */
export const COUNTS_OF: Readonly<Record<WeirFunctionRole, readonly WeirMetricName[]>> = {
  handler: [
    'RecordsIn',
    'RecordsApplied',
    'RecordsLate',
    'RecordsDeadLettered',
    'RecordsFiltered',
    'RecordsSkippedCommitted',
    'WindowsFired',
    'StateWrites',
    'StateWriteConflicts',
    'ShardRegistrationFailures',
    'AccessDenied',
    'BatchFailures',
  ],
  ticker: [
    'WindowsFired',
    'StateWrites',
    'StateWriteConflicts',
    'OutboxBacklog',
    'ShardDirectoryFailures',
    'AccessDenied',
  ],
};

/**
 * Sums the reports of one invocation. One instance per function instance;
 * {@link take} returns the figures and starts the next invocation from zero.
 *
 * @example
 * const figures = new InvocationFigures('handler', () => clock.now());
 * figures.batch(report);
 * writer.write(figures.take());
 */
export class InvocationFigures implements RuntimeTelemetry {
  readonly #role: WeirFunctionRole;
  readonly #now: () => number;
  #counts = new Map<WeirMetricName, number>();
  #byReason: Record<string, number> = {};
  #lag: number | undefined;

  constructor(role: WeirFunctionRole, now: () => number) {
    this.#role = role;
    this.#now = now;
  }

  batch(r: BatchReport): void {
    const c = r.counts;
    this.#add('RecordsIn', c.received + r.kplDeadLettered);
    this.#add('RecordsApplied', c.inState);
    this.#add('RecordsLate', c.late);
    this.#add('RecordsDeadLettered', c.deadLettered + r.kplDeadLettered);
    this.#add('RecordsFiltered', c.filtered);
    this.#add('RecordsSkippedCommitted', c.skippedCommitted);
    this.#add('WindowsFired', r.results);
    this.#add('ShardRegistrationFailures', r.shardRegistrationFailures);
    this.#add('AccessDenied', r.accessDenied);
    for (const [reason, n] of Object.entries(r.deadLettersByReason))
      this.#byReason[reason] = (this.#byReason[reason] ?? 0) + n;
    this.#watermark(r.watermark);
  }

  /** A failed batch; refused for lack of permission (a state or output write), it is also an `AccessDenied`. */
  batchFailed(_shardId: ShardId, error: unknown): void {
    this.#add('BatchFailures', 1);
    this.failed(error);
  }

  /**
   * An error that ended a batch or the invocation: counted as `AccessDenied`
   * when AWS refused a call for lack of permission (an `AccessDeniedError`
   * of a tick is counted by its report already).
   */
  failed(error: unknown): void {
    if (!(error instanceof AccessDeniedError) && isAuthorizationError(error))
      this.#add('AccessDenied', 1);
  }

  tick(r: TickReport): void {
    this.#add('WindowsFired', r.fired);
    this.#add('OutboxBacklog', r.redriven);
    this.#add('ShardDirectoryFailures', r.shardDirectoryFailures);
    this.#add('AccessDenied', r.accessDenied);
    this.#watermark(r.watermark);
  }

  /** State items written and conditional writes that lost a race (from a {@link countStateWrites} store). */
  stateWrites(writes: number, conflicts: number): void {
    this.#add('StateWrites', writes);
    this.#add('StateWriteConflicts', conflicts);
  }

  /** The invocation's figures; resets for the next invocation. */
  take(): MetricFigures {
    const values: Partial<Record<WeirMetricName, number>> = {};
    for (const name of COUNTS_OF[this.#role]) values[name] = this.#counts.get(name) ?? 0;
    if (this.#lag !== undefined) values.WatermarkLagMs = this.#lag;
    const figures = { values, deadLettersByReason: this.#byReason };
    this.#counts = new Map();
    this.#byReason = {};
    this.#lag = undefined;
    return figures;
  }

  #add(name: WeirMetricName, n: number): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + n);
  }

  /** Processing time minus the watermark; none before the first event (`-Infinity`). */
  #watermark(watermark: number): void {
    if (!Number.isFinite(watermark)) return;
    const lag = this.#now() - watermark;
    this.#lag = this.#lag === undefined ? lag : Math.max(this.#lag, lag);
  }
}
