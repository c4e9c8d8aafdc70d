/**
 * The range arithmetic behind the shards' failing ranges and replayed spans
 * (lib/model/shard-ranges.ts) and the spans a restore writes
 * (lib/core/checkpoint/replay-spans.ts).
 */
import { describe, expect, it } from 'vitest';
import { InMemoryStateStore } from '../../../lib/adapters/memory/index.ts';
import { finishReplaySpans, withReplayStarts } from '../../../lib/core/checkpoint/index.ts';
import { encodeOffset, sequenceNumber, shardId } from '../../../lib/model/position.ts';
import {
  keptFailingRanges,
  keptReplayedSpans,
  lastOffsetOfRecord,
  normalizeRanges,
  spanCoverage,
  subtractRange,
} from '../../../lib/model/shard-ranges.ts';

const off = (seq: number, sub = 0): string =>
  encodeOffset({ sequenceNumber: sequenceNumber(String(seq)), subSequenceNumber: sub });
const r = (start: number, end: number) => ({ start: String(start), end: String(end) });

describe('failing ranges', () => {
  it('GIVEN ranges WHEN normalized THEN sorted by start, overlapping and adjacent ones merged (as numbers, not strings)', () => {
    expect(normalizeRanges([r(100, 120), r(9, 20), r(21, 30), r(115, 130), r(50, 60)])).toEqual([
      r(9, 30),
      r(50, 60),
      r(100, 130),
    ]);
  });

  it('GIVEN ranges WHEN a range is subtracted THEN what it covers goes, splitting a range it cuts inside', () => {
    expect(subtractRange([r(10, 50), r(60, 70)], r(20, 30))).toEqual([
      r(10, 19),
      r(31, 50),
      r(60, 70),
    ]);
    expect(subtractRange([r(10, 50)], r(0, 99))).toEqual([]);
  });

  it('GIVEN stored and written ranges and what a write settles WHEN kept THEN their union without it, or none', () => {
    expect(keptFailingRanges([r(10, 20)], undefined, undefined)).toEqual([r(10, 20)]);
    expect(keptFailingRanges([r(10, 20)], [r(30, 40)], r(15, 35))).toEqual([r(10, 14), r(36, 40)]);
    expect(keptFailingRanges([r(10, 20)], undefined, r(0, 100))).toBeUndefined();
    expect(keptFailingRanges(undefined, undefined, r(0, 1))).toBeUndefined();
  });
});

describe('replayed spans', () => {
  const done = (after: string | null, upTo: string) => ({ after, upTo, done: true });

  it('GIVEN spans WHEN coverage of a range is asked THEN all, part or none, joining spans that meet', () => {
    const spans = [done(null, off(10, 5)), done(off(10, 5), off(20)), done(off(30), off(40))];
    expect(spanCoverage(spans, off(3), off(15))).toBe('all');
    expect(spanCoverage(spans, off(15), off(25))).toBe('part');
    expect(spanCoverage(spans, off(25), off(29))).toBe('none');
    // `after` is exclusive: the record at it was not replayed.
    expect(spanCoverage([done(off(30), off(40))], off(30), off(35))).toBe('part');
    // A started span covers nothing.
    expect(spanCoverage([{ after: null, upTo: null, done: false }], off(1), off(2))).toBe('none');
  });

  it('GIVEN stored spans WHEN a write carries none, or finishes a started one THEN kept, the finished one winning', () => {
    const started = { after: off(5), upTo: null, done: false };
    expect(keptReplayedSpans([started], undefined)).toEqual([started]);
    expect(keptReplayedSpans([started], [done(off(5), off(9))])).toEqual([done(off(5), off(9))]);
    expect(keptReplayedSpans([done(off(5), off(9))], [started])).toEqual([done(off(5), off(9))]);
    expect(keptReplayedSpans([done(null, off(5))], [started])).toEqual([
      done(null, off(5)),
      started,
    ]);
  });

  it('GIVEN a manifest progress WHEN a restore writes it THEN each shard gets a started span above its position; carried started spans end at it; redriven ranges are left alone', () => {
    const p = {
      shardId: shardId('s-1'),
      committed: off(20),
      watermark: 1,
      lastActivity: 1,
      closed: false,
      replayed: [done(null, off(10)), { after: off(10), upTo: null, done: false }],
    };
    const redriven = { ...p, shardId: shardId('redrive:s-1:5'), replayed: undefined };
    const out = withReplayStarts({ watermark: 1, shards: [p, redriven] });
    expect(out.shards[0]?.replayed).toEqual([
      done(null, off(10)),
      done(off(10), off(20)),
      { after: off(20), upTo: null, done: false },
    ]);
    expect(out.shards[1]).toEqual(redriven);
  });

  it('GIVEN a replay that read every shard WHEN finished THEN started spans end at the committed record, and a shard created since gets a span from its start', async () => {
    const store = new InMemoryStateStore();
    const base = { watermark: null, lastActivity: 1, closed: false };
    await store.writeShardProgress(
      'op',
      {
        ...base,
        shardId: shardId('s-1'),
        committed: off(9),
        replayed: [{ after: off(3), upTo: null, done: false }],
      },
      0,
    );
    await store.writeShardProgress(
      'op',
      { ...base, shardId: shardId('s-2'), committed: off(7) },
      0,
    );
    expect(await finishReplaySpans(store, 'op', 0)).toBe(2);
    const spans = (await store.readProgress('op')).shards.map((s) => s.replayed);
    expect(spans).toEqual([
      [done(off(3), lastOffsetOfRecord(off(9)))],
      [done(null, lastOffsetOfRecord(off(7)))],
    ]);
  });
});
