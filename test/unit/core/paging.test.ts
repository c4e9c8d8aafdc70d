/**
 * Firing, purging and the outbox listing go through the store a page of
 * windows at a time (WindowOperatorDeps.pageSize). A batch that closes more
 * windows than a page takes several rounds; the outcome must not depend on
 * the page size.
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryStateStore,
  count,
  createWindowOperator,
  json,
  pipeline,
  tumbling,
  position,
  shardId,
  ConfigError,
  ManualClock,
  type SourceRecord,
  type WindowResult,
} from '../../../lib/index.ts';
import { FIRST_SEQUENCE_NUMBER } from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
}

const SHARD = shardId('shardId-000000000000');
const definition = pipeline('op')
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t)
  .window(tumbling(10))
  .allowedLateness(5)
  .aggregate(count());

/** 40 keys x 3 windows, then one record far ahead: every window fires and is purged in the second batch. */
function batches(): SourceRecord[][] {
  const encoder = new TextEncoder();
  let seq = FIRST_SEQUENCE_NUMBER;
  const record = (e: Ev): SourceRecord => {
    seq += 1_000_000_000_000n;
    return {
      position: position(SHARD, seq.toString()),
      data: encoder.encode(JSON.stringify(e)),
      partitionKey: 'pk',
    };
  };
  const first: SourceRecord[] = [];
  for (let w = 0; w < 3; w++)
    for (let k = 0; k < 40; k++)
      for (let r = 0; r <= k % 3; r++) first.push(record({ k: `k${k}`, t: w * 10 + r }));
  return [first, [record({ k: 'k0', t: 1000 })]];
}

async function run(pageSize?: number) {
  const store = new InMemoryStateStore();
  const op = createWindowOperator(definition, {
    store,
    clock: new ManualClock(0),
    ...(pageSize === undefined ? {} : { pageSize }),
  });
  const results: WindowResult<number>[] = [];
  for (const b of batches()) results.push(...(await op.processBatch(SHARD, b)).results);
  const pending = await op.pendingResults(1000);
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    results: [...results].sort(byId),
    pending: pending.length,
    open: store.openWindowCount('op'),
    tombstones: store.allItems('op').filter((i) => i.purged).length,
  };
}

describe('paging of firing and purging (pageSize)', () => {
  it('GIVEN more closed windows than a page WHEN a batch fires them THEN every page size gives the same results, purges and outbox', async () => {
    const reference = await run();
    expect(reference.results).toHaveLength(120);
    expect(reference).toMatchObject({ pending: 120, open: 1, tombstones: 120 });
    for (const pageSize of [1, 7, 119, 120]) {
      expect(await run(pageSize)).toEqual(reference);
    }
  });

  it('GIVEN a page size that is not an integer 1..100000 WHEN the operator is created THEN a ConfigError names it', () => {
    for (const pageSize of [0, 1.5, 100_001, Number.NaN]) {
      expect(() =>
        createWindowOperator(definition, {
          store: new InMemoryStateStore(),
          clock: new ManualClock(0),
          pageSize,
        }),
      ).toThrow(ConfigError);
    }
    expect(() =>
      createWindowOperator(definition, {
        store: new InMemoryStateStore(),
        clock: new ManualClock(0),
        pageSize: 0,
      }),
    ).toThrow('pageSize must be an integer 1..100000 (windows per store query) (given 0)');
  });
});
