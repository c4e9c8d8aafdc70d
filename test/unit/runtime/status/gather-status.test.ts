/**
 * gatherStatus over the in-memory state store (counted by scanning) and
 * hand-written fakes of the shard directory and the lag reader.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryStateStore } from '../../../../lib/adapters/memory/in-memory-state-store.ts';
import { ScanningWindowCounter } from '../../../../lib/adapters/memory/scanning-window-counter.ts';
import { encodeOffset, position, shardId } from '../../../../lib/model/position.ts';
import { ManualClock } from '../../../../lib/ports/clock.ts';
import type { ShardLag, ShardLagReader } from '../../../../lib/ports/operator-status.ts';
import type { ShardInfo } from '../../../../lib/ports/shard-directory.ts';
import type { WindowItem } from '../../../../lib/ports/state-store.ts';
import { gatherStatus, type StatusSources } from '../../../../lib/runtime/status/index.ts';

const NOW = Date.UTC(2026, 11, 1, 4, 0, 0);
const SEQ = '49590338271490256608559692538361571095921575989136588898';
const OP = 'clicks';

class FakeLag implements ShardLagReader {
  readonly calls: Array<[string, string | null]> = [];
  constructor(private readonly answers: Record<string, ShardLag | Error>) {}
  lagAfter(id: string, committed: string | null): Promise<ShardLag> {
    this.calls.push([id, committed]);
    const a = this.answers[id] ?? { records: 0, exact: true, millis: 0, ended: false };
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  }
}

function item(key: string, start: number, over: Partial<WindowItem> = {}): WindowItem {
  return {
    key,
    start,
    end: start + 60_000,
    accumulator: 1,
    absorbed: {},
    firedVersion: 0,
    pending: true,
    cleanupAt: start + 90_000,
    revision: 1,
    purged: false,
    supersedes: [],
    outbox: null,
    ...over,
  };
}

async function scenario(): Promise<{ store: InMemoryStateStore; infos: ShardInfo[] }> {
  const store = new InMemoryStateStore();
  const progress = (id: string, lastActivity: number, closed = false) =>
    store.writeShardProgress(
      OP,
      {
        shardId: shardId(id),
        committed: encodeOffset(position(id, SEQ, id === 'shard-open' ? 3 : 0)),
        watermark: NOW - 120_000,
        lastActivity,
        closed,
      },
      0,
    );
  await progress('shard-open', NOW - 1_000);
  await progress('shard-idle', NOW - 61_000);
  await progress('shard-parent', NOW - 1_000);
  await progress('shard-retired', NOW - 500_000, true);
  await progress('shard-trimmed', NOW - 900_000);
  // A range weir redrive applied: its own source, closed, never a shard.
  await progress(`redrive:shard-open:${SEQ}`, NOW - 30_000, true);
  await store.advanceWatermark(OP, NOW - 120_000, 0);
  const w = NOW - 120_000;
  await store.write(
    OP,
    [
      [
        // due: pending and end - 1 <= watermark
        { kind: 'put', item: item('a', w - 60_000), expectedRevision: null },
        // pending, not yet due
        { kind: 'put', item: item('b', w), expectedRevision: null },
        // fired, kept for lateness, its result still in the outbox
        {
          kind: 'put',
          item: item('c', w - 120_000, {
            pending: false,
            firedVersion: 1,
            outbox: { generation: 0, version: 1, value: 1, supersedes: [], firedAt: NOW },
          }),
          expectedRevision: null,
        },
        // purged tombstone: counts nowhere
        {
          kind: 'put',
          item: item('d', w - 600_000, { pending: false, purged: true, accumulator: null }),
          expectedRevision: null,
        },
      ],
    ],
    0,
  );
  const infos: ShardInfo[] = [
    { shardId: shardId('shard-open'), closed: false },
    { shardId: shardId('shard-idle'), closed: false },
    { shardId: shardId('shard-parent'), closed: true },
    { shardId: shardId('shard-retired'), closed: true },
    { shardId: shardId('shard-new'), closed: false, parentShardId: 'shard-parent' },
  ];
  return { store, infos };
}

function sources(
  store: InMemoryStateStore,
  infos: ShardInfo[],
  lag: ShardLagReader,
): StatusSources {
  return {
    progress: store,
    windows: new ScanningWindowCounter(store),
    shards: { listShards: () => Promise.resolve(infos) },
    lag,
    clock: new ManualClock(NOW),
  };
}

const OPTIONS = { operator: OP, stream: 's', table: 't', idleTimeoutMs: 60_000 };

describe('gatherStatus', () => {
  it('GIVEN shards in every state WHEN gathered THEN each gets its state, position, lag and watermark', async () => {
    const { store, infos } = await scenario();
    const lag = new FakeLag({
      'shard-open': { records: 7, exact: true, millis: 1500, ended: false },
      'shard-idle': new Error('throttled'),
      'shard-parent': { records: 1000, exact: false, millis: 9000, ended: false },
    });
    const status = await gatherStatus(sources(store, infos, lag), OPTIONS);

    expect(status.schema).toBe('weir.status/1');
    expect(status.at).toBe(NOW);
    expect(status.watermark).toBe(NOW - 120_000);
    expect(status.windows).toEqual({ open: 3, pending: 2, due: 1, outbox: 1, exact: true });
    expect(status.errors).toEqual([]);
    const by = Object.fromEntries(status.shards.map((s) => [s.shardId, s]));
    expect(status.shards.map((s) => s.shardId)).toEqual([
      'shard-idle',
      'shard-new',
      'shard-open',
      'shard-parent',
      'shard-retired',
      'shard-trimmed',
    ]);
    expect(by['shard-open']).toEqual({
      shardId: 'shard-open',
      state: 'open',
      registered: true,
      inStream: true,
      parentShardId: null,
      adjacentParentShardId: null,
      committed: { sequenceNumber: SEQ, subSequenceNumber: 3 },
      watermark: NOW - 120_000,
      lastActivity: NOW - 1_000,
      behind: { records: 7, exact: true, millis: 1500 },
      error: null,
    });
    expect(by['shard-idle']?.state).toBe('idle');
    expect(by['shard-idle']?.behind).toBeNull();
    expect(by['shard-idle']?.error).toBe('Error: throttled');
    expect(by['shard-parent']?.state).toBe('closing');
    expect(by['shard-parent']?.behind).toEqual({ records: 1000, exact: false, millis: 9000 });
    expect(by['shard-retired']?.state).toBe('closed');
    expect(by['shard-retired']?.behind).toBeNull();
    expect(by['shard-new']).toMatchObject({
      state: 'open',
      registered: false,
      committed: null,
      lastActivity: null,
      parentShardId: 'shard-parent',
      behind: { records: 0, exact: true, millis: 0 },
    });
    expect(by['shard-trimmed']).toMatchObject({ state: 'closing', inStream: false, behind: null });
    // Retired and trimmed shards are not read; the others from their committed sequence number.
    expect(lag.calls.map(([id]) => id).sort()).toEqual([
      'shard-idle',
      'shard-new',
      'shard-open',
      'shard-parent',
    ]);
    expect(lag.calls.find(([id]) => id === 'shard-open')?.[1]).toBe(SEQ);
    expect(lag.calls.find(([id]) => id === 'shard-new')?.[1]).toBeNull();
    expect(status.redriven).toEqual([
      {
        source: `redrive:shard-open:${SEQ}`,
        shardId: 'shard-open',
        startSequenceNumber: SEQ,
        committed: { sequenceNumber: SEQ, subSequenceNumber: 0 },
        done: true,
        at: NOW - 30_000,
      },
    ]);
  });

  it('the idle timeout decides open vs idle, as the runtime judges activity', async () => {
    const { store, infos } = await scenario();
    const status = await gatherStatus(sources(store, infos, new FakeLag({})), {
      ...OPTIONS,
      idleTimeoutMs: 120_000,
    });
    expect(status.shards.find((s) => s.shardId === 'shard-idle')?.state).toBe('open');
  });

  it('a failing window count is reported, the rest of the look stands', async () => {
    const { store, infos } = await scenario();
    const s = {
      ...sources(store, infos, new FakeLag({})),
      windows: { countWindows: () => Promise.reject(new Error('index missing')) },
    };
    const status = await gatherStatus(s, OPTIONS);
    expect(status.windows).toBeNull();
    expect(status.errors).toEqual(['window counts: Error: index missing']);
    expect(status.shards).toHaveLength(6);
  });

  it('an unreadable progress fails the look', async () => {
    const { store, infos } = await scenario();
    const s = {
      ...sources(store, infos, new FakeLag({})),
      progress: { readProgress: () => Promise.reject(new Error('ResourceNotFoundException')) },
    };
    await expect(gatherStatus(s, OPTIONS)).rejects.toThrow('ResourceNotFoundException');
  });

  it('no watermark yet: nothing is due', async () => {
    const store = new InMemoryStateStore();
    await store.write(OP, [[{ kind: 'put', item: item('a', 0), expectedRevision: null }]], 0);
    const status = await gatherStatus(sources(store, [], new FakeLag({})), OPTIONS);
    expect(status.watermark).toBeNull();
    expect(status.windows).toEqual({ open: 1, pending: 1, due: 0, outbox: 0, exact: true });
    expect(status.shards).toEqual([]);
  });
});
