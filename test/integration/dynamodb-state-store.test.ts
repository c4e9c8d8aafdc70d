/**
 * DynamoDbStateStore on the embedded AWS (DynamoDB Local), or LocalStack when
 * AWS_ENDPOINT_URL is set: the StateStore contract, then the window operator
 * run against it and against InMemoryStateStore with the same batches, which
 * must give the same results.
 *
 * The table is created from the demo stack's synthesized template (the
 * WeirOperator construct's definition: keys, the due/expiry/outbox GSIs, TTL),
 * so the adapter is tested against exactly what `cdk deploy` creates.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { InMemoryStateStore } from '../../lib/adapters/memory/in-memory-state-store.ts';
import { count, json, pipeline, session, sliding, sum, tumbling } from '../../lib/core/index.ts';
import type { WindowAssigner } from '../../lib/core/index.ts';
import type { StateStore } from '../../lib/ports/state-store.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { WindowOperatorHarness } from '../../lib/testing/index.ts';
import { describeStateStoreContract } from '../contract/state-store.contract.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();
let tableName = '';

beforeAll(async () => {
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), fx.clients.dynamodb, {
    stackName: uniqueName('StateStore'),
  });
  const state = tables.find((t) => t.globalSecondaryIndexes.includes('due'));
  if (state === undefined) throw new Error('the demo template has no state table');
  tableName = state.name;
});

const makeStore = (dueBuckets = 4): DynamoDbStateStore =>
  new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName, dueBuckets });

describe('the state table from the template', () => {
  it('GIVEN the provisioned table WHEN described THEN it has the three sparse KEYS_ONLY indexes', async () => {
    const d = await fx.clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const gsis = (d.Table?.GlobalSecondaryIndexes ?? []).map((g) => [
      g.IndexName,
      g.KeySchema?.map((k) => k.AttributeName),
      g.Projection?.ProjectionType,
    ]);
    expect(gsis.sort()).toEqual([
      ['due', ['dueBucket', 'dueAt'], 'KEYS_ONLY'],
      ['expiry', ['expiryBucket', 'cleanupAt'], 'KEYS_ONLY'],
      ['outbox', ['outboxBucket', 'outboxAt'], 'KEYS_ONLY'],
    ]);
  });
});

describeStateStoreContract('DynamoDbStateStore (1 bucket)', () => makeStore(1));
describeStateStoreContract(
  'DynamoDbStateStore (8 buckets, document client)',
  () => new DynamoDbStateStore({ client: fx.clients.documentClient, tableName }),
);

interface Ev {
  k: string;
  t: number;
  v?: number;
}

function harnesses(
  assigner: WindowAssigner,
  lateness: number,
  maxOutOfOrderness = 1000,
): [WindowOperatorHarness<Ev, unknown, unknown>, WindowOperatorHarness<Ev, unknown, unknown>] {
  const name = uniqueName('op').toLowerCase();
  const make = (store: StateStore) => {
    const d = pipeline(name)
      .decode(json<Ev>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t, { maxOutOfOrderness })
      .window(assigner)
      .allowedLateness(lateness)
      .sideOutputLateData('late')
      .aggregate(sum((e) => e.v ?? 1));
    return new WindowOperatorHarness(d, {
      startTime: 1_700_000_000_000,
      store,
    }) as unknown as WindowOperatorHarness<Ev, unknown, unknown>;
  };
  return [make(new InMemoryStateStore()), make(makeStore())];
}

/** Everything observable: results (with versions and supersedes), late records, counts, watermark. */
function observed(h: WindowOperatorHarness<Ev, unknown, unknown>): unknown {
  return {
    results: h.results
      .map((r) => ({ id: r.id, value: r.value, supersedes: r.supersedes }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    final: h.finalResults().map((r) => r.id),
    late: h.late.map((l) => [l.eventTime, l.reason]),
    counts: h.counts,
    watermark: h.watermark,
  };
}

/** The same steps against both harnesses. */
async function both(
  pair: readonly WindowOperatorHarness<Ev, unknown, unknown>[],
  step: (h: WindowOperatorHarness<Ev, unknown, unknown>) => Promise<unknown>,
): Promise<void> {
  for (const h of pair) await step(h);
}

describe('the window operator on DynamoDbStateStore', () => {
  const M = 60_000;

  it('GIVEN tumbling windows over batches of two shards, with a retried batch and a late update WHEN run THEN results equal InMemoryStateStore', async () => {
    const pair = harnesses(tumbling(M), M);
    const b1 = pair.map((h) =>
      h.records(0, [
        { k: 'a', t: 1000 },
        { k: 'b', t: 2000, v: 5 },
        { k: 'a', t: 59_000 },
        { k: 'c', t: -30_000 },
      ]),
    );
    const b2 = pair.map((h) =>
      h.records(1, [
        { k: 'a', t: 3000 },
        { k: 'b', t: 61_000 },
      ]),
    );
    const b3 = pair.map((h) =>
      h.records(0, [
        { k: 'a', t: 125_000 },
        { k: 'b', t: 30_000, v: 2 },
        { k: 'a', t: 62_000 },
      ]),
    );
    const b4 = pair.map((h) => h.records(1, [{ k: 'b', t: 200_000 }]));
    for (const [i, h] of pair.entries()) {
      await h.deliver(0, b1[i]!);
      await h.deliver(0, b1[i]!); // Lambda retry: nothing double-counted
      await h.deliver(1, b2[i]!);
      await h.deliver(0, b3[i]!);
      await h.deliver(1, b4[i]!);
      await h.deliver(0, b3[i]!); // a late retry
      await h.advanceProcessingTime(10 * M);
    }
    const [mem, ddb] = pair.map(observed);
    expect(ddb).toEqual(mem);
    expect(pair[0].results.length).toBeGreaterThan(2);
    // The outbox holds every fired result until acknowledged, on both stores.
    const pending = await Promise.all(pair.map((h) => h.operator.pendingResults()));
    expect(pending[1]!.map((r) => r.id).sort()).toEqual(pending[0]!.map((r) => r.id).sort());
    await both(pair, (h) => h.operator.acknowledge(h.results));
    expect(await pair[1].operator.pendingResults()).toEqual([]);
  });

  it('GIVEN sliding windows WHEN run with a retry THEN results equal InMemoryStateStore', async () => {
    const pair = harnesses(sliding(M, 20_000), 0);
    const events = Array.from({ length: 40 }, (_, i) => ({
      k: `k${i % 5}`,
      t: i * 4_000 - 10_000,
      v: i,
    }));
    const b1 = pair.map((h) => h.records(0, events.slice(0, 25)));
    const b2 = pair.map((h) => h.records(0, events.slice(25)));
    for (const [i, h] of pair.entries()) {
      await h.deliver(0, b1[i]!);
      await h.deliver(0, b2[i]!);
      await h.deliver(0, b2[i]!);
      await h.send(0, [{ k: 'k0', t: 400_000 }]);
    }
    const [mem, ddb] = pair.map(observed);
    expect(ddb).toEqual(mem);
  });

  it('GIVEN sessions bridged by a later batch WHEN run THEN the merge (a transaction) gives the InMemoryStateStore results', async () => {
    const pair = harnesses(session(10_000), 5_000, 30_000);
    const b1 = pair.map((h) =>
      h.records(0, [
        { k: 'u', t: 0 },
        { k: 'u', t: 15_000 },
        { k: 'v', t: 1000 },
      ]),
    );
    const b2 = pair.map((h) =>
      h.records(1, [
        { k: 'u', t: 8_000 },
        { k: 'u', t: 45_000 },
        { k: 'u', t: 50_000 },
        { k: 'v', t: 90_000 },
      ]),
    );
    const b3 = pair.map((h) => h.records(0, [{ k: 'u', t: 200_000 }]));
    const b4 = pair.map((h) => h.records(1, [{ k: 'v', t: 200_000 }]));
    for (const [i, h] of pair.entries()) {
      await h.deliver(0, b1[i]!);
      await h.deliver(1, b2[i]!);
      await h.deliver(1, b2[i]!);
      await h.deliver(0, b3[i]!);
      await h.deliver(1, b4[i]!);
    }
    const [mem, ddb] = pair.map(observed);
    expect(ddb).toEqual(mem);
    // b2 bridged u's two sessions (three items into one: a transaction).
    const final = pair[1].finalResults().map((r) => [r.key, r.window, r.value]);
    expect(final).toContainEqual(['u', { start: 0, end: 25_000 }, 3]);
    expect(final).toContainEqual(['u', { start: 45_000, end: 60_000 }, 2]);
  });

  it('GIVEN a count over many keys in one batch WHEN run THEN it makes one write per key-window', async () => {
    const name = uniqueName('op').toLowerCase();
    const d = pipeline(name)
      .decode(json<Ev>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t)
      .window(tumbling(M))
      .aggregate(count());
    const h = new WindowOperatorHarness(d, { store: makeStore() });
    // Two windows in event-time order (so none is late), 150 keys in each.
    const out = await h.send(
      0,
      Array.from({ length: 500 }, (_, i) => ({ k: `key-${i % 150}`, t: i < 250 ? i : M + i })),
    );
    expect(out.stateWrites).toBe(300);
  });
});
