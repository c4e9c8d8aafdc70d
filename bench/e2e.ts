/**
 * End-to-end throughput on the embedded AWS (issue 4): the state-cost
 * workload (1,000 Zipf(1.1)-skewed keys, 1-minute tumbling count, batches of
 * up to 10,000 records) produced beforehand, then drained through the local
 * event source mapping into the real click-counter handler running in worker
 * processes, next to the limit the emulators themselves set, measured in the
 * same run:
 *
 *   limit = min(raw GetRecords drain rate,
 *               DynamoDB Local's UpdateItem rate at 32 in flight / state writes per record)
 *
 * Figures:
 * - `e2e_records_per_s`: records / (first invocation → mapping idle)
 * - `raw_drain_records_per_s`: GetRecords of the whole stream, all shards in parallel, no handler
 * - `e2e_ddb_updates_per_s`: UpdateItem rate at 32 in flight, measured in this section
 * - `e2e_state_writes_per_record`: content writes the handlers reported / records
 * - `e2e_writes_per_record`: every DynamoDB write request the workload made (content, progress,
 *   watermark, firing with outbox, result sink, outbox ack, purge; counted by a loopback proxy in
 *   front of DynamoDB Local) / records: the "writes per record" of the limit
 * - `e2e_write_conflicts`: conditional writes that failed (concurrent firers, retried guards);
 *   `_content`, `_fire`, `_purge`: those of window items, by the write's kind
 * - `e2e_limit_records_per_s`, `e2e_vs_limit_ratio`
 *
 * Replay (bench/replay.ts): a checkpoint of the empty state is taken before the
 * records are produced; after the live drain, `restoreOperator` restores it and
 * replays the whole stream (every shard from TRIM_HORIZON) through an
 * in-process runtime built as `weir restore` builds it. The replay's results
 * must equal the live run's (same windows, same counts, every one re-fired).
 * - `replay_records_per_s`: the restore summary's replayed records / replay seconds
 * - `replay_vs_live_ratio`: `replay_records_per_s / e2e_records_per_s` (target 1.5)
 *
 * `BENCH_DEBUG=1` also prints CPU seconds per process for the live drain and
 * the replay, and the replay's pages, runtime calls and DynamoDB writes;
 * `BENCH_REPLAY_CONCURRENCY`, `BENCH_REPLAY_CHUNK` set the measured replay's
 * options, `BENCH_REPLAY_TRY=2x10000,4x5000` replays again with each
 * `<concurrency>x<chunk>` and prints records/s and whether the results held.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { startLocalAws } from '../lib/local-aws/index.ts';
import { putRecords } from '../lib/kinesis/index.ts';
import { generateClicks } from '../examples/click-counter/clickstream.ts';
import { loadDemoTemplate } from '../cdk/synth.ts';
import { provisionFromTemplate } from '../lib/runtime/local/index.ts';
import { LocalEventSourceMapping, ProcessHandlerInvoker } from '../lib/runtime/local/esm/index.ts';
import type { BenchSection } from './section.ts';
import { naiveUpdates } from './state.ts';
import { DynamoDbRecordingProxy } from '../lib/testing/index.ts';
import {
  checkpointForReplay,
  type ReplayBench,
  type ReplayBenchOptions,
  type ReplayFigures,
} from './replay.ts';
import { cpuDelta, cpuSample } from './cpu.ts';

const RECORDS = 40_000;
const SHARDS = 4;
const KEYS = 1_000;
const RATE_OPS = 4_000;
/** Event time the clicks span, whole minutes from a minute boundary. */
const SPAN_MS = 4 * 60_000;

export const e2eSection: BenchSection = {
  name: 'e2e',
  async run() {
    const aws = await startLocalAws();
    const clients = aws.clients();
    try {
      const template = await loadDemoTemplate({
        stackName: 'BenchE2e',
        streamName: 'bench-e2e',
        shardCount: SHARDS,
        onFailure: 's3',
        eventSourceMapping: { batchSize: 10_000 },
      });
      const resources = await provisionFromTemplate(template, clients);
      const mapping = resources.mappings[0];
      if (!mapping) throw new Error('no event source mapping in the bench stack');
      const start = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
      // Before any record: a checkpoint of the empty state, for the replay after the live drain.
      const recovery = await checkpointForReplay({
        clients,
        env: { ...aws.env(), ...mapping.environment },
        streamName: mapping.streamName,
        settledWatermark: start + SPAN_MS,
      });
      const clicks = generateClicks({
        count: RECORDS,
        pages: KEYS,
        skew: 1.1,
        startMs: start,
        spanMs: SPAN_MS,
        disorderMs: 2000,
      });
      await putRecords(
        clients.kinesis,
        mapping.streamName,
        clicks.map((c) => ({ data: JSON.stringify(c), partitionKey: c.user })),
        { concurrency: 1 },
      );

      const drainStarted = performance.now();
      const drained = await drainRaw(clients.kinesis, mapping.streamName);
      const rawDrain = drained / ((performance.now() - drainStarted) / 1000);

      await clients.dynamodb.send(
        new CreateTableCommand({
          TableName: 'bench-e2e-rate',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
        }),
      );
      const rateStarted = performance.now();
      await naiveUpdates(
        clients.dynamodb,
        'bench-e2e-rate',
        Array.from({ length: RATE_OPS }, (_, i) => `rate#${i % 2000}`),
      );
      const ddbRate = RATE_OPS / ((performance.now() - rateStarted) / 1000);

      // Every DynamoDB write of the handlers goes through a counting proxy (bytes forwarded unchanged).
      const proxy = await DynamoDbRecordingProxy.start({ target: aws.endpoints.dynamodb });
      let stateWrites = 0;
      let applied = 0;
      const invoker = new ProcessHandlerInvoker({
        handler: `${mapping.handlerEntry}#${mapping.handlerExport}`,
        env: { ...aws.env(), ...mapping.environment, AWS_ENDPOINT_URL_DYNAMODB: proxy.url },
        functionName: mapping.functionLogicalId,
        onLog: (line) => {
          if (!line.includes('"msg":"batch"')) return;
          const entry = JSON.parse(line) as { stateWrites?: number; counts?: { inState?: number } };
          stateWrites += entry.stateWrites ?? 0;
          applied += entry.counts?.inState ?? 0;
        },
      });
      const esm = new LocalEventSourceMapping({
        kinesis: clients.kinesis,
        streamName: mapping.streamName,
        invoker,
        settings: mapping.settings,
        pollIntervalMs: 50,
        functionName: mapping.functionLogicalId,
      });
      // Timed from the first invocation to idle: the workers' cold starts are included, as Lambda's would be.
      let firstInvocation = 0;
      const off = esm.on((e) => {
        if (e.type === 'batch-start' && firstInvocation === 0) firstInvocation = performance.now();
        if (process.env['BENCH_DEBUG'] && (e.type === 'batch-start' || e.type === 'batch-end')) {
          console.error(
            `${((performance.now() - firstInvocation) / 1000).toFixed(2)} ${e.type} ${e.shardId} ${'size' in e ? e.size : ''} ${'outcome' in e ? String(e.outcome) : ''}`,
          );
        }
      });
      const cpuBefore = cpuSample();
      await esm.start();
      try {
        await esm.waitUntilIdle({ timeoutMs: 600_000 });
        if (process.env['BENCH_DEBUG'])
          console.error(`live CPU: ${cpuDelta(cpuBefore, cpuSample())}`);
      } finally {
        off();
        await esm.stop();
        await invoker.close();
        await proxy.close();
      }
      const seconds = (performance.now() - firstInvocation) / 1000;
      if (applied !== RECORDS)
        throw new Error(`the handlers applied ${applied} of ${RECORDS} records`);
      const e2e = RECORDS / seconds;
      const writes = proxy.writes();
      const writesPerRecord = writes.length / RECORDS;
      const conflicts = writes.filter((w) => w.outcome === 'condition-failed').length;
      const byKind = { content: 0, fire: 0, purge: 0 };
      for (const w of writes) {
        if (w.outcome !== 'condition-failed') continue;
        const kind = windowWriteKind(w.item);
        if (kind !== undefined) byKind[kind]++;
      }
      const limit = Math.min(rawDrain, ddbRate / writesPerRecord);

      // The same stream replayed from the empty checkpoint, as `weir restore` does it.
      let replayed: ReplayFigures;
      try {
        replayed = await recovery.replay(replayOptionsFromEnv());
        await tryReplayOptions(recovery);
      } finally {
        recovery.close();
      }
      const replay = replayed.summary;
      if (replay.replay.records !== RECORDS || replay.replay.inState !== RECORDS)
        throw new Error(
          `the replay read ${replay.replay.records} and applied ${replay.replay.inState} of ${RECORDS} records`,
        );
      console.log(
        `  (replay: ${replay.replay.records} records; its ${replayed.liveResults} window results equal the live run's ` +
          `(${replay.windowsRefired} fired by the restore, the rest by the settling ticks); restore ${replay.seconds.toFixed(1)} s in all)`,
      );
      return {
        e2e_records_per_s: Math.round(e2e),
        raw_drain_records_per_s: Math.round(rawDrain),
        e2e_ddb_updates_per_s: Math.round(ddbRate),
        e2e_state_writes_per_record: Math.round((stateWrites / RECORDS) * 1000) / 1000,
        e2e_writes_per_record: Math.round(writesPerRecord * 1000) / 1000,
        e2e_write_conflicts: conflicts,
        e2e_write_conflicts_content: byKind.content,
        e2e_write_conflicts_fire: byKind.fire,
        e2e_write_conflicts_purge: byKind.purge,
        e2e_limit_records_per_s: Math.round(limit),
        e2e_vs_limit_ratio: Math.round((e2e / limit) * 1000) / 1000,
        replay_records_per_s: replay.recordsPerSecond,
        replay_vs_live_ratio: Math.round((replay.recordsPerSecond / e2e) * 1000) / 1000,
      };
    } finally {
      clients.destroy();
      await aws.stop();
    }
  },
};

/** `BENCH_REPLAY_CONCURRENCY`, `BENCH_REPLAY_CHUNK`: the restore's options, to compare settings. */
function replayOptionsFromEnv(): ReplayBenchOptions {
  const n = (name: string): number | undefined =>
    process.env[name] === undefined ? undefined : Number(process.env[name]);
  const concurrency = n('BENCH_REPLAY_CONCURRENCY');
  const chunkRecords = n('BENCH_REPLAY_CHUNK');
  return {
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(chunkRecords === undefined ? {} : { chunkRecords }),
    profile: process.env['BENCH_DEBUG'] !== undefined,
  };
}

/**
 * `BENCH_REPLAY_TRY=2x10000,4x2500`: after the measured replay, replays again with each
 * `<concurrency>x<chunk>` and prints its records/s (not a figure: for comparing settings).
 */
async function tryReplayOptions(recovery: ReplayBench): Promise<void> {
  for (const variant of process.env['BENCH_REPLAY_TRY']?.split(',') ?? []) {
    const [concurrency = 4, chunkRecords = 10_000] = variant.split('x').map(Number);
    const what = `replay with concurrency ${concurrency}, chunks of ${chunkRecords}`;
    try {
      const r = (await recovery.replay({ concurrency, chunkRecords })).summary;
      console.log(`  (${what}: ${r.recordsPerSecond} records/s, ${r.replay.late} late)`);
    } catch (err) {
      console.log(`  (${what}: ${err instanceof Error ? err.message : String(err)})`);
    }
  }
}

/**
 * Which write of a window's life a state-table put is (lib/adapters/dynamodb/state-codec.ts):
 * a purge makes a tombstone, a content write sets `pending`, a firing puts the result into the outbox.
 */
function windowWriteKind(
  item: Readonly<Record<string, { readonly [k: string]: unknown }>> | undefined,
): 'content' | 'fire' | 'purge' | undefined {
  if (item === undefined || item['purged'] === undefined) return undefined;
  if (item['purged']['BOOL'] === true) return 'purge';
  if (item['pending']?.['BOOL'] === true) return 'content';
  return item['outbox']?.['M'] !== undefined ? 'fire' : undefined;
}

/** Reads every record of every shard with GetRecords (10,000 per call), shards in parallel. */
async function drainRaw(kinesis: KinesisClient, stream: string): Promise<number> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  const counts = await Promise.all(
    shards.map(async (s) => {
      let it = (
        await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: stream,
            ShardId: s.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      let n = 0;
      while (it) {
        const page = await kinesis.send(
          new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }),
        );
        n += page.Records?.length ?? 0;
        if ((page.Records?.length ?? 0) === 0 && page.MillisBehindLatest === 0) break;
        it = page.NextShardIterator;
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
