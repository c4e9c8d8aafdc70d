/**
 * Retractions: the "this window has no result" record a restore emits for a
 * window that fired in the state it replaced but does not fire again after
 * the replay (a correction filtered out every record of it, or a session
 * merged differently and has other bounds). docs/sinks.md, "Retractions",
 * says how each sink stores one and how a consumer reads it.
 *
 *   gen 0   w fires (0, v1) ──── (0, v2)                 sink: (0, v2) = 17
 *   restore to a checkpoint before w fired → gen 1, replay with the corrected pipeline
 *   gen 1   w never fires; the restore emits (1, v0) retracted      sink: (1, v0) retracted
 *   gen 1   (later) a record makes w fire (1, v1)                   sink: (1, v1) = 4
 *
 * A retraction is ordered (generation, 0): above every result of an older
 * generation (whatever its version) and below every firing of its own, so
 * the sinks' one rule, keep the highest (generation, version), applies to
 * it unchanged.
 */
import { ConfigError } from '../errors.ts';
import { resultId } from './ids.ts';
import type { WindowResult } from './records.ts';
import type { TimeWindow } from './time-window.ts';

/** The version a retraction carries: below every firing (versions start at 1). */
export const RETRACTION_VERSION = 0;

/**
 * A window result that withdraws the window's earlier results: `retracted`
 * is `true`, `value` is `null`, `version` is 0 and `generation` the restore
 * generation that found the earlier results stale. Its id is
 * `<operator>/<key>/<start>-<end>/g<generation>v0`.
 */
export interface WindowRetraction extends WindowResult<null> {
  readonly retracted: true;
  readonly version: typeof RETRACTION_VERSION;
  /** The restore generation that retracts (at least 1: only a restore retracts). */
  readonly generation: number;
}

/** What {@link windowRetraction} needs. */
export interface WindowRetractionFields {
  readonly operator: string;
  readonly key: string;
  readonly window: TimeWindow;
  /** The restore generation (at least 1). */
  readonly generation: number;
  /** Processing time of the emission (epoch ms); informational, not part of the id. */
  readonly firedAt?: number;
}

/**
 * Builds a retraction of one window under a restore generation.
 *
 * @example
 * const r = windowRetraction({ operator: 'clicks', key: 'u1', window: { start: 0, end: 60000 }, generation: 1 });
 * // r.id === 'clicks/u1/0-60000/g1v0', r.retracted === true, r.value === null
 */
export function windowRetraction(fields: WindowRetractionFields): WindowRetraction {
  if (!Number.isInteger(fields.generation) || fields.generation < 1)
    throw new ConfigError(
      'generation',
      fields.generation,
      "must be an integer >= 1: only a restore's generation retracts",
    );
  const window = { start: fields.window.start, end: fields.window.end };
  return {
    id: resultId(fields.operator, fields.key, window, RETRACTION_VERSION, fields.generation),
    operator: fields.operator,
    key: fields.key,
    window,
    value: null,
    version: RETRACTION_VERSION,
    generation: fields.generation,
    ...(fields.firedAt === undefined ? {} : { firedAt: fields.firedAt }),
    retracted: true,
  };
}

/** True when a stored or received result is a retraction: the window has no result. */
export function isRetraction(result: WindowResult<unknown>): result is WindowRetraction {
  return result.retracted === true;
}
