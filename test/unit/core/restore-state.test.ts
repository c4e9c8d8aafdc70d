/** restoreState: the state half of a restore, over the in-memory ports. */
import { describe, expect, it } from 'vitest';
import { InMemoryCheckpointStore } from '../../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import { InMemoryStateStore } from '../../../lib/adapters/memory/index.ts';
import {
  CheckpointTaker,
  restoreState,
  withReplayStarts,
} from '../../../lib/core/checkpoint/index.ts';
import { CheckpointError, ConfigError } from '../../../lib/errors.ts';
import { shardId } from '../../../lib/model/position.ts';
import type { CheckpointManifest } from '../../../lib/model/checkpoint.ts';
import { ManualClock } from '../../../lib/ports/clock.ts';
import type { WindowItem } from '../../../lib/ports/state-store.ts';

const OP = 'rs';
const S0 = shardId('shardId-000000000000');
const S1 = shardId('shardId-000000000001');
const off = (n: number): string => `${String(n).padStart(128, '0')}.${'0'.padStart(10, '0')}`;

function item(i: number, accumulator = i): WindowItem {
  return {
    key: `k${i}`,
    start: 0,
    end: 100,
    accumulator,
    absorbed: { [S0]: off(i) },
    firedVersion: 0,
    pending: true,
    cleanupAt: 99,
    revision: 1,
    purged: false,
    supersedes: [],
    outbox: null,
  };
}

/** A store with `n` items and two shards' progress, and a complete checkpoint of it. */
async function checkpointed(n: number): Promise<{
  state: InMemoryStateStore;
  checkpoints: InMemoryCheckpointStore;
  manifest: CheckpointManifest;
}> {
  const state = new InMemoryStateStore();
  await state.write(
    OP,
    Array.from({ length: n }, (_, i) => [{ kind: 'put', item: item(i), expectedRevision: null }]),
    0,
  );
  await state.writeShardProgress(
    OP,
    { shardId: S0, committed: off(5), watermark: 50, lastActivity: 1, closed: false },
    0,
  );
  await state.writeShardProgress(
    OP,
    { shardId: S1, committed: null, watermark: null, lastActivity: 1, closed: false },
    0,
  );
  await state.advanceWatermark(OP, 40, 0);
  const checkpoints = new InMemoryCheckpointStore();
  const run = await new CheckpointTaker({
    state,
    checkpoints,
    clock: new ManualClock(1_767_225_660_000),
    operator: OP,
    streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    totalSegments: 2,
    partMaxItems: 3,
  }).take();
  if (run.status !== 'complete') throw new Error('expected a complete checkpoint');
  return { state, checkpoints, manifest: run.manifest };
}

describe('restoreState', () => {
  it('GIVEN a checkpoint and state that moved on WHEN restored THEN items, progress and watermark are the checkpoint’s under generation 1', async () => {
    const { state, checkpoints, manifest } = await checkpointed(7);
    const before = state.allItems(OP);
    // The state moves on: an item changes, one appears, progress and watermark advance.
    await state.write(
      OP,
      [
        [{ kind: 'put', item: { ...item(0, 99), revision: 2 }, expectedRevision: 1 }],
        [{ kind: 'put', item: item(50), expectedRevision: null }],
      ],
      0,
    );
    await state.writeShardProgress(
      OP,
      { shardId: S0, committed: off(9), watermark: 90, lastActivity: 2, closed: false },
      0,
    );
    await state.advanceWatermark(OP, 80, 0);
    const loaded: number[] = [];
    const restored = await restoreState({
      state,
      checkpoints,
      operator: OP,
      checkpoint: 'latest',
      batchSize: 2,
      onItems: (n) => loaded.push(n),
    });
    expect(restored).toMatchObject({ generation: 1, windows: 7, shards: 2, cleared: 10 });
    expect(restored.manifest.id).toBe(manifest.id);
    expect(loaded).toEqual([2, 4, 6, 7]);
    const byKey = (a: WindowItem, b: WindowItem): number => (a.key < b.key ? -1 : 1);
    expect(state.allItems(OP).sort(byKey)).toEqual(before.sort(byKey));
    // The manifest's positions, each with the span its replay starts (replay-spans.ts).
    expect(await state.readProgress(OP)).toEqual({
      ...withReplayStarts(manifest.progress),
      generation: 1,
    });
  });

  it('GIVEN a corrupt part WHEN restored THEN CheckpointError names it and the state is untouched', async () => {
    const { state, checkpoints, manifest } = await checkpointed(7);
    const bad = manifest.parts[1] as CheckpointManifest['parts'][number];
    const key = checkpoints.keyOf(OP, manifest.id, bad.name);
    const bytes = checkpoints.objects.read(key) as Uint8Array;
    bytes[10] = (bytes[10] as number) ^ 0xff;
    checkpoints.objects.write(key, bytes);
    const items = state.allItems(OP);
    const e: unknown = await restoreState({
      state,
      checkpoints,
      operator: OP,
      checkpoint: manifest.id,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).part).toBe(bad.name);
    expect((await state.readProgress(OP)).generation).toBe(0);
    expect(state.allItems(OP)).toEqual(items);
  });

  it('GIVEN no checkpoint or a bad batch size WHEN restored THEN it fails before touching the state', async () => {
    const state = new InMemoryStateStore();
    const checkpoints = new InMemoryCheckpointStore();
    await expect(
      restoreState({ state, checkpoints, operator: OP, checkpoint: 'latest' }),
    ).rejects.toBeInstanceOf(CheckpointError);
    await expect(
      restoreState({ state, checkpoints, operator: OP, checkpoint: 'latest', batchSize: 0 }),
    ).rejects.toBeInstanceOf(ConfigError);
    expect((await state.readProgress(OP)).generation).toBe(0);
  });
});
