/**
 * The replay plan and scheduler of `weir restore` (lib/runtime/restore/replay.ts)
 * with a hand-written source and target: where each shard starts (AT the
 * committed record, TRIM_HORIZON for shards created since, `redrive:`
 * sources never read), children only after all their parents are read to
 * their end, bounded concurrency, chunking, retries of a failed chunk, and a
 * shard the stream no longer lists.
 */
import { describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import { ReplayGapError } from '../../../lib/errors.ts';
import type { CheckpointManifest } from '../../../lib/model/checkpoint.ts';
import { encodeOffset, shardId } from '../../../lib/model/position.ts';
import type { StreamRecordInput } from '../../../lib/runtime/local/esm/kinesis-event.ts';
import type { BatchReport } from '../../../lib/runtime/operator-runtime.ts';
import {
  ReplayBatchError,
  planReplay,
  replayShards,
  type ReplayShardInfo,
  type ReplaySource,
  type ReplayStart,
} from '../../../lib/runtime/restore/replay.ts';

const off = (seq: number): string =>
  encodeOffset({ sequenceNumber: String(seq) as never, subSequenceNumber: 0 });

function manifest(shards: { id: string; committed: string | null; closed?: boolean }[]) {
  return {
    streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    progress: {
      watermark: 0,
      shards: shards.map((s) => ({
        shardId: shardId(s.id),
        committed: s.committed,
        watermark: null,
        lastActivity: 0,
        closed: s.closed ?? false,
      })),
    },
  } as unknown as CheckpointManifest;
}

const shard = (id: string, parents: string[] = [], closed = false): ReplayShardInfo => ({
  shardId: id,
  parents,
  closed,
});

/** A source whose shards hold `n` records each; logs reads as they start and end. */
function fakeSource(records: Record<string, number>, log: string[]): ReplaySource {
  return {
    streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    shards: () => Promise.resolve(Object.keys(records).map((id) => shard(id))),
    checkRetained: () => Promise.resolve(),
    async *read(id: string, _start: ReplayStart): AsyncIterable<readonly StreamRecordInput[]> {
      log.push(`start ${id}`);
      const all = Array.from({ length: records[id] ?? 0 }, (_, i) => ({
        SequenceNumber: String(i + 1),
        PartitionKey: 'p',
        Data: new Uint8Array(0),
        ApproximateArrivalTimestamp: new Date(0),
      }));
      for (let i = 0; i < all.length; i += 4) {
        await new Promise((r) => setTimeout(r, 1));
        yield all.slice(i, i + 4);
      }
      log.push(`end ${id}`);
    },
  };
}

function target(failFirst = 0) {
  const calls: { shard: string; n: number }[] = [];
  let running = 0;
  let maxRunning = 0;
  let fails = failFirst;
  return {
    calls,
    maxRunning: () => maxRunning,
    async handle(event: KinesisStreamEvent) {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 1));
      running -= 1;
      const id = event.Records[0]!.eventID.split(':')[0]!;
      calls.push({ shard: id, n: event.Records.length });
      const report = {
        shardId: shardId(id),
        counts: {
          received: event.Records.length,
          inState: event.Records.length,
          late: 0,
          deadLettered: 0,
          skippedCommitted: 0,
          filtered: 0,
        },
        kplDeadLettered: 0,
        results: 0,
      } as unknown as BatchReport;
      if (fails > 0) {
        fails -= 1;
        return { batchItemFailures: [{ itemIdentifier: '1' }], reports: [] };
      }
      return { batchItemFailures: [], reports: [report] };
    },
  };
}

describe('planReplay', () => {
  it('GIVEN manifest and listed shards WHEN planned THEN committed shards start AT their record, others at TRIM_HORIZON, redrive sources are skipped, parents are waited for', () => {
    const plan = planReplay(
      manifest([
        { id: 'shardId-0', committed: off(42), closed: true },
        { id: 'shardId-1', committed: null },
        { id: 'redrive:shardId-0:7', committed: off(9), closed: true },
      ]),
      [shard('shardId-0', [], true), shard('shardId-1'), shard('shardId-2', ['shardId-0', 'gone'])],
    );
    expect(plan).toEqual([
      {
        shardId: 'shardId-0',
        start: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '42' },
        waitsFor: [],
      },
      { shardId: 'shardId-1', start: { type: 'TRIM_HORIZON' }, waitsFor: [] },
      { shardId: 'shardId-2', start: { type: 'TRIM_HORIZON' }, waitsFor: ['shardId-0'] },
    ]);
  });

  it('GIVEN an open shard of the checkpoint the stream no longer lists WHEN planned THEN ReplayGapError names it', () => {
    expect(() =>
      planReplay(manifest([{ id: 'shardId-9', committed: off(5) }]), [shard('shardId-0')]),
    ).toThrow(ReplayGapError);
    expect(() =>
      planReplay(manifest([{ id: 'shardId-9', committed: off(5), closed: true }]), [
        shard('shardId-0'),
      ]),
    ).not.toThrow();
  });
});

describe('replayShards', () => {
  it('GIVEN a split and a merge WHEN replayed THEN every child starts after all its parents ended, at most `concurrency` run, chunks are cut', async () => {
    const log: string[] = [];
    const source = fakeSource({ a: 10, b: 6, c: 3, d: 5, e: 9 }, log);
    const t = target();
    const out = await replayShards({
      source,
      target: t,
      plan: [
        { shardId: 'a', start: { type: 'TRIM_HORIZON' }, waitsFor: [] },
        { shardId: 'b', start: { type: 'TRIM_HORIZON' }, waitsFor: [] },
        { shardId: 'c', start: { type: 'TRIM_HORIZON' }, waitsFor: ['a'] },
        { shardId: 'd', start: { type: 'TRIM_HORIZON' }, waitsFor: ['a'] },
        { shardId: 'e', start: { type: 'TRIM_HORIZON' }, waitsFor: ['c', 'b'] },
      ],
      concurrency: 2,
      chunkRecords: 3,
    });
    expect(out).toMatchObject({ records: 33, inState: 33, shards: 5 });
    const at = (s: string) => log.indexOf(s);
    expect(at('start c')).toBeGreaterThan(at('end a'));
    expect(at('start d')).toBeGreaterThan(at('end a'));
    expect(at('start e')).toBeGreaterThan(Math.max(at('end c'), at('end b')));
    expect(t.maxRunning()).toBeLessThanOrEqual(2);
    expect(Math.max(...t.calls.map((c) => c.n))).toBe(3);
  });

  it('GIVEN a chunk the runtime fails twice WHEN replayed THEN it is handed again and applied; failing every attempt THEN ReplayBatchError names the shard', async () => {
    const plan = [{ shardId: 'a', start: { type: 'TRIM_HORIZON' as const }, waitsFor: [] }];
    const ok = await replayShards({ source: fakeSource({ a: 2 }, []), target: target(2), plan });
    expect(ok.records).toBe(2);
    await expect(
      replayShards({ source: fakeSource({ a: 2 }, []), target: target(5), plan, attempts: 3 }),
    ).rejects.toThrow(ReplayBatchError);
  });
});
