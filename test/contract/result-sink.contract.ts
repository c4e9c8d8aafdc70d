/**
 * Contract of a `Sink<WindowResult>`: idempotent per (generation, version),
 * never regressing, a higher generation replacing any version of a lower
 * one (corrections after a restore), a retraction at (generation, 0) between
 * the two, one report entry per item. Run against the in-memory sink in
 * unit tests and the real adapters on the embedded AWS in integration tests.
 */
import { describe, expect, it } from 'vitest';
import { windowResult } from '../../lib/model/ids.ts';
import type { JsonValue } from '../../lib/model/json.ts';
import type { WindowResult } from '../../lib/model/records.ts';
import { windowRetraction } from '../../lib/model/retraction.ts';
import type { TimeWindow } from '../../lib/model/time-window.ts';
import { SinkOutcome, type Sink } from '../../lib/ports/sink.ts';

export interface ResultSinkSubject {
  /** A sink over the shared backing store; called several times to make concurrent writers. */
  newSink(): Sink<WindowResult>;
  /**
   * The highest ordering stored for a window, a retraction included (a
   * reader then sees no result); `undefined` for none or a superseded-session mask.
   */
  readBack(operator: string, key: string, window: TimeWindow): Promise<WindowResult | undefined>;
  /**
   * Whether the sink reports `already-present` / `superseded` (conditional
   * sinks) rather than `written` for every item (S3: each version is its own
   * object; Kinesis: at-least-once).
   */
  readonly reportsDuplicates: boolean;
}

let counter = 0;
const operatorName = (): string => `op-${process.pid}-${Date.now().toString(36)}-${++counter}`;
const W: TimeWindow = { start: 1_700_000_000_000, end: 1_700_000_060_000 };

function result(
  operator: string,
  key: string,
  version: number,
  value: JsonValue = version * 10,
  window = W,
  generation = 0,
): WindowResult {
  return windowResult({
    operator,
    key,
    window,
    value,
    version,
    ...(generation > 0 ? { generation } : {}),
    firedAt: 1_700_000_061_000 + version,
  });
}

/** A small deterministic PRNG so shuffles are reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function describeResultSinkContract(
  name: string,
  makeSubject: () => ResultSinkSubject | Promise<ResultSinkSubject>,
): void {
  describe(`Sink<WindowResult> contract: ${name}`, () => {
    let cached: Promise<ResultSinkSubject> | undefined;
    const subject = (): Promise<ResultSinkSubject> => (cached ??= Promise.resolve(makeSubject()));

    it('writes a first version and reads it back unchanged', async () => {
      const s = await subject();
      const op = operatorName();
      const r = result(op, 'user-1', 1, {
        count: 3,
        sum: 1.5,
        tags: ['a', 'ü', '😀'],
        nested: { n: null, t: true },
      });
      const report = await s.newSink().write([r]);
      expect(report.items).toEqual([{ index: 0, outcome: SinkOutcome.Written }]);
      expect(report.written).toBe(1);
      expect(await s.readBack(op, 'user-1', W)).toEqual(r);
    });

    it('re-writing the same version is an idempotent no-op', async () => {
      const s = await subject();
      const op = operatorName();
      const r = result(op, 'k', 1);
      await s.newSink().write([r]);
      const again = await s.newSink().write([r]);
      expect(again.items).toHaveLength(1);
      if (s.reportsDuplicates) {
        expect(again.items[0]).toMatchObject({
          index: 0,
          outcome: SinkOutcome.AlreadyPresent,
          storedVersion: 1,
        });
        expect(again.alreadyPresent).toBe(1);
      }
      expect(await s.readBack(op, 'k', W)).toEqual(r);
    });

    it('a higher version replaces the stored one', async () => {
      const s = await subject();
      const op = operatorName();
      await s.newSink().write([result(op, 'k', 1)]);
      const report = await s.newSink().write([result(op, 'k', 2)]);
      expect(report.items[0]?.outcome).toBe(SinkOutcome.Written);
      expect(await s.readBack(op, 'k', W)).toEqual(result(op, 'k', 2));
    });

    it('a lower version never regresses the stored one and is reported superseded', async () => {
      const s = await subject();
      const op = operatorName();
      await s.newSink().write([result(op, 'k', 3)]);
      const report = await s.newSink().write([result(op, 'k', 1), result(op, 'k', 2)]);
      expect(report.items.map((i) => i.index)).toEqual([0, 1]);
      if (s.reportsDuplicates) {
        expect(report.items).toEqual([
          { index: 0, outcome: SinkOutcome.Superseded, storedVersion: 3 },
          { index: 1, outcome: SinkOutcome.Superseded, storedVersion: 3 },
        ]);
        expect(report.superseded).toBe(2);
      }
      expect(await s.readBack(op, 'k', W)).toEqual(result(op, 'k', 3));
    });

    it('reports one entry per item, in input order, for a mixed batch', async () => {
      const s = await subject();
      const op = operatorName();
      await s.newSink().write([result(op, 'a', 2)]);
      const batch = [
        result(op, 'a', 1),
        result(op, 'b', 1),
        result(op, 'a', 2),
        result(op, 'c', 1),
      ];
      const report = await s.newSink().write(batch);
      expect(report.items.map((i) => i.index)).toEqual([0, 1, 2, 3]);
      expect(report.written + report.alreadyPresent + report.superseded).toBe(4);
      if (s.reportsDuplicates) {
        expect(report.items.map((i) => i.outcome)).toEqual([
          'superseded',
          'written',
          'already-present',
          'written',
        ]);
      }
      expect((await s.readBack(op, 'a', W))?.version).toBe(2);
      expect((await s.readBack(op, 'b', W))?.version).toBe(1);
    });

    it('concurrent writers of different versions end at the highest version', async () => {
      const s = await subject();
      const op = operatorName();
      const windows: TimeWindow[] = [0, 1, 2].map((i) => ({
        start: W.start + i * 60_000,
        end: W.end + i * 60_000,
      }));
      const random = prng(42);
      const writers = Array.from({ length: 6 }, () => s.newSink());
      const jobs = writers.map((sink) => {
        const items = windows.flatMap((w) =>
          [1, 2, 3, 4, 5].map((v) => result(op, 'hot', v, v, w)),
        );
        for (let i = items.length - 1; i > 0; i -= 1) {
          const j = Math.floor(random() * (i + 1));
          [items[i], items[j]] = [items[j] as WindowResult, items[i] as WindowResult];
        }
        // Each writer sends its shuffled results in small batches, interleaving with the others.
        return (async () => {
          for (let i = 0; i < items.length; i += 4) await sink.write(items.slice(i, i + 4));
        })();
      });
      await Promise.all(jobs);
      for (const w of windows)
        expect(await s.readBack(op, 'hot', w)).toEqual(result(op, 'hot', 5, 5, w));
    });

    it('a merged session carries what it supersedes; conditional sinks mask the old session for good', async () => {
      const s = await subject();
      const sink = s.newSink();
      const op = operatorName();
      const old: TimeWindow = { start: W.start, end: W.start + 10_000 };
      const merged: TimeWindow = { start: W.start, end: W.start + 30_000 };
      await sink.write([result(op, 's', 1, 1, old)]);
      const m = windowResult({
        operator: op,
        key: 's',
        window: merged,
        value: 3,
        version: 1,
        supersedes: [old],
      });
      await sink.write([m]);
      expect((await s.readBack(op, 's', merged))?.supersedes).toEqual([old]);
      if (s.reportsDuplicates) {
        expect(await s.readBack(op, 's', old)).toBeUndefined();
        // A late or re-driven write of the old session (even a higher version) never brings it back.
        const late = await sink.write([result(op, 's', 2, 2, old)]);
        expect(late.items.map((i) => i.outcome)).toEqual([SinkOutcome.Superseded]);
        expect(await s.readBack(op, 's', old)).toBeUndefined();
      }
    });

    it('a correction: (generation 1, version 1) replaces (generation 0, version 3); (generation 0, version 4) after it is refused', async () => {
      const s = await subject();
      const op = operatorName();
      await s.newSink().write([result(op, 'k', 3, 'old')]);
      const corrected = result(op, 'k', 1, 'corrected', W, 1);
      expect(corrected.id).toBe(`${encodeURIComponent(op)}/k/${W.start}-${W.end}/g1v1`);
      const report = await s.newSink().write([corrected]);
      expect(report.items[0]?.outcome).toBe(SinkOutcome.Written);
      expect(await s.readBack(op, 'k', W)).toEqual(corrected);
      // A batch of the old generation still in flight (or re-driven) never regresses the correction.
      const stale = await s.newSink().write([result(op, 'k', 4, 'stale')]);
      if (s.reportsDuplicates) {
        expect(stale.items).toEqual([
          { index: 0, outcome: SinkOutcome.Superseded, storedVersion: 1 },
        ]);
      }
      expect(await s.readBack(op, 'k', W)).toEqual(corrected);
      // The same correction again is a no-op; a later version of it replaces it.
      const again = await s.newSink().write([corrected]);
      if (s.reportsDuplicates) expect(again.items[0]?.outcome).toBe(SinkOutcome.AlreadyPresent);
      await s.newSink().write([result(op, 'k', 2, 'corrected-2', W, 1)]);
      expect(await s.readBack(op, 'k', W)).toEqual(result(op, 'k', 2, 'corrected-2', W, 1));
    });

    it('a correction of a superseded session window brings it back; the old generation never does', async () => {
      const s = await subject();
      const sink = s.newSink();
      const op = operatorName();
      const old: TimeWindow = { start: W.start, end: W.start + 10_000 };
      const merged: TimeWindow = { start: W.start, end: W.start + 30_000 };
      await sink.write([result(op, 's', 1, 1, old)]);
      await sink.write([
        windowResult({
          operator: op,
          key: 's',
          window: merged,
          value: 3,
          version: 1,
          supersedes: [old],
        }),
      ]);
      if (!s.reportsDuplicates) return;
      expect(await s.readBack(op, 's', old)).toBeUndefined();
      // After a restore with a changed pipeline, the window is a session of its own again.
      const again = result(op, 's', 1, 'own', old, 1);
      expect((await sink.write([again])).items[0]?.outcome).toBe(SinkOutcome.Written);
      expect(await s.readBack(op, 's', old)).toEqual(again);
      expect((await sink.write([result(op, 's', 5, 5, old)])).items[0]?.outcome).toBe(
        SinkOutcome.Superseded,
      );
    });

    it('a retraction (1, v0) replaces (0, v3); (0, v4) after it is refused; a firing (1, v1) replaces it and it never comes back', async () => {
      const s = await subject();
      const op = operatorName();
      await s.newSink().write([result(op, 'k', 3, 'old')]);
      const retraction = windowRetraction({
        operator: op,
        key: 'k',
        window: W,
        generation: 1,
        firedAt: 1_700_000_090_000,
      });
      expect(retraction.id).toBe(`${encodeURIComponent(op)}/k/${W.start}-${W.end}/g1v0`);
      const report = await s.newSink().write([retraction]);
      expect(report.items[0]?.outcome).toBe(SinkOutcome.Written);
      expect(await s.readBack(op, 'k', W)).toEqual(retraction);
      // A stale write of the older generation never brings the old result back.
      const stale = await s.newSink().write([result(op, 'k', 4, 'stale')]);
      if (s.reportsDuplicates)
        expect(stale.items[0]).toEqual({
          index: 0,
          outcome: SinkOutcome.Superseded,
          storedVersion: 0,
        });
      expect(await s.readBack(op, 'k', W)).toEqual(retraction);
      const again = await s.newSink().write([retraction]);
      if (s.reportsDuplicates) expect(again.items[0]?.outcome).toBe(SinkOutcome.AlreadyPresent);
      // The window fires under the retracting generation: the firing replaces the retraction.
      const fired = result(op, 'k', 1, 'back', W, 1);
      await s.newSink().write([fired]);
      expect(await s.readBack(op, 'k', W)).toEqual(fired);
      const redriven = await s.newSink().write([retraction]);
      if (s.reportsDuplicates)
        expect(redriven.items[0]).toEqual({
          index: 0,
          outcome: SinkOutcome.Superseded,
          storedVersion: 1,
        });
      expect(await s.readBack(op, 'k', W)).toEqual(fired);
    });

    it('a retraction of a window with no result, or of a session masked by an older generation, is stored', async () => {
      const s = await subject();
      const sink = s.newSink();
      const op = operatorName();
      const none = windowRetraction({ operator: op, key: 'n', window: W, generation: 2 });
      expect((await sink.write([none])).items[0]?.outcome).toBe(SinkOutcome.Written);
      expect(await s.readBack(op, 'n', W)).toEqual(none);
      const old: TimeWindow = { start: W.start, end: W.start + 10_000 };
      const merged: TimeWindow = { start: W.start, end: W.start + 30_000 };
      await sink.write([result(op, 's', 1, 1, old)]);
      await sink.write([
        windowResult({
          operator: op,
          key: 's',
          window: merged,
          value: 2,
          version: 1,
          supersedes: [old],
        }),
      ]);
      const retractMerged = windowRetraction({
        operator: op,
        key: 's',
        window: merged,
        generation: 1,
      });
      await sink.write([retractMerged]);
      expect(await s.readBack(op, 's', merged)).toEqual(retractMerged);
      if (!s.reportsDuplicates) return;
      // The same generation's mask outranks its retraction; an older generation's does not.
      const sameGen = windowRetraction({ operator: op, key: 's', window: old, generation: 1 });
      await sink.write([result(op, 's', 1, 'own', old, 1)]);
      await sink.write([
        windowResult({
          operator: op,
          key: 's',
          window: merged,
          value: 3,
          version: 1,
          generation: 1,
          supersedes: [old],
        }),
      ]);
      expect((await sink.write([sameGen])).items[0]?.outcome).toBe(SinkOutcome.Superseded);
      expect(await s.readBack(op, 's', old)).toBeUndefined();
      const newer = windowRetraction({ operator: op, key: 's', window: old, generation: 2 });
      expect((await sink.write([newer])).items[0]?.outcome).toBe(SinkOutcome.Written);
      expect(await s.readBack(op, 's', old)).toEqual(newer);
    });

    it('keys and operators with separators do not collide', async () => {
      const s = await subject();
      const op = `${operatorName()}/x#y`;
      const keys = ['a#b', 'a%23b', 'a/b', 'a b', 'ключ', 'a#b#'];
      await s.newSink().write(keys.map((k, i) => result(op, k, 1, i)));
      for (const [i, k] of keys.entries()) expect((await s.readBack(op, k, W))?.value).toBe(i);
    });
  });
}
