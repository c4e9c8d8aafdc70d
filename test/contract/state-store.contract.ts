/**
 * The StateStore contract: one suite, run against InMemoryStateStore (unit)
 * and DynamoDbStateStore on the embedded AWS (integration). Every test uses
 * its own operator name, so one store (one table) can serve the whole suite.
 */
import { describe, expect, it } from 'vitest';
import { collectFiredWindows } from '../../lib/core/checkpoint/stale-results.ts';
import { ConfigError } from '../../lib/errors.ts';
import { shardId as toShardId } from '../../lib/model/position.ts';
import { FencedError } from '../../lib/errors.ts';
import type {
  RestorableStateStore,
  ScannableStateStore,
  WindowItem,
  WindowWrite,
} from '../../lib/ports/state-store.ts';

/** What the contract runs against: a store that checkpoints can scan and restores can replace. */
export type ContractStateStore = ScannableStateStore & RestorableStateStore;

let operatorCounter = 0;
/** A fresh operator name per test (no '#': it separates operator and key). */
function freshOperator(): string {
  operatorCounter += 1;
  return `op-${operatorCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

const OFFSET_1 = `${'1'.padStart(128, '0')}.${'0'.padStart(10, '0')}`;
const OFFSET_2 = `${'2'.padStart(128, '0')}.${'0'.padStart(10, '0')}`;
const OFFSET_BIG = `${'49590338271490256608559692538361571095921575989136588898'.padStart(128, '0')}.${'3'.padStart(10, '0')}`;

/** A window item with sensible defaults. */
export function windowItem(
  overrides: Partial<WindowItem> & Pick<WindowItem, 'key' | 'start' | 'end'>,
): WindowItem {
  return {
    accumulator: 1,
    absorbed: { 'shardId-000000000000': OFFSET_1 },
    firedVersion: 0,
    pending: true,
    cleanupAt: overrides.end - 1,
    revision: 1,
    purged: false,
    supersedes: [],
    outbox: null,
    ...overrides,
  };
}

const put = (item: WindowItem, expectedRevision: number | null): WindowWrite => ({
  kind: 'put',
  item,
  expectedRevision,
});

function refs(items: readonly WindowItem[]): string[] {
  return items.map((i) => `${i.key}@${i.start}-${i.end}`).sort();
}

/**
 * Registers the contract tests for a StateStore implementation.
 *
 * @example
 * describeStateStoreContract('InMemoryStateStore', () => new InMemoryStateStore());
 */
export function describeStateStoreContract(
  name: string,
  makeStore: () => ContractStateStore | Promise<ContractStateStore>,
): void {
  describe(`StateStore contract: ${name}`, () => {
    const setup = async (): Promise<{ store: ContractStateStore; op: string }> => ({
      store: await makeStore(),
      op: freshOperator(),
    });

    describe('progress and watermark', () => {
      it('GIVEN a new operator WHEN progress is read THEN there is no watermark and no shard', async () => {
        const { store, op } = await setup();
        expect(await store.readProgress(op)).toEqual({
          watermark: null,
          shards: [],
          generation: 0,
        });
      });

      it('GIVEN shard progress WHEN written forwards, equal or backwards THEN only regressions are refused', async () => {
        const { store, op } = await setup();
        const p = {
          shardId: toShardId('shardId-000000000000'),
          committed: OFFSET_1,
          watermark: 1000,
          lastActivity: 5,
          closed: false,
        };
        expect(await store.writeShardProgress(op, p, 0)).toBe(true);
        expect(await store.writeShardProgress(op, { ...p, lastActivity: 6 }, 0)).toBe(true);
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              committed: OFFSET_2,
              watermark: 2000,
              lastActivity: 7,
            },
            0,
          ),
        ).toBe(true);
        expect(
          await store.writeShardProgress(op, { ...p, committed: OFFSET_1, watermark: 3000 }, 0),
        ).toBe(false);
        expect(
          await store.writeShardProgress(op, { ...p, committed: OFFSET_2, watermark: 1999 }, 0),
        ).toBe(false);
        expect(
          await store.writeShardProgress(op, { ...p, committed: null, watermark: 3000 }, 0),
        ).toBe(false);
        expect(
          await store.writeShardProgress(op, { ...p, committed: OFFSET_2, watermark: null }, 0),
        ).toBe(false);
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              committed: OFFSET_BIG,
              watermark: 2000,
              lastActivity: 8,
              closed: true,
            },
            0,
          ),
        ).toBe(true);
        const read = await store.readProgress(op);
        expect(read.shards).toEqual([
          {
            shardId: toShardId('shardId-000000000000'),
            committed: OFFSET_BIG,
            watermark: 2000,
            lastActivity: 8,
            closed: true,
          },
        ]);
      });

      it('GIVEN progress with nulls WHEN written and read THEN nulls round-trip and may later be set', async () => {
        const { store, op } = await setup();
        const p = {
          shardId: toShardId('s-1'),
          committed: null,
          watermark: null,
          lastActivity: 1,
          closed: false,
        };
        expect(await store.writeShardProgress(op, p, 0)).toBe(true);
        expect(await store.writeShardProgress(op, p, 0)).toBe(true);
        expect(
          await store.writeShardProgress(
            op,
            { ...p, shardId: toShardId('s-2'), watermark: -5000 },
            0,
          ),
        ).toBe(true);
        let read = await store.readProgress(op);
        expect(read.shards.slice().sort((a, b) => a.shardId.localeCompare(b.shardId))).toEqual([
          p,
          { ...p, shardId: toShardId('s-2'), watermark: -5000 },
        ]);
        expect(
          await store.writeShardProgress(op, { ...p, committed: OFFSET_1, watermark: -10 }, 0),
        ).toBe(true);
        read = await store.readProgress(op);
        expect(read.shards.find((s) => s.shardId === 's-1')).toEqual({
          ...p,
          committed: OFFSET_1,
          watermark: -10,
        });
      });

      it('GIVEN judged views WHEN written THEN they round-trip, every infinity included', async () => {
        const { store, op } = await setup();
        const p = { committed: null, watermark: null, lastActivity: 1, closed: false };
        const views = {
          's-1': { upTo: OFFSET_1, published: -Infinity, others: Infinity },
          's-2': { upTo: OFFSET_2, published: 1_700_000_000_000, others: -1_500 },
          // Another active shard had no watermark yet.
          's-3': { upTo: OFFSET_BIG, published: 5, others: -Infinity },
        };
        for (const [shardId, judged] of Object.entries(views)) {
          expect(
            await store.writeShardProgress(op, { ...p, shardId: toShardId(shardId), judged }, 0),
          ).toBe(true);
        }
        const read = [...(await store.readProgress(op)).shards].sort((a, b) =>
          a.shardId.localeCompare(b.shardId),
        );
        expect(read).toEqual(
          Object.entries(views).map(([shardId, judged]) => ({
            ...p,
            shardId: toShardId(shardId),
            judged,
          })),
        );
      });

      it('GIVEN failing ranges WHEN later writes carry none, add one or settle records THEN the store keeps their union minus what was settled, and never stores settles', async () => {
        const { store, op } = await setup();
        const p = {
          shardId: toShardId('s-1'),
          committed: null,
          watermark: null,
          lastActivity: 1,
          closed: false,
        };
        const shard = async () => (await store.readProgress(op)).shards[0];
        expect(
          await store.writeShardProgress(op, { ...p, failing: [{ start: '100', end: '199' }] }, 0),
        ).toBe(true);
        // A writer that read the progress before the range was recorded (the ticker).
        expect(await store.writeShardProgress(op, { ...p, lastActivity: 2 }, 0)).toBe(true);
        expect(await shard()).toEqual({
          ...p,
          lastActivity: 2,
          failing: [{ start: '100', end: '199' }],
        });
        // Another range, unioned (adjacent ranges merge), then a commit settles records in the middle.
        expect(
          await store.writeShardProgress(op, { ...p, failing: [{ start: '200', end: '249' }] }, 0),
        ).toBe(true);
        expect((await shard())?.failing).toEqual([{ start: '100', end: '249' }]);
        expect(
          await store.writeShardProgress(
            op,
            { ...p, committed: OFFSET_1, settles: { start: '120', end: '129' } },
            0,
          ),
        ).toBe(true);
        expect(await shard()).toEqual({
          ...p,
          committed: OFFSET_1,
          failing: [
            { start: '100', end: '119' },
            { start: '130', end: '249' },
          ],
        });
        // A regressing write changes nothing; settling everything removes the field.
        expect(
          await store.writeShardProgress(op, { ...p, settles: { start: '0', end: '999' } }, 0),
        ).toBe(false);
        expect((await shard())?.failing).toHaveLength(2);
        expect(
          await store.writeShardProgress(
            op,
            { ...p, committed: OFFSET_2, settles: { start: '0', end: '999' } },
            0,
          ),
        ).toBe(true);
        expect(await shard()).toEqual({ ...p, committed: OFFSET_2 });
      });

      it('GIVEN replayed spans WHEN later writes carry none, or finish a started span THEN the store keeps them, a finished span replacing the started one', async () => {
        const { store, op } = await setup();
        const p = {
          shardId: toShardId('s-1'),
          committed: OFFSET_1,
          watermark: 5,
          lastActivity: 1,
          closed: false,
        };
        const older = { after: null, upTo: OFFSET_1, done: true };
        const started = { after: OFFSET_1, upTo: null, done: false };
        expect(await store.writeShardProgress(op, { ...p, replayed: [older, started] }, 0)).toBe(
          true,
        );
        expect(
          await store.writeShardProgress(op, { ...p, committed: OFFSET_2, lastActivity: 2 }, 0),
        ).toBe(true);
        const read = async () => (await store.readProgress(op)).shards[0];
        expect(await read()).toEqual({
          ...p,
          committed: OFFSET_2,
          lastActivity: 2,
          replayed: [older, started],
        });
        // The restore finishes its span; a writer that read the started one cannot reopen it.
        const finished = { after: OFFSET_1, upTo: OFFSET_2, done: true };
        expect(
          await store.writeShardProgress(
            op,
            { ...p, committed: OFFSET_2, replayed: [finished] },
            0,
          ),
        ).toBe(true);
        expect(
          await store.writeShardProgress(
            op,
            { ...p, committed: OFFSET_2, replayed: [older, started] },
            0,
          ),
        ).toBe(true);
        expect((await read())?.replayed).toEqual([older, finished]);
      });

      it('GIVEN progress with failing ranges and replayed spans WHEN a restore resets progress THEN they are stored as given', async () => {
        const { store, op } = await setup();
        await store.writeShardProgress(
          op,
          {
            shardId: toShardId('s-1'),
            committed: OFFSET_2,
            watermark: 9,
            lastActivity: 1,
            closed: false,
            failing: [{ start: '7', end: '8' }],
            replayed: [{ after: null, upTo: OFFSET_2, done: true }],
          },
          0,
        );
        const g = await store.raiseGeneration(op);
        await store.clearState(op, g);
        const restored = {
          shardId: toShardId('s-1'),
          committed: OFFSET_1,
          watermark: 3,
          lastActivity: 1,
          closed: false,
          failing: [{ start: '1', end: '2' }],
          replayed: [{ after: OFFSET_1, upTo: null, done: false }],
        };
        await store.resetProgress(op, { watermark: 3, shards: [restored] }, g);
        expect(await store.readProgress(op)).toEqual({
          watermark: 3,
          shards: [restored],
          generation: g,
        });
      });

      it('GIVEN a judged view WHEN later writes carry no view, a lower one or commit past it THEN the store keeps the higher view until the commit passes it', async () => {
        const { store, op } = await setup();
        const p = {
          shardId: toShardId('s-1'),
          committed: null,
          watermark: null,
          lastActivity: 1,
          closed: false,
        };
        const view = { upTo: OFFSET_2, published: 100, others: 50 };
        const viewOf = async () => (await store.readProgress(op)).shards[0]?.judged;
        expect(await store.writeShardProgress(op, { ...p, judged: view }, 0)).toBe(true);
        // A writer that read the progress before the view was written (the ticker's backlog refresh).
        expect(await store.writeShardProgress(op, { ...p, lastActivity: 9 }, 0)).toBe(true);
        expect((await store.readProgress(op)).shards).toEqual([
          { ...p, lastActivity: 9, judged: view },
        ]);
        // A lower view raises only what it has higher.
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              judged: { upTo: OFFSET_1, published: 200, others: -Infinity },
            },
            0,
          ),
        ).toBe(true);
        expect(await viewOf()).toEqual({ upTo: OFFSET_2, published: 200, others: 50 });
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              judged: { upTo: OFFSET_1, published: 0, others: Infinity },
            },
            0,
          ),
        ).toBe(true);
        expect(await viewOf()).toEqual({ upTo: OFFSET_2, published: 200, others: Infinity });
        // A commit below upTo (a bisected retry) keeps it; a regression changes nothing.
        expect(
          await store.writeShardProgress(op, { ...p, committed: OFFSET_1, watermark: 7 }, 0),
        ).toBe(true);
        expect(await viewOf()).toEqual({ upTo: OFFSET_2, published: 200, others: Infinity });
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              judged: { upTo: OFFSET_BIG, published: 999, others: 999 },
            },
            0,
          ),
        ).toBe(false);
        expect(await viewOf()).toEqual({ upTo: OFFSET_2, published: 200, others: Infinity });
        // A commit at upTo drops it, whatever view the writer carried.
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              committed: OFFSET_2,
              watermark: 8,
              judged: { upTo: OFFSET_1, published: 1, others: 1 },
            },
            0,
          ),
        ).toBe(true);
        expect((await store.readProgress(op)).shards).toEqual([
          { ...p, committed: OFFSET_2, watermark: 8 },
        ]);
        // And a view above the commit starts afresh.
        const next = { upTo: OFFSET_BIG, published: -Infinity, others: -Infinity };
        expect(
          await store.writeShardProgress(
            op,
            {
              ...p,
              committed: OFFSET_2,
              watermark: 8,
              judged: next,
            },
            0,
          ),
        ).toBe(true);
        expect(await viewOf()).toEqual(next);
      });

      it('GIVEN a watermark WHEN advanced up and down THEN it never decreases and the stored value is returned', async () => {
        const { store, op } = await setup();
        expect(await store.advanceWatermark(op, -60_000, 0)).toBe(-60_000);
        expect(await store.advanceWatermark(op, 1000, 0)).toBe(1000);
        expect(await store.advanceWatermark(op, 500, 0)).toBe(1000);
        expect(await store.advanceWatermark(op, 1000, 0)).toBe(1000);
        expect(await store.advanceWatermark(op, 1_700_000_000_000, 0)).toBe(1_700_000_000_000);
        expect((await store.readProgress(op)).watermark).toBe(1_700_000_000_000);
      });

      it('GIVEN two operators WHEN progress is written THEN they do not see each other', async () => {
        const { store, op } = await setup();
        const other = freshOperator();
        await store.writeShardProgress(
          op,
          {
            shardId: toShardId('s'),
            committed: OFFSET_1,
            watermark: 1,
            lastActivity: 1,
            closed: false,
          },
          0,
        );
        await store.advanceWatermark(op, 7, 0);
        expect(await store.readProgress(other)).toEqual({
          watermark: null,
          shards: [],
          generation: 0,
        });
      });
    });

    describe('conditional writes', () => {
      it('GIVEN no item WHEN created with expectedRevision null THEN it is stored; a second create fails', async () => {
        const { store, op } = await setup();
        const item = windowItem({ key: 'k', start: 0, end: 60_000 });
        expect(await store.write(op, [[put(item, null)]], 0)).toEqual([true]);
        expect(await store.write(op, [[put({ ...item, revision: 2 }, null)]], 0)).toEqual([false]);
        expect(await store.getWindows(op, [{ key: 'k', start: 0, end: 60_000 }], 0)).toEqual([
          item,
        ]);
      });

      it('GIVEN an item WHEN put with the right or a wrong revision THEN only the right one applies', async () => {
        const { store, op } = await setup();
        const item = windowItem({ key: 'k', start: 0, end: 60_000 });
        await store.write(op, [[put(item, null)]], 0);
        const next = { ...item, accumulator: 2, revision: 2 };
        expect(await store.write(op, [[put(next, 5)]], 0)).toEqual([false]);
        expect(await store.write(op, [[put(next, 1)]], 0)).toEqual([true]);
        expect(await store.write(op, [[put({ ...next, revision: 3 }, 1)]], 0)).toEqual([false]);
        expect(await store.getWindows(op, [item], 0)).toEqual([next]);
      });

      it('GIVEN no item WHEN put with an expected revision THEN it fails', async () => {
        const { store, op } = await setup();
        expect(
          await store.write(op, [[put(windowItem({ key: 'k', start: 0, end: 10 }), 1)]], 0),
        ).toEqual([false]);
        expect(await store.getWindows(op, [{ key: 'k', start: 0, end: 10 }], 0)).toEqual([
          undefined,
        ]);
      });

      it('GIVEN several groups WHEN one fails THEN the others still apply, and the flags follow the order', async () => {
        const { store, op } = await setup();
        const a = windowItem({ key: 'a', start: 0, end: 10 });
        const b = windowItem({ key: 'b', start: 0, end: 10 });
        await store.write(op, [[put(b, null)]], 0);
        const c = windowItem({ key: 'c', start: 0, end: 10 });
        expect(await store.write(op, [[put(a, null)], [put(b, null)], [put(c, null)]], 0)).toEqual([
          true,
          false,
          true,
        ]);
        expect(
          refs(
            (await store.getWindows(op, [a, b, c], 0)).filter(
              (x): x is WindowItem => x !== undefined,
            ),
          ),
        ).toEqual(refs([a, b, c]));
      });

      it('GIVEN a multi-write group WHEN one condition fails THEN nothing of the group applies (atomic)', async () => {
        const { store, op } = await setup();
        const s1 = windowItem({ key: 'u', start: 0, end: 100, revision: 1 });
        const s2 = windowItem({ key: 'u', start: 200, end: 300, revision: 1 });
        await store.write(op, [[put(s1, null)], [put(s2, null)]], 0);
        const merged = windowItem({ key: 'u', start: 0, end: 300, accumulator: 2, revision: 1 });
        const bad: WindowWrite[] = [
          put(merged, null),
          { kind: 'delete', ref: s1, expectedRevision: 1 },
          { kind: 'delete', ref: s2, expectedRevision: 9 },
        ];
        expect(await store.write(op, [bad], 0)).toEqual([false]);
        expect(await store.getWindows(op, [s1, s2, merged], 0)).toEqual([s1, s2, undefined]);

        const good: WindowWrite[] = [
          put(merged, null),
          { kind: 'delete', ref: s1, expectedRevision: 1 },
          { kind: 'delete', ref: s2, expectedRevision: 1 },
        ];
        expect(await store.write(op, [good], 0)).toEqual([true]);
        expect(await store.getWindows(op, [s1, s2, merged], 0)).toEqual([
          undefined,
          undefined,
          merged,
        ]);
        const listed = await store.listKeyWindows(op, ['u'], 0);
        expect(listed.get('u')).toEqual([merged]);
      });

      it('GIVEN an item WHEN deleted with a wrong and then the right revision THEN only the right one deletes', async () => {
        const { store, op } = await setup();
        const item = windowItem({ key: 'k', start: 0, end: 10, revision: 4 });
        await store.write(op, [[put(item, null)]], 0);
        expect(
          await store.write(op, [[{ kind: 'delete', ref: item, expectedRevision: 3 }]], 0),
        ).toEqual([false]);
        expect(
          await store.write(op, [[{ kind: 'delete', ref: item, expectedRevision: 4 }]], 0),
        ).toEqual([true]);
        expect(await store.getWindows(op, [item], 0)).toEqual([undefined]);
        expect((await store.listKeyWindows(op, ['k'], 0)).get('k')).toEqual([]);
      });

      it('GIVEN two groups creating sessions of one key against the same head WHEN written THEN only the first applies, and the head is no window', async () => {
        const { store, op } = await setup();
        expect(await store.readSessionHeads(op, ['s', 'other'], 0)).toEqual([0, 0]);
        const head = (expectedVersion: number): WindowWrite => ({
          kind: 'head',
          key: 's',
          expectedVersion,
        });
        const a = windowItem({ key: 's', start: 0, end: 10 });
        const b = windowItem({ key: 's', start: 5, end: 15 });
        // Two shards' batches, both planned against head 0: the second loses.
        expect(await store.write(op, [[put(a, null), head(0)]], 0)).toEqual([true]);
        expect(await store.write(op, [[put(b, null), head(0)]], 0)).toEqual([false]);
        expect(await store.readSessionHeads(op, ['s', 'other'], 0)).toEqual([1, 0]);
        // Re-planned against head 1: merges the winner's session.
        const merged = windowItem({ key: 's', start: 0, end: 15, accumulator: 2 });
        const remerge: WindowWrite[] = [
          { kind: 'delete', ref: a, expectedRevision: 1 },
          put(merged, null),
          head(1),
        ];
        expect(await store.write(op, [remerge], 0)).toEqual([true]);
        expect(await store.readSessionHeads(op, ['s'], 0)).toEqual([2]);
        expect((await store.listKeyWindows(op, ['s'], 0)).get('s')).toEqual([merged]);
        // The whole operator, paged (a shared table's pages may come back empty before the end).
        const scanned: WindowItem[] = [];
        let cursor: string | null = null;
        do {
          const page = await store.scanWindows(op, {
            segment: 0,
            totalSegments: 1,
            cursor,
            limit: 1000,
          });
          scanned.push(...page.items);
          cursor = page.cursor;
        } while (cursor !== null);
        expect(scanned).toEqual([merged]);
        expect(await store.write(op, [[put(b, null), head(1)]], 0)).toEqual([false]);
        expect(await store.getWindows(op, [b], 0)).toEqual([undefined]);
      });

      it('GIVEN an empty list of groups WHEN written THEN nothing happens', async () => {
        const { store, op } = await setup();
        expect(await store.write(op, [], 0)).toEqual([]);
      });
    });

    describe('reading windows', () => {
      it('GIVEN items with rich content WHEN read THEN every field round-trips exactly', async () => {
        const { store, op } = await setup();
        const item = windowItem({
          key: 'user/ü#1 "quoted"',
          start: -120_000,
          end: -60_000,
          accumulator: {
            sum: 0.1 + 0.2,
            count: 3,
            big: 1e300,
            tiny: 5e-324,
            neg: -0.5,
            list: [1, 'x', null, true],
            nested: { a: [] },
          },
          absorbed: { 'shardId-000000000000': OFFSET_1, 'shardId-000000000001': OFFSET_BIG },
          firedVersion: 2,
          pending: false,
          cleanupAt: 30_000,
          revision: 7,
          supersedes: [{ start: -120_000, end: -90_000 }],
          outbox: {
            generation: 3,
            version: 2,
            value: { n: 12345678901234567000, s: 'v', f: 1.5 },
            supersedes: [{ start: -1, end: 0 }],
            firedAt: 1_700_000_000_123,
          },
        });
        await store.write(op, [[put(item, null)]], 0);
        expect(await store.getWindows(op, [item], 0)).toEqual([item]);
      });

      it('GIVEN refs in any order, missing ones and repeats WHEN read THEN results follow the refs', async () => {
        const { store, op } = await setup();
        const items = Array.from({ length: 130 }, (_, i) =>
          windowItem({ key: `k${i % 13}`, start: i * 10, end: i * 10 + 10 }),
        );
        await store.write(
          op,
          items.map((it) => [put(it, null)]),
          0,
        );
        const wanted = [...items].reverse();
        const missing = { key: 'nope', start: 0, end: 10 };
        const got = await store.getWindows(op, [missing, ...wanted, items[0]!, missing], 0);
        expect(got).toEqual([undefined, ...wanted, items[0], undefined]);
      });

      it('GIVEN open items and tombstones of several keys WHEN listed by key THEN each key gets exactly its items', async () => {
        const { store, op } = await setup();
        const open = windowItem({ key: 'a', start: 0, end: 10 });
        const tomb = windowItem({
          key: 'a',
          start: -10,
          end: 0,
          accumulator: null,
          pending: false,
          purged: true,
        });
        const prefix = windowItem({ key: 'a#b', start: 0, end: 10 });
        const other = windowItem({ key: 'b', start: 0, end: 10 });
        await store.write(
          op,
          [[put(open, null)], [put(tomb, null)], [put(prefix, null)], [put(other, null)]],
          0,
        );
        const listed = await store.listKeyWindows(op, ['a', 'a#b', 'none'], 0);
        expect(refs(listed.get('a') ?? [])).toEqual(refs([open, tomb]));
        expect(listed.get('a#b')).toEqual([prefix]);
        expect(listed.get('none')).toEqual([]);
        expect(listed.has('b')).toBe(false);
      });
    });

    describe('due, expired and outbox queries', () => {
      it('GIVEN pending, fired and purged items WHEN due ones are listed THEN only open pending items with end - 1 <= W come back', async () => {
        const { store, op } = await setup();
        const due1 = windowItem({ key: 'a', start: -120_000, end: -60_000 });
        const due2 = windowItem({ key: 'b', start: 0, end: 60_000 });
        const notYet = windowItem({ key: 'c', start: 60_000, end: 120_000 });
        const fired = windowItem({
          key: 'd',
          start: 0,
          end: 60_000,
          pending: false,
          firedVersion: 1,
        });
        const tomb = windowItem({
          key: 'e',
          start: 0,
          end: 60_000,
          pending: false,
          purged: true,
          accumulator: null,
        });
        await store.write(
          op,
          [due1, due2, notYet, fired, tomb].map((it) => [put(it, null)]),
          0,
        );
        expect(refs(await store.listDue(op, 59_999, 100, 0))).toEqual(refs([due1, due2]));
        expect(refs(await store.listDue(op, 59_998, 100, 0))).toEqual(refs([due1]));
        expect(refs(await store.listDue(op, -60_001, 100, 0))).toEqual(refs([due1]));
        expect(await store.listDue(op, -60_002, 100, 0)).toEqual([]);
        expect(refs(await store.listDue(op, 1e13, 100, 0))).toEqual(refs([due1, due2, notYet]));
      });

      it('GIVEN many due items WHEN listed with a limit THEN at most limit come back, earliest first, and listing consumes nothing', async () => {
        const { store, op } = await setup();
        const items = Array.from({ length: 30 }, (_, i) =>
          windowItem({ key: `k${i}`, start: i * 1000, end: i * 1000 + 1000 }),
        );
        await store.write(
          op,
          items.map((it) => [put(it, null)]),
          0,
        );
        const first = await store.listDue(op, 1e9, 5, 0);
        expect(first.map((i) => i.end)).toEqual([1000, 2000, 3000, 4000, 5000]);
        expect(refs(await store.listDue(op, 1e9, 5, 0))).toEqual(refs(first));
        expect(await store.listDue(op, 1e9, 1000, 0)).toHaveLength(30);
      });

      it('GIVEN a due item WHEN it fires (pending cleared) THEN it leaves the due list, and returns when pending again', async () => {
        const { store, op } = await setup();
        const item = windowItem({ key: 'a', start: 0, end: 10 });
        await store.write(op, [[put(item, null)]], 0);
        const fired = { ...item, pending: false, firedVersion: 1, revision: 2 };
        await store.write(op, [[put(fired, 1)]], 0);
        expect(await store.listDue(op, 100, 10, 0)).toEqual([]);
        const late = { ...fired, pending: true, accumulator: 2, revision: 3 };
        await store.write(op, [[put(late, 2)]], 0);
        expect(await store.listDue(op, 100, 10, 0)).toEqual([late]);
      });

      it('GIVEN open items and tombstones WHEN expired ones are listed THEN only open items with cleanupAt < W come back', async () => {
        const { store, op } = await setup();
        const a = windowItem({ key: 'a', start: -20, end: -10, cleanupAt: -5, pending: false });
        const b = windowItem({ key: 'b', start: 0, end: 10, cleanupAt: 100 });
        const c = windowItem({ key: 'c', start: 0, end: 10, cleanupAt: 101 });
        const tomb = windowItem({
          key: 'd',
          start: 0,
          end: 10,
          cleanupAt: 0,
          purged: true,
          pending: false,
          accumulator: null,
        });
        await store.write(
          op,
          [a, b, c, tomb].map((it) => [put(it, null)]),
          0,
        );
        expect(refs(await store.listExpired(op, 101, 100, 0))).toEqual(refs([a, b]));
        expect(refs(await store.listExpired(op, 100, 100, 0))).toEqual(refs([a]));
        expect(refs(await store.listExpired(op, -5, 100, 0))).toEqual([]);
        expect(refs(await store.listExpired(op, -4, 100, 0))).toEqual(refs([a]));
        expect(await store.listExpired(op, 1000, 2, 0)).toHaveLength(2);
        // Purging (a tombstone put) removes it from the list.
        await store.write(
          op,
          [[put({ ...a, purged: true, accumulator: null, revision: 2 }, 1)]],
          0,
        );
        expect(refs(await store.listExpired(op, 101, 100, 0))).toEqual(refs([b]));
      });

      it('GIVEN fired items with outboxes WHEN listed and acknowledged THEN only unacknowledged versions remain', async () => {
        const { store, op } = await setup();
        const outbox = (version: number, firedAt: number): WindowItem['outbox'] => ({
          generation: 0,
          version,
          value: { n: version },
          supersedes: [],
          firedAt,
        });
        const a = windowItem({
          key: 'a',
          start: 0,
          end: 10,
          pending: false,
          firedVersion: 1,
          outbox: outbox(1, 1000),
        });
        const b = windowItem({
          key: 'b',
          start: 0,
          end: 10,
          pending: false,
          firedVersion: 2,
          outbox: outbox(2, 2000),
        });
        const tomb = windowItem({
          key: 'c',
          start: 0,
          end: 10,
          pending: false,
          purged: true,
          accumulator: null,
          firedVersion: 1,
          outbox: outbox(1, 3000),
        });
        const none = windowItem({ key: 'd', start: 0, end: 10 });
        await store.write(
          op,
          [a, b, tomb, none].map((it) => [put(it, null)]),
          0,
        );
        expect(refs(await store.listOutbox(op, 100, 0))).toEqual(refs([a, b, tomb]));
        expect(await store.listOutbox(op, 2, 0)).toHaveLength(2);

        const acked = await store.ackOutbox(
          op,
          [
            { key: 'a', start: 0, end: 10, generation: 0, version: 1 },
            { key: 'b', start: 0, end: 10, generation: 0, version: 1 }, // stale: b holds version 2
            { key: 'none', start: 0, end: 10, generation: 0, version: 1 },
            { key: 'd', start: 0, end: 10, generation: 0, version: 1 }, // no outbox
          ],
          0,
        );
        expect(acked).toEqual([true, false, false, false]);
        expect(refs(await store.listOutbox(op, 100, 0))).toEqual(refs([b, tomb]));
        const [aNow] = await store.getWindows(op, [a], 0);
        expect(aNow).toEqual({ ...a, outbox: null, revision: a.revision + 1 });
        expect(
          await store.ackOutbox(
            op,
            [{ key: 'a', start: 0, end: 10, generation: 0, version: 1 }],
            0,
          ),
        ).toEqual([false]);
        expect(
          await store.ackOutbox(
            op,
            [
              { key: 'c', start: 0, end: 10, generation: 0, version: 1 },
              { key: 'b', start: 0, end: 10, generation: 0, version: 2 },
            ],
            0,
          ),
        ).toEqual([true, true]);
        expect(await store.listOutbox(op, 100, 0)).toEqual([]);
        // The revision bump makes a writer holding the old revision lose its race.
        expect(
          await store.write(op, [[put({ ...a, revision: a.revision + 1 }, a.revision)]], 0),
        ).toEqual([false]);
      });

      it('GIVEN a re-firing WHEN a stale ack arrives THEN the newer outbox stays', async () => {
        const { store, op } = await setup();
        const v1 = windowItem({
          key: 'a',
          start: 0,
          end: 10,
          pending: false,
          firedVersion: 1,
          outbox: { generation: 0, version: 1, value: 1, supersedes: [], firedAt: 1 },
        });
        await store.write(op, [[put(v1, null)]], 0);
        const v2 = {
          ...v1,
          firedVersion: 2,
          revision: 2,
          outbox: { generation: 0, version: 2, value: 2, supersedes: [], firedAt: 2 },
        };
        await store.write(op, [[put(v2, 1)]], 0);
        expect(
          await store.ackOutbox(
            op,
            [{ key: 'a', start: 0, end: 10, generation: 0, version: 1 }],
            0,
          ),
        ).toEqual([false]);
        expect(await store.listOutbox(op, 10, 0)).toEqual([v2]);
      });

      it('GIVEN a limit of 0 or an empty operator WHEN queried THEN nothing comes back', async () => {
        const { store, op } = await setup();
        await store.write(
          op,
          [
            [
              put(
                windowItem({
                  key: 'a',
                  start: 0,
                  end: 10,
                  outbox: { generation: 0, version: 1, value: 1, supersedes: [], firedAt: 1 },
                }),
                null,
              ),
            ],
          ],
          0,
        );
        expect(await store.listDue(op, 100, 0, 0)).toEqual([]);
        expect(await store.listExpired(op, 100, 0, 0)).toEqual([]);
        expect(await store.listOutbox(op, 0, 0)).toEqual([]);
        const empty = freshOperator();
        expect(await store.listDue(empty, 1e15, 10, 0)).toEqual([]);
        expect(await store.listExpired(empty, 1e15, 10, 0)).toEqual([]);
        expect(await store.listOutbox(empty, 10, 0)).toEqual([]);
        expect(await store.ackOutbox(empty, [], 0)).toEqual([]);
      });
    });

    describe('segmented scan (checkpoints)', () => {
      /** Every page of every segment; asserts the page limit on the way. */
      const scanAll = async (
        store: ScannableStateStore,
        op: string,
        totalSegments: number,
        limit: number,
      ): Promise<WindowItem[][]> => {
        const segments: WindowItem[][] = [];
        for (let segment = 0; segment < totalSegments; segment++) {
          const got: WindowItem[] = [];
          let cursor: string | null = null;
          for (let pages = 0; ; pages++) {
            expect(pages).toBeLessThan(10_000);
            const page = await store.scanWindows(op, { segment, totalSegments, cursor, limit });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            got.push(...page.items);
            if (page.cursor === null) break;
            expect(JSON.parse(JSON.stringify(page.cursor))).toBe(page.cursor);
            cursor = page.cursor;
          }
          segments.push(got);
        }
        return segments;
      };

      it("GIVEN open items, tombstones, progress and another operator WHEN every segment is paged THEN the segments together hold each of the operator's window items exactly once", async () => {
        const { store, op } = await setup();
        const other = freshOperator();
        const items: WindowItem[] = [];
        for (let i = 0; i < 57; i++) {
          items.push(
            windowItem({
              key: `k${i % 19}${i % 3 === 0 ? '#x' : ''}`,
              start: i * 1000,
              end: i * 1000 + 1000,
              ...(i % 5 === 0 ? { purged: true, pending: false, accumulator: null } : {}),
            }),
          );
        }
        await store.write(
          op,
          items.map((it) => [put(it, null)]),
          0,
        );
        await store.write(other, [[put(windowItem({ key: 'k1', start: 0, end: 1000 }), null)]], 0);
        await store.writeShardProgress(
          op,
          {
            shardId: toShardId('s'),
            committed: OFFSET_1,
            watermark: 1,
            lastActivity: 1,
            closed: false,
          },
          0,
        );
        await store.advanceWatermark(op, 5, 0);
        for (const [totalSegments, limit] of [
          [1, 1000],
          [3, 7],
          [4, 1],
        ] as const) {
          const segments = await scanAll(store, op, totalSegments, limit);
          const all = segments.flat();
          expect(refs(all)).toEqual(refs(items));
          expect([...all].sort((a, b) => a.key.localeCompare(b.key) || a.start - b.start)).toEqual(
            [...items].sort((a, b) => a.key.localeCompare(b.key) || a.start - b.start),
          );
        }
        // The same split every time.
        expect((await scanAll(store, op, 3, 50)).map(refs)).toEqual(
          (await scanAll(store, op, 3, 5)).map(refs),
        );
      });

      it('GIVEN a scan half-way WHEN items change, appear and are deleted THEN every item that existed throughout comes once, as read', async () => {
        const { store, op } = await setup();
        const items = Array.from({ length: 30 }, (_, i) =>
          windowItem({ key: `k${i}`, start: 0, end: 10 }),
        );
        await store.write(
          op,
          items.map((it) => [put(it, null)]),
          0,
        );
        const first = await store.scanWindows(op, {
          segment: 0,
          totalSegments: 1,
          cursor: null,
          limit: 10,
        });
        expect(first.cursor).not.toBeNull();
        const seen = new Set(first.items.map((i) => i.key));
        const untouched = items.filter((i) => !seen.has(i.key));
        // Change one not yet read, delete another not yet read, add one.
        const changed = untouched[0] as WindowItem;
        const deleted = untouched[1] as WindowItem;
        await store.write(
          op,
          [
            [put({ ...changed, accumulator: 42, revision: 2 }, 1)],
            [{ kind: 'delete', ref: deleted, expectedRevision: 1 }],
            [put(windowItem({ key: 'new', start: 0, end: 10 }), null)],
          ],
          0,
        );
        const rest: WindowItem[] = [];
        let cursor = first.cursor;
        while (cursor !== null) {
          const page = await store.scanWindows(op, {
            segment: 0,
            totalSegments: 1,
            cursor,
            limit: 10,
          });
          rest.push(...page.items);
          cursor = page.cursor;
        }
        const all = [...first.items, ...rest];
        const keys = all.map((i) => i.key);
        expect(new Set(keys).size).toBe(keys.length);
        for (const it of items) {
          if (it.key === deleted.key) continue;
          expect(keys).toContain(it.key);
        }
        expect(keys).not.toContain(deleted.key);
        expect(all.find((i) => i.key === changed.key)?.accumulator).toBe(42);
      });

      it('GIVEN an empty operator WHEN scanned THEN every segment ends at once', async () => {
        const { store, op } = await setup();
        expect((await scanAll(store, op, 2, 10)).flat()).toEqual([]);
      });

      it('GIVEN a bad segment, segment count, limit or cursor WHEN scanned THEN a ConfigError names the field', async () => {
        const { store, op } = await setup();
        const bad = [
          { segment: 2, totalSegments: 2, cursor: null, limit: 1 },
          { segment: 0, totalSegments: 0, cursor: null, limit: 1 },
          { segment: 0, totalSegments: 1, cursor: null, limit: 0 },
          { segment: 0, totalSegments: 1, cursor: 'not a cursor', limit: 1 },
        ];
        const fields: string[] = [];
        for (const request of bad) {
          const e: unknown = await store.scanWindows(op, request).catch((x: unknown) => x);
          expect(e).toBeInstanceOf(ConfigError);
          fields.push((e as ConfigError).field);
        }
        expect(fields).toEqual(['segment', 'totalSegments', 'limit', 'cursor']);
      });
    });

    describe('restore generation and fencing', () => {
      const shard0 = toShardId('shardId-000000000000');
      const shard7 = toShardId('shardId-000000000007');

      /** A store at generation 0 with one item, one shard's progress and a watermark, then restored to generation 1. */
      const restored = async (): Promise<{
        store: ContractStateStore;
        op: string;
        before: WindowItem;
        after: WindowItem;
      }> => {
        const { store, op } = await setup();
        const before = windowItem({ key: 'k', start: 0, end: 10, revision: 5, accumulator: 9 });
        await store.write(op, [[put(before, null)]], 0);
        await store.writeShardProgress(
          op,
          { shardId: shard0, committed: OFFSET_2, watermark: 2000, lastActivity: 1, closed: false },
          0,
        );
        await store.advanceWatermark(op, 2000, 0);
        const g = await store.raiseGeneration(op);
        expect(g).toBe(1);
        await store.clearState(op, g);
        const after = windowItem({ key: 'k', start: 0, end: 10, revision: 5, accumulator: 4 });
        await store.loadWindows(op, [after], g);
        await store.resetProgress(
          op,
          {
            watermark: 1000,
            shards: [
              {
                shardId: shard0,
                committed: OFFSET_1,
                watermark: 1000,
                lastActivity: 1,
                closed: false,
              },
            ],
          },
          g,
        );
        return { store, op, before, after };
      };

      /** A call refused as fenced: rejected with FencedError, or (adapters that only learn it from a failed condition) `false`. */
      const refused = async (call: Promise<unknown>): Promise<boolean> => {
        try {
          const r = await call;
          return r === false || (Array.isArray(r) && r.every((x) => x === false));
        } catch (e) {
          return e instanceof FencedError;
        }
      };

      it('GIVEN a restore WHEN progress is read THEN it carries the raised generation and the reset positions (backwards)', async () => {
        const { store, op } = await restored();
        expect(await store.readProgress(op)).toEqual({
          watermark: 1000,
          shards: [
            {
              shardId: shard0,
              committed: OFFSET_1,
              watermark: 1000,
              lastActivity: 1,
              closed: false,
            },
          ],
          generation: 1,
        });
        expect(await store.getWindows(op, [{ key: 'k', start: 0, end: 10 }], 1)).toEqual([
          windowItem({ key: 'k', start: 0, end: 10, revision: 5, accumulator: 4 }),
        ]);
      });

      it('GIVEN a restore WHEN a caller of the old generation writes the restored item, progress, watermark or outbox THEN each is refused and nothing lands', async () => {
        const { store, op, after } = await restored();
        // Same revision as the restored item: only the generation tells them apart.
        const stale = { ...after, accumulator: 99, revision: 6 };
        expect(await refused(store.write(op, [[put(stale, 5)]], 0))).toBe(true);
        expect(
          await refused(
            store.write(
              op,
              [[put(stale, 5), put(windowItem({ key: 'k', start: 10, end: 20 }), null)]],
              0,
            ),
          ),
        ).toBe(true);
        await expect(
          store.writeShardProgress(
            op,
            {
              shardId: shard0,
              committed: OFFSET_BIG,
              watermark: 9000,
              lastActivity: 2,
              closed: false,
            },
            0,
          ),
        ).rejects.toBeInstanceOf(FencedError);
        await expect(store.advanceWatermark(op, 9000, 0)).rejects.toBeInstanceOf(FencedError);
        expect(
          await refused(
            store.ackOutbox(op, [{ key: 'k', start: 0, end: 10, generation: 0, version: 1 }], 0),
          ),
        ).toBe(true);
        await expect(store.getWindows(op, [after], 0)).rejects.toBeInstanceOf(FencedError);
        const progress = await store.readProgress(op);
        expect(progress.watermark).toBe(1000);
        expect(progress.shards.map((p) => p.committed)).toEqual([OFFSET_1]);
        expect(await store.getWindows(op, [after, { key: 'k', start: 10, end: 20 }], 1)).toEqual([
          after,
          undefined,
        ]);
      });

      it('GIVEN a restore WHEN a caller of the old generation creates an item or a shard the restore never wrote THEN the new generation does not see it and may create it', async () => {
        const { store, op } = await restored();
        const ghost = windowItem({ key: 'ghost', start: 0, end: 10 });
        await store.write(op, [[put(ghost, null)]], 0).catch(() => undefined);
        await store
          .writeShardProgress(
            op,
            { shardId: shard7, committed: OFFSET_1, watermark: 5, lastActivity: 1, closed: false },
            0,
          )
          .catch(() => undefined);
        expect(await store.getWindows(op, [ghost], 1)).toEqual([undefined]);
        expect((await store.listKeyWindows(op, ['ghost'], 1)).get('ghost')).toEqual([]);
        expect(await store.listDue(op, 1e12, 10, 1)).toEqual([
          windowItem({ key: 'k', start: 0, end: 10, revision: 5, accumulator: 4 }),
        ]);
        expect((await store.readProgress(op)).shards.map((p) => p.shardId)).toEqual([shard0]);
        const fresh = { ...ghost, accumulator: 2 };
        expect(await store.write(op, [[put(fresh, null)]], 1)).toEqual([true]);
        expect(await store.getWindows(op, [ghost], 1)).toEqual([fresh]);
        expect(
          await store.writeShardProgress(
            op,
            { shardId: shard7, committed: null, watermark: null, lastActivity: 3, closed: false },
            1,
          ),
        ).toBe(true);
      });

      it('GIVEN a session head written before a restore WHEN the new generation reads it THEN it is 0 and a group conditioned on 0 applies; the old generation is refused', async () => {
        const { store, op } = await setup();
        const head = (expectedVersion: number): WindowWrite => ({
          kind: 'head',
          key: 'h',
          expectedVersion,
        });
        const s0 = windowItem({ key: 'h', start: 0, end: 10 });
        expect(await store.write(op, [[put(s0, null), head(0)]], 0)).toEqual([true]);
        const g = await store.raiseGeneration(op);
        await store.clearState(op, g);
        expect(await store.readSessionHeads(op, ['h'], g)).toEqual([0]);
        const s1 = windowItem({ key: 'h', start: 0, end: 20 });
        expect(await store.write(op, [[put(s1, null), head(0)]], g)).toEqual([true]);
        expect(await store.readSessionHeads(op, ['h'], g)).toEqual([1]);
        expect(await refused(store.readSessionHeads(op, ['h'], 0))).toBe(true);
        expect(await refused(store.write(op, [[put(s0, null), head(1)]], 0))).toBe(true);
        expect((await store.listKeyWindows(op, ['h'], g)).get('h')).toEqual([s1]);
      });

      it('GIVEN a restore WHEN scanned under the new generation THEN only the restored items come back', async () => {
        const { store, op, after } = await restored();
        await store
          .write(op, [[put(windowItem({ key: 'ghost', start: 0, end: 10 }), null)]], 0)
          .catch(() => undefined);
        const seen: WindowItem[] = [];
        let cursor: string | null = null;
        do {
          const page = await store.scanWindows(op, {
            segment: 0,
            totalSegments: 1,
            cursor,
            limit: 10,
            generation: 1,
          });
          seen.push(...page.items);
          cursor = page.cursor;
        } while (cursor !== null);
        expect(seen).toEqual([after]);
      });

      it('GIVEN fired and unfired windows WHEN the generation is raised THEN a scan of every generation finds the fired ones of the replaced state until the clear', async () => {
        const { store, op } = await setup();
        await store.write(
          op,
          [
            [
              put(
                windowItem({
                  key: 'k1',
                  start: 0,
                  end: 10,
                  firedVersion: 2,
                  purged: true,
                  pending: false,
                  accumulator: null,
                }),
                null,
              ),
            ],
            [put(windowItem({ key: 'k2', start: 0, end: 10 }), null)],
            [
              put(
                windowItem({ key: 'k3', start: 10, end: 20, firedVersion: 1, pending: false }),
                null,
              ),
            ],
          ],
          0,
        );
        const g = await store.raiseGeneration(op);
        const fired = await collectFiredWindows(store, op, { segments: 2, pageSize: 1 });
        expect(fired.windows()).toEqual([
          { key: 'k1', start: 0, end: 10, firedVersion: 2 },
          { key: 'k3', start: 10, end: 20, firedVersion: 1 },
        ]);
        await store.clearState(op, g);
        expect((await collectFiredWindows(store, op)).size).toBe(0);
      });

      it('GIVEN the new generation WHEN it writes, fires and acknowledges THEN everything applies as before a restore', async () => {
        const { store, op, after } = await restored();
        const fired = {
          ...after,
          pending: false,
          firedVersion: 1,
          revision: 6,
          outbox: { generation: 1, version: 1, value: 4, supersedes: [], firedAt: 7 },
        };
        expect(await store.write(op, [[put(fired, 5)]], 1)).toEqual([true]);
        expect(await store.listOutbox(op, 10, 1)).toEqual([fired]);
        // An ack of another generation's result does not clear it.
        expect(
          await store.ackOutbox(
            op,
            [{ key: 'k', start: 0, end: 10, generation: 0, version: 1 }],
            1,
          ),
        ).toEqual([false]);
        expect(
          await store.ackOutbox(
            op,
            [{ key: 'k', start: 0, end: 10, generation: 1, version: 1 }],
            1,
          ),
        ).toEqual([true]);
        expect(await store.listOutbox(op, 10, 1)).toEqual([]);
        expect(await store.advanceWatermark(op, 3000, 1)).toBe(3000);
      });

      it('GIVEN two restores WHEN the older one loads its items THEN it is fenced', async () => {
        const { store, op } = await setup();
        const g1 = await store.raiseGeneration(op);
        const g2 = await store.raiseGeneration(op);
        expect(g2).toBe(g1 + 1);
        await expect(
          store.loadWindows(op, [windowItem({ key: 'k', start: 0, end: 10 })], g1),
        ).rejects.toBeInstanceOf(FencedError);
        await expect(
          store.resetProgress(op, { watermark: null, shards: [] }, g1),
        ).rejects.toBeInstanceOf(FencedError);
        expect((await store.readProgress(op)).generation).toBe(g2);
      });
    });

    describe('tombstones', () => {
      it('GIVEN an open item WHEN purged to a tombstone THEN it keeps bounds, absorbed and firedVersion, and a create over it fails', async () => {
        const { store, op } = await setup();
        const item = windowItem({
          key: 'k',
          start: 0,
          end: 10,
          pending: false,
          firedVersion: 3,
          revision: 5,
        });
        await store.write(op, [[put(item, null)]], 0);
        const tomb = { ...item, accumulator: null, purged: true, revision: 6 };
        expect(await store.write(op, [[put(tomb, 5)]], 0)).toEqual([true]);
        expect(await store.getWindows(op, [item], 0)).toEqual([tomb]);
        expect((await store.listKeyWindows(op, ['k'], 0)).get('k')).toEqual([tomb]);
        expect(await store.write(op, [[put(item, null)]], 0)).toEqual([false]);
        expect(await store.listExpired(op, 1e12, 10, 0)).toEqual([]);
        expect(await store.listDue(op, 1e12, 10, 0)).toEqual([]);
      });
    });
  });
}
