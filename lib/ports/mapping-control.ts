/**
 * The MappingControl port: stop and restart the delivery of an operator's
 * stream to its function, as a restore needs (pause, replace the state,
 * replay, resume). Pausing is not stopping a process: the mapping keeps its
 * position (the committed sequence number of each shard), and resuming
 * continues from there, so records that arrived meanwhile are delivered
 * after the resume, none is skipped.
 *
 *     batches   ─ b7 ─ b8 ─┐               (paused: nothing starts)                ┌─ b9 ─ b10 ─
 *     pause()   ───────────┴─ returns once b8 has returned and no batch can start  │
 *     resume()  ───────────────────────────────────────────────────────────────────┴─ from after b8
 *
 * Adapters: `LambdaMappingControl` (lib/adapters/lambda/: the Lambda API,
 * waiting until the mapping reports `Disabled` / `Enabled`) and
 * `LocalMappingControl` (lib/runtime/local/: the local event source mapping).
 */
import { WeirError } from '../errors.ts';

/** Pauses and resumes one event source mapping. */
export interface MappingControl {
  /**
   * Stops the mapping. Returns once no new batch can start and any running
   * batch has returned (the Lambda adapter: once the mapping reports
   * `Disabled`). Pausing a paused mapping returns at once.
   */
  pause(): Promise<void>;
  /** Restarts the mapping from its committed positions; returns once it delivers again (`Enabled`). */
  resume(): Promise<void>;
}

/** The mapping did not reach the wanted state within the bounded wait. */
export class MappingStateTimeoutError extends WeirError {
  readonly mapping: string;
  readonly wanted: string;
  readonly last: string | undefined;
  readonly waitedMs: number;
  constructor(mapping: string, wanted: string, last: string | undefined, waitedMs: number) {
    super(
      `event source mapping ${mapping} did not report ${wanted} within ${waitedMs} ms (last state: ${last ?? 'unknown'}); check it with \`aws lambda get-event-source-mapping --uuid ${mapping}\` and run the command again`,
    );
    this.mapping = mapping;
    this.wanted = wanted;
    this.last = last;
    this.waitedMs = waitedMs;
  }
}

/** The mapping cannot be paused or resumed (it does not exist, or access was refused). */
export class MappingControlError extends WeirError {
  readonly mapping: string;
  constructor(mapping: string, message: string, options?: { cause?: unknown }) {
    super(`event source mapping ${mapping}: ${message}`, options);
    this.mapping = mapping;
  }
}
