/**
 * The JSON of `manifest.json` and `in-progress.json` (format
 * `weir.checkpoint/1`): fields in a fixed order, indented, so a human reads a
 * manifest with `cat`. JSON has no infinities, and a judged view may hold
 * them (`published: -Infinity`: no published watermark yet; `others:
 * ±Infinity`): they are written as the strings "Infinity" and "-Infinity".
 *
 * A reader checks `format` before anything else and refuses another version
 * by name: a manifest written by a newer weir may mean something this one
 * cannot restore correctly, so guessing is worse than stopping.
 */
import { CheckpointError, CheckpointProblem } from '../errors.ts';
import {
  CHECKPOINT_FORMAT,
  type CheckpointInProgress,
  type CheckpointManifest,
  type CheckpointPart,
  type CheckpointSegmentState,
} from './checkpoint.ts';
import type { JudgedView, OperatorProgress, ShardProgress } from './progress.ts';
import { shardId as toShardId } from './position.ts';
import type { ReplayedSpan, SequenceRange } from './shard-ranges.ts';

/** `manifest.json` text of a manifest. */
export function encodeManifest(m: CheckpointManifest): string {
  return (
    JSON.stringify(
      {
        format: m.format,
        operator: m.operator,
        streamArn: m.streamArn,
        id: m.id,
        previousId: m.previousId,
        startedAt: m.startedAt,
        completedAt: m.completedAt,
        progress: progressJson(m.progress),
        totalSegments: m.totalSegments,
        items: m.items,
        bytes: m.bytes,
        parts: m.parts.map(partJson),
        ...(m.restoreGeneration === undefined ? {} : { restoreGeneration: m.restoreGeneration }),
      },
      null,
      2,
    ) + '\n'
  );
}

/** `in-progress.json` text of a checkpoint being taken. */
export function encodeInProgress(s: CheckpointInProgress): string {
  return (
    JSON.stringify(
      {
        format: s.format,
        operator: s.operator,
        streamArn: s.streamArn,
        id: s.id,
        previousId: s.previousId,
        startedAt: s.startedAt,
        updatedAt: s.updatedAt,
        calls: s.calls,
        progress: progressJson(s.progress),
        totalSegments: s.totalSegments,
        segments: s.segments.map((g) => ({
          segment: g.segment,
          cursor: g.cursor,
          done: g.done,
          ...(g.settledKey === undefined ? {} : { settledKey: g.settledKey }),
        })),
        parts: s.parts.map(partJson),
        ...(s.restoreGeneration === undefined ? {} : { restoreGeneration: s.restoreGeneration }),
      },
      null,
      2,
    ) + '\n'
  );
}

/** The optional `restoreGeneration` of a manifest or in-progress document: a non-negative integer. */
function restoreGenerationOf(r: Fields): number | undefined {
  const generation = r.optional('restoreGeneration');
  if (generation === undefined) return undefined;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0)
    throw new TypeError('restoreGeneration is not a non-negative integer');
  return generation;
}

function optionalGeneration(g: number | undefined): { restoreGeneration?: number } {
  return g === undefined ? {} : { restoreGeneration: g };
}

/** Where a document comes from, for error messages. */
export interface CheckpointDocumentSource {
  readonly operator: string;
  readonly id: string;
  /** `manifest.json` or `in-progress.json`. */
  readonly name: string;
}

/**
 * Parses a manifest. Unknown format, bad JSON or a missing field: a
 * `CheckpointError` naming the checkpoint and `source.name` (the caller adds
 * the previous checkpoint, which only a listing can tell when the manifest
 * cannot be read).
 */
export function decodeManifest(text: string, source: CheckpointDocumentSource): CheckpointManifest {
  return decodeDocument(text, source, (r) => {
    const generation = restoreGenerationOf(r);
    return {
      format: CHECKPOINT_FORMAT,
      operator: r.string('operator'),
      streamArn: r.string('streamArn'),
      id: r.string('id'),
      previousId: r.stringOrNull('previousId'),
      startedAt: r.number('startedAt'),
      completedAt: r.number('completedAt'),
      progress: progressOf(r.get('progress')),
      totalSegments: r.number('totalSegments'),
      items: r.number('items'),
      bytes: r.number('bytes'),
      parts: r.list('parts').map((p, i) => partOf(p, `parts[${i}]`)),
      ...optionalGeneration(generation),
    };
  });
}

/** Parses `in-progress.json` (same rules as {@link decodeManifest}). */
export function decodeInProgress(
  text: string,
  source: CheckpointDocumentSource,
): CheckpointInProgress {
  return decodeDocument(text, source, (r) => ({
    format: CHECKPOINT_FORMAT,
    operator: r.string('operator'),
    streamArn: r.string('streamArn'),
    id: r.string('id'),
    previousId: r.stringOrNull('previousId'),
    ...optionalGeneration(restoreGenerationOf(r)),
    startedAt: r.number('startedAt'),
    updatedAt: r.number('updatedAt'),
    calls: r.number('calls'),
    progress: progressOf(r.get('progress')),
    totalSegments: r.number('totalSegments'),
    segments: r.list('segments').map((g, i): CheckpointSegmentState => {
      const s = new Fields(g, `segments[${i}]`);
      const settledKey = s.optional('settledKey');
      if (settledKey !== undefined && typeof settledKey !== 'string')
        throw new TypeError(`segments[${i}].settledKey is not a string`);
      return {
        segment: s.number('segment'),
        cursor: s.stringOrNull('cursor'),
        done: s.boolean('done'),
        ...(settledKey === undefined ? {} : { settledKey }),
      };
    }),
    parts: r.list('parts').map((p, i) => partOf(p, `parts[${i}]`)),
  }));
}

function decodeDocument<T>(
  text: string,
  source: CheckpointDocumentSource,
  read: (fields: Fields) => T,
): T {
  const fail = (problem: CheckpointProblem, detail: string, cause?: unknown): CheckpointError =>
    new CheckpointError(
      { operator: source.operator, checkpointId: source.id, part: source.name, problem, detail },
      cause === undefined ? undefined : { cause },
    );
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw fail(CheckpointProblem.UnreadableManifest, `not JSON (${(e as Error).message})`, e);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw fail(CheckpointProblem.UnreadableManifest, 'not a JSON object');
  }
  const format = (v as Record<string, unknown>)['format'];
  if (format !== CHECKPOINT_FORMAT) {
    throw fail(
      CheckpointProblem.UnknownFormat,
      `found format ${format === undefined ? '(none)' : JSON.stringify(format)}; this version of weir reads ${JSON.stringify(CHECKPOINT_FORMAT)} only. ` +
        'Restore it with the weir version that wrote it, or choose another checkpoint',
    );
  }
  try {
    return read(new Fields(v, 'document'));
  } catch (e) {
    throw fail(CheckpointProblem.UnreadableManifest, (e as Error).message, e);
  }
}

function partJson(p: CheckpointPart): Record<string, unknown> {
  return {
    name: p.name,
    index: p.index,
    segment: p.segment,
    items: p.items,
    bytes: p.bytes,
    sha256: p.sha256,
  };
}

function partOf(v: unknown, where: string): CheckpointPart {
  const f = new Fields(v, where);
  return {
    name: f.string('name'),
    index: f.number('index'),
    segment: f.number('segment'),
    items: f.number('items'),
    bytes: f.number('bytes'),
    sha256: f.string('sha256'),
  };
}

function progressJson(p: OperatorProgress): Record<string, unknown> {
  return {
    watermark: p.watermark,
    shards: p.shards.map((s) => ({
      shardId: s.shardId,
      committed: s.committed,
      watermark: s.watermark,
      lastActivity: s.lastActivity,
      closed: s.closed,
      ...(s.judged === undefined
        ? {}
        : {
            judged: {
              upTo: s.judged.upTo,
              published: infinityJson(s.judged.published),
              others: infinityJson(s.judged.others),
            },
          }),
      ...(s.failing === undefined || s.failing.length === 0
        ? {}
        : { failing: s.failing.map((r) => ({ start: r.start, end: r.end })) }),
      ...(s.replayed === undefined || s.replayed.length === 0
        ? {}
        : {
            replayed: s.replayed.map((r) => ({ after: r.after, upTo: r.upTo, done: r.done })),
          }),
    })),
  };
}

function progressOf(v: unknown): OperatorProgress {
  const f = new Fields(v, 'progress');
  return {
    watermark: f.numberOrNull('watermark'),
    shards: f.list('shards').map((s, i): ShardProgress => {
      const g = new Fields(s, `progress.shards[${i}]`);
      const judged = g.optional('judged');
      return {
        shardId: toShardId(g.string('shardId')),
        committed: g.stringOrNull('committed'),
        watermark: g.numberOrNull('watermark'),
        lastActivity: g.number('lastActivity'),
        closed: g.boolean('closed'),
        ...(judged === undefined
          ? {}
          : { judged: judgedOf(judged, `progress.shards[${i}].judged`) }),
        ...rangesOf(g, `progress.shards[${i}]`),
      };
    }),
  };
}

/** A shard's failing ranges and replayed spans (docs/recovery.md, "Skipped batches and redrive"). */
function rangesOf(
  g: Fields,
  where: string,
): { failing?: SequenceRange[]; replayed?: ReplayedSpan[] } {
  const failing = g.optional('failing');
  const replayed = g.optional('replayed');
  const list = (v: unknown, name: string): unknown[] => {
    if (!Array.isArray(v)) throw new TypeError(`${where}.${name} is not a list`);
    return v;
  };
  return {
    ...(failing === undefined
      ? {}
      : {
          failing: list(failing, 'failing').map((r, j) => {
            const f = new Fields(r, `${where}.failing[${j}]`);
            return { start: f.string('start'), end: f.string('end') };
          }),
        }),
    ...(replayed === undefined
      ? {}
      : {
          replayed: list(replayed, 'replayed').map((r, j) => {
            const f = new Fields(r, `${where}.replayed[${j}]`);
            return {
              after: f.stringOrNull('after'),
              upTo: f.stringOrNull('upTo'),
              done: f.boolean('done'),
            };
          }),
        }),
  };
}

function judgedOf(v: unknown, where: string): JudgedView {
  const f = new Fields(v, where);
  return {
    upTo: f.string('upTo'),
    published: infinityOf(f.get('published'), `${where}.published`),
    others: infinityOf(f.get('others'), `${where}.others`),
  };
}

function infinityJson(n: number): number | string {
  return Number.isFinite(n) ? n : n > 0 ? 'Infinity' : '-Infinity';
}

function infinityOf(v: unknown, where: string): number {
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new TypeError(`${where} is not a number`);
}

/** Typed field access with messages that name the field. */
class Fields {
  private readonly o: Record<string, unknown>;
  constructor(
    v: unknown,
    private readonly where: string,
  ) {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new TypeError(`${where} is not an object`);
    this.o = v as Record<string, unknown>;
  }
  private name(field: string): string {
    return this.where === 'document' ? field : `${this.where}.${field}`;
  }
  get(field: string): unknown {
    const v = this.o[field];
    if (v === undefined) throw new TypeError(`${this.name(field)} is missing`);
    return v;
  }
  optional(field: string): unknown {
    return this.o[field];
  }
  string(field: string): string {
    const v = this.get(field);
    if (typeof v !== 'string') throw new TypeError(`${this.name(field)} is not a string`);
    return v;
  }
  stringOrNull(field: string): string | null {
    const v = this.get(field);
    if (v !== null && typeof v !== 'string')
      throw new TypeError(`${this.name(field)} is not a string or null`);
    return v;
  }
  number(field: string): number {
    const v = this.get(field);
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new TypeError(`${this.name(field)} is not a number`);
    return v;
  }
  numberOrNull(field: string): number | null {
    const v = this.get(field);
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new TypeError(`${this.name(field)} is not a number or null`);
    return v;
  }
  boolean(field: string): boolean {
    const v = this.get(field);
    if (typeof v !== 'boolean') throw new TypeError(`${this.name(field)} is not a boolean`);
    return v;
  }
  list(field: string): readonly unknown[] {
    const v = this.get(field);
    if (!Array.isArray(v)) throw new TypeError(`${this.name(field)} is not a list`);
    return v as readonly unknown[];
  }
}
