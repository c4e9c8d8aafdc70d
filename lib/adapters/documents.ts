/**
 * The JSON documents weir's outputs are stored as: a result (S3 object body,
 * Kinesis payload), a late record (the same), a dead letter (S3 object body,
 * SQS message body). Fixed field order, so equal items give equal bytes and
 * a re-driven write repeats the same bytes. Raw record bytes are base64
 * (standard alphabet, padded).
 */
import { WeirError } from '../errors.ts';
import { deadLetterId, lateRecordId } from '../model/ids.ts';
import type { Position } from '../model/position.ts';
import type { DeadLetter, DeadLetterKind, LateRecord, WindowResult } from '../model/records.ts';

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * The JSON of a result (S3 body, Kinesis payload); a retraction carries
 * `"retracted":true` (and `value` null, `version` 0; docs/sinks.md "Retractions").
 */
export function windowResultJson(r: WindowResult): string {
  return JSON.stringify({
    id: r.id,
    operator: r.operator,
    key: r.key,
    window: { start: r.window.start, end: r.window.end },
    ...(r.generation !== undefined && r.generation > 0 ? { generation: r.generation } : {}),
    version: r.version,
    ...(r.retracted === true ? { retracted: true } : {}),
    value: r.value,
    ...(r.firedAt === undefined ? {} : { firedAt: r.firedAt }),
    ...(r.supersedes && r.supersedes.length > 0
      ? { supersedes: r.supersedes.map((w) => ({ start: w.start, end: w.end })) }
      : {}),
  });
}

/**
 * The JSON of a late-output item; `data` is base64 of the raw bytes. An item
 * carries one window (`window`); a record given with several windows keeps
 * them all (`windows`), though the runtime splits them first.
 */
export function lateRecordJson(r: LateRecord): string {
  const ws = r.windows;
  const w = ws[0];
  return JSON.stringify({
    id: lateRecordId(r),
    operator: r.operator,
    output: r.output,
    position: {
      shardId: r.position.shardId,
      sequenceNumber: r.position.sequenceNumber,
      subSequenceNumber: r.position.subSequenceNumber,
    },
    eventTime: r.eventTime,
    ...(ws.length === 1 && w !== undefined ? { window: { start: w.start, end: w.end } } : {}),
    ...(ws.length > 1 ? { windows: ws.map((x) => ({ start: x.start, end: x.end })) } : {}),
    watermark: r.watermark,
    reason: r.reason,
    data: base64(r.data),
  });
}

/**
 * The JSON document a dead letter is stored as (S3 object body, SQS message
 * body). `raw` is base64 of the exact bytes.
 */
export interface DeadLetterDocument {
  readonly format: 'weir.dead-letter/1';
  readonly id: string;
  readonly operator: string;
  readonly position: {
    readonly shardId: string;
    readonly sequenceNumber: string;
    readonly subSequenceNumber: number;
  };
  readonly kind: DeadLetterKind;
  readonly reason: string;
  readonly error?: string;
  readonly at: number;
  /** Length of the raw bytes. */
  readonly rawLength: number;
  /** Base64 (standard alphabet, padded) of the raw bytes. */
  readonly raw: string;
}

/** Encodes a dead letter as its stored JSON document. */
export function toDeadLetterDocument(deadLetter: DeadLetter): DeadLetterDocument {
  return {
    format: 'weir.dead-letter/1',
    id: deadLetterId(deadLetter),
    operator: deadLetter.operator,
    position: {
      shardId: deadLetter.position.shardId,
      sequenceNumber: deadLetter.position.sequenceNumber,
      subSequenceNumber: deadLetter.position.subSequenceNumber,
    },
    kind: deadLetter.kind,
    reason: deadLetter.reason,
    ...(deadLetter.error === undefined ? {} : { error: deadLetter.error }),
    at: deadLetter.at,
    rawLength: deadLetter.data.byteLength,
    raw: base64(deadLetter.data),
  };
}

/**
 * Decodes a stored document back to a dead letter (raw bytes restored
 * exactly; the fields the document does not keep, `code` and
 * `partitionKey`, are absent).
 */
export function fromDeadLetterDocument(doc: DeadLetterDocument): DeadLetter {
  const data = new Uint8Array(Buffer.from(doc.raw, 'base64'));
  if (data.byteLength !== doc.rawLength) {
    throw new WeirError(
      `dead letter ${doc.id}: raw is ${data.byteLength} bytes, document says ${doc.rawLength}`,
    );
  }
  return {
    operator: doc.operator,
    position: doc.position as Position,
    data,
    reason: doc.reason,
    kind: doc.kind,
    ...(doc.error === undefined ? {} : { error: doc.error }),
    at: doc.at,
  };
}
