/**
 * Bench section `state`: DynamoDB write requests the window operator makes
 * per batch through DynamoDbStateStore, on the embedded AWS (DynamoDB Local),
 * next to a naive one-UpdateItem-per-record baseline measured in the same run.
 *
 * Workload: batches of 10,000 records over 1,000 keys drawn from a Zipf
 * distribution (s = 1.1, seeded), 1-minute tumbling windows, count(). Each
 * batch covers 10 s of event time inside one minute, so no window fires
 * during the measured batches: the figure is the cost of absorbing records.
 *
 * Write requests are counted by an SDK middleware on the store's client:
 * PutItem, UpdateItem, DeleteItem = 1 each; TransactWriteItems and
 * BatchWriteItem = their item counts.
 *
 * Figures:
 * - `state_writes_per_batch`: mean write requests per batch (state + shard progress + watermark)
 * - `state_writes_bound`: mean (distinct key-windows in the batch + 2)
 * - `naive_writes_per_batch`: write requests of one UpdateItem per record for one such batch
 * - `ddb_updates_per_s`: concurrent UpdateItem rate at 32 in flight on DynamoDB Local (uniform keys)
 */
import { seededRandom, zipfSampler } from '../lib/testing/random.ts';
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbStateStore } from '../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { mapSettled } from '../lib/util/map-settled.ts';
import { count, json, pipeline, tumbling } from '../lib/core/index.ts';
import { localAwsFromEnv } from '../lib/local-aws/index.ts';
import { loadDemoTemplate } from '../cdk/synth.ts';
import { provisionTablesFromTemplate } from '../lib/runtime/local/index.ts';
import { WindowOperatorHarness } from '../lib/testing/index.ts';
import type { BenchSection } from './section.ts';

const BATCH = 10_000;
const KEYS = 1_000;
const ZIPF_S = 1.1;
const BATCHES = 5;
const MINUTE = 60_000;
const UPDATE_RATE_OPS = 6_000;
const IN_FLIGHT = 32;

const WRITE_COMMANDS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/** Counts write requests (items) sent through a client. */
function countWrites(client: DynamoDBClient): { n: number } {
  const counter = { n: 0 };
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? '';
      const input = args.input as {
        TransactItems?: unknown[];
        RequestItems?: Record<string, unknown[]>;
      };
      if (WRITE_COMMANDS.has(name)) counter.n += 1;
      else if (name === 'TransactWriteItemsCommand') counter.n += input.TransactItems?.length ?? 0;
      else if (name === 'BatchWriteItemCommand') {
        for (const reqs of Object.values(input.RequestItems ?? {})) counter.n += reqs.length;
      }
      return next(args);
    },
    { step: 'initialize', name: 'weirBenchWriteCounter' },
  );
  return counter;
}

interface Ev {
  k: string;
  t: number;
}

export const stateSection: BenchSection = {
  name: 'state',
  async run() {
    const aws = await localAwsFromEnv(process.env);
    const clients = aws.clients();
    try {
      const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), clients.dynamodb, {
        stackName: `BenchState${Date.now().toString(36)}`,
      });
      const stateTable = tables.find((t) => t.globalSecondaryIndexes.includes('due'));
      const plainTable = tables.find((t) => t.globalSecondaryIndexes.length === 0);
      if (stateTable === undefined || plainTable === undefined)
        throw new Error('the demo template lacks the state or results table');
      const counter = countWrites(clients.dynamodb);

      const random = seededRandom(42);
      const nextKey = zipfSampler(KEYS, ZIPF_S, random);
      const batches: Ev[][] = Array.from({ length: BATCHES }, (_, b) =>
        Array.from({ length: BATCH }, (_, i) => ({
          k: `key-${nextKey()}`,
          // Batch b covers [b * 10 s, (b + 1) * 10 s) of event time, in order.
          t: b * 10_000 + Math.floor((i * 10_000) / BATCH),
        })),
      );

      const definition = pipeline('bench-state')
        .decode(json<Ev>())
        .keyBy((e) => e.k)
        .eventTime((e) => e.t)
        .window(tumbling(MINUTE))
        .aggregate(count());
      const store = new DynamoDbStateStore({
        client: clients.dynamodb,
        tableName: stateTable.name,
      });
      const h = new WindowOperatorHarness(definition, { store, startTime: 1_700_000_000_000 });
      let writes = 0;
      let bound = 0;
      const started = performance.now();
      for (const events of batches) {
        const distinct = new Set(events.map((e) => `${e.k}|${Math.floor(e.t / MINUTE)}`)).size;
        counter.n = 0;
        await h.send(0, events);
        writes += counter.n;
        bound += distinct + 2;
      }
      const operatorSeconds = (performance.now() - started) / 1000;

      // Naive baseline: one UpdateItem per record of the first batch.
      counter.n = 0;
      const naiveStarted = performance.now();
      await naiveUpdates(
        clients.dynamodb,
        plainTable.name,
        (batches[0] ?? []).map((e) => `naive#${e.k}`),
      );
      const naiveSeconds = (performance.now() - naiveStarted) / 1000;
      const naive = counter.n;

      // Raw UpdateItem rate on uniform keys.
      const keys = Array.from({ length: UPDATE_RATE_OPS }, (_, i) => `rate#${i % 2000}`);
      const rateStarted = performance.now();
      await naiveUpdates(clients.dynamodb, plainTable.name, keys);
      const rate = UPDATE_RATE_OPS / ((performance.now() - rateStarted) / 1000);

      return {
        state_writes_per_batch: Math.round(writes / BATCHES),
        state_writes_bound: Math.round(bound / BATCHES),
        naive_writes_per_batch: naive,
        state_writes_per_1000_records: Math.round((writes / BATCHES / BATCH) * 1000 * 10) / 10,
        naive_writes_per_1000_records: Math.round((naive / BATCH) * 1000),
        state_batch_seconds: Math.round((operatorSeconds / BATCHES) * 100) / 100,
        naive_batch_seconds: Math.round(naiveSeconds * 100) / 100,
        ddb_updates_per_s: Math.round(rate),
      };
    } finally {
      clients.destroy();
      await aws.stop();
    }
  },
};

export async function naiveUpdates(
  client: DynamoDBClient,
  table: string,
  keys: readonly string[],
): Promise<void> {
  const settled = await mapSettled(keys, IN_FLIGHT, (pk) =>
    client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: pk }, sk: { S: 'W#0' } },
        UpdateExpression: 'ADD #n :one',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    ),
  );
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
