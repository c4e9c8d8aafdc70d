/**
 * Ranges of one shard that a shard's progress remembers for `weir redrive`
 * (docs/recovery.md, "Skipped batches and redrive"):
 *
 *   failing ranges   sequence numbers an attempt failed on and no commit has covered since:
 *                    an item a later batch raises from an offset inside one keeps that offset
 *                    under `skipped:` (core/guard.ts), so a redrive of the range sees it
 *   replayed spans   offsets a restore's replay applied (above `after`, through `upTo`): a redrive
 *                    does not apply them again
 *
 * Both are kept by the state stores across writes that do not carry them
 * (as the judged view is): {@link keptFailingRanges}, {@link keptReplayedSpans}.
 */
import { encodeOffset, sequenceNumber } from './position.ts';

/** Records of one shard by Kinesis sequence number (decimal strings), both ends inclusive. */
export interface SequenceRange {
  readonly start: string;
  readonly end: string;
}

/**
 * Offsets (`encodeOffset`) of one shard that a restore's replay applied:
 * those above `after` (`null`: from the shard's start) through `upTo`. Not
 * `done`: the replay started and has not finished (`upTo` is then `null`).
 */
export interface ReplayedSpan {
  readonly after: string | null;
  readonly upTo: string | null;
  readonly done: boolean;
}

/** The highest sub-sequence number an encoded offset can hold. */
const MAX_SUB = 9_999_999_999;

/** The encoded offsets bounding a sequence range (every sub-sequence of both ends included). */
export function rangeOffsets(r: SequenceRange): { readonly from: string; readonly to: string } {
  return {
    from: encodeOffset({ sequenceNumber: sequenceNumber(r.start), subSequenceNumber: 0 }),
    to: encodeOffset({ sequenceNumber: sequenceNumber(r.end), subSequenceNumber: MAX_SUB }),
  };
}

/** The last offset of the Kinesis record that holds `offset` (its highest possible sub-sequence). */
export function lastOffsetOfRecord(offset: string): string {
  const dot = offset.indexOf('.');
  return `${offset.slice(0, dot)}.${String(MAX_SUB)}`;
}

/** Sorted by start, overlapping and adjacent ranges merged. */
export function normalizeRanges(ranges: readonly SequenceRange[]): SequenceRange[] {
  const sorted = [...ranges].sort((a, b) => cmp(BigInt(a.start), BigInt(b.start)));
  const out: { start: bigint; end: bigint }[] = [];
  for (const r of sorted) {
    const s = BigInt(r.start);
    const e = BigInt(r.end);
    const last = out[out.length - 1];
    if (last !== undefined && s <= last.end + 1n) {
      if (e > last.end) last.end = e;
    } else out.push({ start: s, end: e });
  }
  return out.map((r) => ({ start: String(r.start), end: String(r.end) }));
}

/** `ranges` without the sequence numbers of `cut` (a range may split in two). */
export function subtractRange(
  ranges: readonly SequenceRange[],
  cut: SequenceRange,
): SequenceRange[] {
  const cs = BigInt(cut.start);
  const ce = BigInt(cut.end);
  const out: SequenceRange[] = [];
  for (const r of ranges) {
    const s = BigInt(r.start);
    const e = BigInt(r.end);
    if (e < cs || s > ce) {
      out.push(r);
      continue;
    }
    if (s < cs) out.push({ start: r.start, end: String(cs - 1n) });
    if (e > ce) out.push({ start: String(ce + 1n), end: r.end });
  }
  return out;
}

/**
 * The failing ranges a store keeps when a progress write carries `written`
 * over `stored`: both unioned (a writer that read the progress before a
 * range was recorded never drops it), minus `settles` (records a commit or
 * a redrive applied). `undefined` when none remain.
 */
export function keptFailingRanges(
  stored: readonly SequenceRange[] | undefined,
  written: readonly SequenceRange[] | undefined,
  settles: SequenceRange | undefined,
): readonly SequenceRange[] | undefined {
  if (stored === undefined && written === undefined) return undefined;
  let all = normalizeRanges([...(stored ?? []), ...(written ?? [])]);
  if (settles !== undefined) all = subtractRange(all, settles);
  return all.length === 0 ? undefined : all;
}

/**
 * The replayed spans a store keeps when a progress write carries `written`
 * over `stored`: both unioned by `after` (a finished span replaces the
 * started one with the same `after`; of two finished ones, the higher
 * `upTo`). Only a restore writes spans; every other writer keeps them.
 */
export function keptReplayedSpans(
  stored: readonly ReplayedSpan[] | undefined,
  written: readonly ReplayedSpan[] | undefined,
): readonly ReplayedSpan[] | undefined {
  if (written === undefined) return stored;
  if (stored === undefined) return sortSpans(written);
  const byAfter = new Map<string, ReplayedSpan>();
  for (const s of [...stored, ...written]) {
    const k = s.after ?? '';
    const had = byAfter.get(k);
    byAfter.set(k, had === undefined ? s : higherSpan(had, s));
  }
  return sortSpans([...byAfter.values()]);
}

function higherSpan(a: ReplayedSpan, b: ReplayedSpan): ReplayedSpan {
  if (a.done !== b.done) return a.done ? a : b;
  return (a.upTo ?? '') >= (b.upTo ?? '') ? a : b;
}

/** Spans sorted by `after` (`null` first): one canonical order, so stores can compare them. */
export function sortSpans(spans: readonly ReplayedSpan[]): ReplayedSpan[] {
  return [...spans].sort((a, b) => ((a.after ?? '') < (b.after ?? '') ? -1 : 1));
}

/** How much of the offsets `from`..`to` (inclusive) the finished spans cover. */
export function spanCoverage(
  spans: readonly ReplayedSpan[],
  from: string,
  to: string,
): 'none' | 'part' | 'all' {
  const done = sortSpans(spans.filter((s) => s.done && s.upTo !== null));
  let through: string | undefined; // every offset from `from` through it is covered
  let any = false;
  for (const s of done) {
    const upTo = s.upTo as string;
    const startsBelow = (x: string): boolean => s.after === null || s.after < x;
    if (startsBelow(to) && upTo >= from) any = true;
    if (through === undefined) {
      if (startsBelow(from) && upTo >= from) through = upTo;
    } else if ((s.after === null || s.after <= through) && upTo > through) through = upTo;
  }
  if (through !== undefined && through >= to) return 'all';
  return any ? 'part' : 'none';
}

/** Whether the encoded offset lies in a finished span. */
export function inSpans(spans: readonly ReplayedSpan[], offset: string): boolean {
  return spans.some(
    (s) => s.done && s.upTo !== null && (s.after === null || s.after < offset) && offset <= s.upTo,
  );
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
