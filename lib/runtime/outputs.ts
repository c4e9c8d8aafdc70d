/**
 * Translates the engine core's outputs (results, late records, dead letters)
 * into the output ports' shapes. The core stays free of sink concerns; the
 * ports stay free of engine internals.
 */
import type {
  DeadLetter as CoreDeadLetter,
  LateRecord as CoreLateRecord,
  WindowResult as CoreResult,
} from '../core/records.ts';
import { DeadLetterReason } from '../core/records.ts';
import { DeadLetterKind, type DeadLetterEntry } from '../ports/dead-letter.ts';
import type { JsonValue, LateRecord, WindowResult } from '../ports/sink.ts';

/** A core result as a sink item. The value must be JSON: aggregates' results are. */
export function toSinkResult<OUT>(r: CoreResult<OUT>, firedAt: number): WindowResult {
  return {
    id: r.id,
    operator: r.operator,
    key: r.key,
    window: { start: r.window.start, end: r.window.end },
    value: toJson(r.value),
    version: r.version,
    firedAt,
    ...(r.supersedes.length > 0
      ? { supersedes: r.supersedes.map((w) => ({ start: w.start, end: w.end })) }
      : {}),
  };
}

/** One late-output item per (record, window it was late for). */
export function toSinkLateRecords(operator: string, late: readonly CoreLateRecord[]): LateRecord[] {
  const out: LateRecord[] = [];
  for (const l of late) {
    const base = {
      operator,
      output: l.tag,
      position: l.position,
      data: l.data ?? new Uint8Array(),
      eventTime: l.eventTime,
      watermark: l.watermark,
      reason: l.reason,
    };
    if (l.windows.length === 0) out.push(base);
    for (const w of l.windows) out.push({ ...base, window: { start: w.start, end: w.end } });
  }
  return out;
}

const KIND_OF_REASON: Readonly<Record<DeadLetterReason, DeadLetterKind>> = {
  [DeadLetterReason.DECODE_FAILED]: DeadLetterKind.Decode,
  [DeadLetterReason.FILTER_THREW]: DeadLetterKind.UserFunction,
  [DeadLetterReason.MAP_THREW]: DeadLetterKind.UserFunction,
  [DeadLetterReason.KEY_SELECTOR_THREW]: DeadLetterKind.UserFunction,
  [DeadLetterReason.INVALID_KEY]: DeadLetterKind.UserFunction,
  [DeadLetterReason.KEY_TOO_LARGE]: DeadLetterKind.Oversized,
  [DeadLetterReason.EVENT_TIME_THREW]: DeadLetterKind.EventTime,
  [DeadLetterReason.INVALID_EVENT_TIME]: DeadLetterKind.EventTime,
  [DeadLetterReason.AGGREGATE_THREW]: DeadLetterKind.UserFunction,
};

/** A core dead letter as a dead-letter entry; the reason keeps the core's code and message. */
export function toDeadLetterEntry(
  operator: string,
  d: CoreDeadLetter,
  at: number,
): DeadLetterEntry {
  return {
    operator,
    position: d.position,
    raw: d.data ?? new Uint8Array(),
    reason: `${d.reason}: ${d.message}`,
    kind: KIND_OF_REASON[d.reason] ?? DeadLetterKind.Other,
    error: d.error instanceof Error ? `${d.error.name}: ${d.error.message}` : String(d.error),
    at,
  };
}

function toJson(value: unknown): JsonValue {
  if (value === undefined) return null;
  // Round-trips through JSON so a sink never sees a non-JSON value (Infinity becomes null, as in JSON).
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}
