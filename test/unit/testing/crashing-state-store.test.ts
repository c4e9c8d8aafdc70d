/** The scripted crash wrapper that replaced the crash hooks inside InMemoryStateStore. */
import { describe, expect, it } from 'vitest';
import { InMemoryStateStore, shardId as toShardId } from '../../../lib/index.ts';
import type { WindowItem, WindowWrite } from '../../../lib/ports/state-store.ts';
import { CrashingStateStore, InjectedCrashError } from '../../../lib/testing/index.ts';

const item = (key: string, pending: boolean): WindowItem => ({
  key,
  start: 0,
  end: 10,
  accumulator: 1,
  absorbed: { 'shardId-000000000000': '1' },
  firedVersion: 0,
  pending,
  cleanupAt: 9,
  revision: 1,
  purged: false,
  supersedes: [],
  outbox: null,
});
const put = (key: string, pending = true): WindowWrite[] => [
  { kind: 'put', item: item(key, pending), expectedRevision: null },
];
const progress = (committed: string) => ({
  shardId: toShardId('shardId-000000000000'),
  committed,
  watermark: 0,
  lastActivity: 0,
  closed: false,
});

describe('CrashingStateStore', () => {
  it('GIVEN crashDuringNextStateUpdate(1) WHEN three content groups are written THEN one is applied, then InjectedCrashError', async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    crashing.crashDuringNextStateUpdate(1);
    await expect(crashing.write('op', [put('a'), put('b'), put('c')], 0)).rejects.toThrow(
      InjectedCrashError,
    );
    expect(store.allItems('op').map((i) => i.key)).toEqual(['a']);
    // Used up: the next write goes through.
    expect(await crashing.write('op', [put('d')], 0)).toEqual([true]);
  });

  it('GIVEN an armed crash THEN writes without window content (firings, purges) do not trigger it, and a write with no more groups than armed uses it up', async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    crashing.crashDuringNextStateUpdate(1);
    expect(await crashing.write('op', [put('x', false)], 0)).toEqual([true]);
    expect(await crashing.write('op', [put('a')], 0)).toEqual([true]);
    expect(await crashing.write('op', [put('b'), put('c')], 0)).toEqual([true, true]);
    crashing.crashDuringNextStateUpdate(0);
    await expect(crashing.write('op', [put('e')], 0)).rejects.toThrow('injected crash');
    expect(store.allItems('op').map((i) => i.key)).not.toContain('e');
  });

  it('GIVEN crashOnNextProgressWrite(1) THEN the second progress write fails without writing; disarm cancels', async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    crashing.crashOnNextProgressWrite(1);
    expect(await crashing.writeShardProgress('op', progress('1'), 0)).toBe(true);
    await expect(crashing.writeShardProgress('op', progress('2'), 0)).rejects.toThrow(
      /injected crash before the progress write/,
    );
    expect((await store.readProgress('op')).shards[0]?.committed).toBe('1');
    crashing.crashOnNextProgressWrite();
    crashing.disarm();
    expect(await crashing.writeShardProgress('op', progress('2'), 0)).toBe(true);
  });
});
