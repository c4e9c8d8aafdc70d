/** The CheckpointStore contract against the in-memory adapter, plus what only it can show. */
import { describe, expect, it } from 'vitest';
import { InMemoryCheckpointStore } from '../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import { describeCheckpointStoreContract } from './checkpoint-store.contract.ts';

describeCheckpointStoreContract('InMemoryCheckpointStore', () => {
  const store = new InMemoryCheckpointStore();
  return Promise.resolve({
    store,
    read: (key) => Promise.resolve(store.objects.read(key)),
    write: (key, body) => Promise.resolve(store.objects.write(key, body)),
    remove: (key) => store.objects.delete(key),
  });
});

describe('InMemoryCheckpointStore', () => {
  it('GIVEN a complete checkpoint WHEN deleted THEN the manifest goes first, the marker next, the parts last', async () => {
    const store = new InMemoryCheckpointStore({ prefix: 'p' });
    const id = '0001767225600000-0000abcd';
    const part = await store.writePart({
      operator: 'op',
      checkpointId: id,
      index: 0,
      segment: 0,
      lines: ['{}'],
    });
    await store.commit({
      format: 'weir.checkpoint/1',
      operator: 'op',
      streamArn: 'arn',
      id,
      previousId: null,
      startedAt: 1,
      completedAt: 2,
      progress: { watermark: null, shards: [] },
      totalSegments: 1,
      items: 1,
      bytes: part.bytes,
      parts: [part],
    });
    expect(store.objects.keys()).toEqual([
      `p/op/checkpoints/${id}/manifest.json`,
      `p/op/checkpoints/${id}/part-00000.ndjson.gz`,
    ]);
    store.objects.deleted.length = 0;
    await store.delete('op', id);
    expect(store.objects.deleted).toEqual([
      `p/op/checkpoints/${id}/manifest.json`,
      `p/op/checkpoints/${id}/in-progress.json`,
      `p/op/checkpoints/${id}/part-00000.ndjson.gz`,
    ]);
    expect(store.objects.keys()).toEqual([]);
  });
});
