/**
 * Runs one exactly-once scenario (see scenario-plan.ts) against the embedded
 * AWS, with everything real except the clock-free fault injection:
 *
 *   loadDemoTemplate (unique stack, stream, shard count, batch size, S3 on-failure)
 *     └─ provisionFromTemplate ─► kinesalite stream, DynamoDB Local state + results tables, s3rver buckets
 *   putRecords (chunks, [SplitShard | MergeShards], late phase)
 *     └─ LocalEventSourceMapping (template settings: bisect, retries, partial responses)
 *          └─ ProcessHandlerInvoker: functions/click-counter/handler.ts in worker processes,
 *             SIGKILL / SIGSTOP (→ function timeout) armed before chunks
 *   ticker: createLambdaHandlers(...).ticker in this process, at random moments, then until idle
 *   DynamoDB traffic of workers and ticker ─► DynamoDbRecordingProxy ─► DynamoDB Local
 *
 * It only observes; the test file judges. Nothing here is shared between
 * scenarios except the AWS, its clients and the proxy.
 */
import { DeleteTableCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  MergeShardsCommand,
  SplitShardCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AwsClients } from '../../lib/adapters/aws-clients.ts';
import { fromResultItem } from '../../lib/adapters/dynamodb/dynamodb-result-sink.ts';
import { aggregate } from '../../lib/kinesis/kpl.ts';
import { putRecords, type ProducerRecord } from '../../lib/kinesis/index.ts';
import type { LocalAws } from '../../lib/local-aws/index.ts';
import type { WindowResult } from '../../lib/model/records.ts';
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import type { TickReport } from '../../lib/runtime/operator-runtime.ts';
import {
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
  S3OnFailureDestination,
  type EsmEvent,
  type EsmStats,
  type ProcessInvokerStats,
} from '../../lib/runtime/local/esm/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { listObjectKeys, provisionFromTemplate } from '../../lib/runtime/local/index.ts';
import { clickCounter, type Click } from '../../functions/click-counter/pipeline.ts';
import type { DynamoDbRecordingProxy, RecordedWrite } from '../../lib/testing/index.ts';
import {
  rng,
  type BadKind,
  type PlannedClick,
  type PlannedRecord,
  type ScenarioPlan,
} from './scenario-plan.ts';

const MINUTE = 60_000;

/** What a scenario needs from the file-wide fixture. */
export interface ScenarioContext {
  readonly aws: LocalAws;
  readonly clients: AwsClients;
  /** Recording proxy in front of DynamoDB Local; handler workers and the ticker talk through it. */
  readonly proxy: DynamoDbRecordingProxy;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

/** A click as produced, with its absolute event time. */
export interface ProducedClick extends Click {
  readonly role: PlannedClick['role'];
  /** Produced inside a (valid) KPL aggregate. */
  readonly inKpl: boolean;
}

/** One object of the late output, read back from S3. */
export interface LateObservation {
  readonly key: string;
  readonly click: Click;
  readonly eventTime: number;
  readonly window: { readonly start: number; readonly end: number } | undefined;
  readonly watermark: number;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly reason: string;
}

/** An invocation that crashed or timed out (where a fault landed). */
export interface FailedInvocation {
  readonly shardId: string;
  readonly first: string;
  readonly last: string;
  readonly size: number;
  readonly retry: number;
  readonly outcome: string;
  /** The shard had no successful invocation before this one (its first batch). */
  readonly firstOfShard: boolean;
}

/** Counters parsed from the handler workers' JSON log lines. */
export interface HandlerLogStats {
  batches: number;
  batchFailed: number;
  received: number;
  skippedCommitted: number;
  alreadyApplied: number;
  inState: number;
  late: number;
  deadLettered: number;
  otherLines: string[];
  batchLog: Record<string, unknown>[];
}

/** Everything a scenario observed. */
export interface ScenarioObservation {
  readonly plan: ScenarioPlan;
  readonly baseMs: number;
  readonly clicks: readonly ProducedClick[];
  /** Malformed Kinesis records produced (a broken KPL aggregate is one). */
  readonly bad: number;
  readonly kinesisRecords: number;
  readonly resultsTable: string;
  readonly results: readonly WindowResult[];
  readonly late: readonly LateObservation[];
  readonly deadLetters: number;
  readonly deadLetterReasons: Readonly<Record<string, number>>;
  readonly failureObjects: number;
  readonly resultWrites: readonly RecordedWrite[];
  readonly esm: EsmStats;
  readonly invoker: ProcessInvokerStats;
  readonly handlerLog: HandlerLogStats;
  readonly ticks: number;
  readonly tickErrors: readonly string[];
  readonly finalTick: TickReport | undefined;
  /** The watermark the final ticks had to reach (every window fired and purged). */
  readonly neededWatermark: number;
  readonly workerPidsSeen: readonly number[];
  /** Workers still alive right after `invoker.close()` (by `process.kill(pid, 0)`). */
  readonly orphanPids: readonly number[];
  readonly reshardDone: string | undefined;
  /** Durations of successful invocations (ms), to see where kills can land. */
  readonly invokeMs: readonly number[];
  readonly failedInvocations: readonly FailedInvocation[];
  /** The state table at the end (raw items), for diagnosing a violation. */
  readonly stateItems: readonly Record<string, AttributeValue>[];
  /** The handler's `batch` log entries, in arrival order. */
  readonly batchLog: readonly Record<string, unknown>[];
  readonly timingsMs: Readonly<Record<string, number>>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let nameCounter = 0;

/** Runs one scenario end to end and returns what it observed. Cleans up its stream and tables. */
export async function runScenario(
  ctx: ScenarioContext,
  plan: ScenarioPlan,
): Promise<ScenarioObservation> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string): void => {
    timings[what] = Date.now() - t0;
  };
  const { clients, aws, proxy } = ctx;
  nameCounter += 1;
  const stackName = `Eo${plan.index}x${(process.pid % 10_000).toString(36)}${nameCounter}${Date.now().toString(36).slice(-4)}`;
  const streamName = `eo-${stackName}`;
  const template = await loadDemoTemplate({
    stackName,
    streamName,
    shardCount: plan.shardCount,
    onFailure: 's3',
    eventSourceMapping: { batchSize: plan.batchSize },
  });
  const resources = await provisionFromTemplate(template, clients, { stackName });
  const mapping = resources.mappings[0];
  const tickerDef = resources.tickers[0];
  if (!mapping || !tickerDef)
    throw new Error('the demo stack needs one event source mapping and one ticker');
  const env = mapping.environment;
  const resultsTable = need(env, 'WEIR_RESULTS_TABLE');
  const stateTable = need(env, 'WEIR_STATE_TABLE');
  const outputBucket = need(env, 'WEIR_OUTPUT_BUCKET');
  const prefix = env['WEIR_CHECKPOINT_PREFIX'] ?? 'weir';
  if (mapping.onFailure?.type !== 's3')
    throw new Error('expected an S3 on-failure destination in the template');
  const failureBucket = mapping.onFailure.name;
  mark('provisioned');

  const handlerLog: HandlerLogStats = {
    batches: 0,
    batchFailed: 0,
    received: 0,
    skippedCommitted: 0,
    alreadyApplied: 0,
    inState: 0,
    late: 0,
    deadLettered: 0,
    otherLines: [],
    batchLog: [],
  };
  const pidsSeen = new Set<number>();
  const batchStarts = new Map<string, { at: number; e: EsmEvent }>();
  const invokeMs: number[] = [];
  const failedInvocations: FailedInvocation[] = [];
  const succeededShards = new Set<string>();
  const invoker = new ProcessHandlerInvoker({
    handler: `${mapping.handlerEntry}#${mapping.handlerExport}`,
    env: { ...aws.env(), ...env, AWS_ENDPOINT_URL_DYNAMODB: proxy.url },
    functionName: mapping.functionLogicalId,
    onLog: (line, pid) => {
      pidsSeen.add(pid);
      parseHandlerLine(line, handlerLog);
    },
  });
  const esm = new LocalEventSourceMapping({
    kinesis: clients.kinesis,
    streamName: mapping.streamName,
    invoker,
    settings: mapping.settings,
    onFailure: new S3OnFailureDestination({ client: clients.s3, bucket: failureBucket }),
    functionName: mapping.functionLogicalId,
    functionTimeoutMs: plan.functionTimeoutMs,
    pollIntervalMs: 100,
    shardDiscoveryIntervalMs: 250,
    onEvent: (e) => {
      if (e.type === 'batch-start') batchStarts.set(e.requestId, { at: Date.now(), e });
      if (e.type === 'batch-end' && e.outcome === 'success') {
        invokeMs.push(Date.now() - (batchStarts.get(e.requestId)?.at ?? Date.now()));
        succeededShards.add(e.shardId);
      }
      if (e.type === 'batch-error') {
        const start = batchStarts.get(e.requestId)?.e;
        failedInvocations.push({
          shardId: e.shardId,
          first: start?.type === 'batch-start' ? start.firstSequenceNumber : '?',
          last: start?.type === 'batch-start' ? start.lastSequenceNumber : '?',
          size: e.size,
          retry: start?.type === 'batch-start' ? start.retry : -1,
          outcome: e.outcome.kind,
          firstOfShard: !succeededShards.has(e.shardId),
        });
      }
    },
  });
  const tickerHandlers = createLambdaHandlers(
    clickCounter,
    lambdaConfigFromEnv({
      ...aws.env(),
      ...tickerDef.environment,
      AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    }),
    // The runtime's JSON lines through console.log (the test file keeps INFO out), no EMF lines.
    { log: (entry) => console.log(JSON.stringify(entry)), metricsOutput: () => undefined },
  );

  // One ticker "instance": ticks never overlap each other (EventBridge at rate(1 minute) would not either).
  let tickChain: Promise<unknown> = Promise.resolve();
  let ticks = 0;
  const tickErrors: string[] = [];
  const tick = (): Promise<TickReport | undefined> => {
    const run = tickChain.then(async () => {
      ticks += 1;
      try {
        return await tickerHandlers.ticker();
      } catch (err) {
        tickErrors.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
        return undefined;
      }
    });
    tickChain = run;
    return run;
  };

  const baseMs = Math.floor((Date.now() - 7 * MINUTE) / MINUTE) * MINUTE;
  const random = rng(plan.seed ^ 0x5eed);
  const clicks: ProducedClick[] = [];
  let bad = 0;
  let kinesisRecords = 0;
  let reshardDone: string | undefined;
  let observation: ScenarioObservation | undefined;
  let ticking = true;
  let background: Promise<void> = Promise.resolve();
  const orphanPids: number[] = [];
  try {
    await esm.start();
    background = (async () => {
      while (ticking) {
        const [lo, hi] = plan.tickGapMs;
        await sleep(lo + random() * (hi - lo));
        if (ticking) await tick();
      }
    })();

    const arm = (chunk: number): void => {
      for (const f of plan.faults) {
        if (f.beforeChunk === chunk)
          invoker.killDuringNextInvocation({ afterMs: f.afterMs, signal: f.signal });
      }
      for (const f of plan.dynamoFaults) {
        if (f.beforeChunk === chunk)
          proxy.armFaults(f.table === 'state' ? stateTable : resultsTable, f.count);
      }
    };
    const produce = async (records: readonly PlannedRecord[]): Promise<void> => {
      const open = await openShards(clients.kinesis, streamName);
      const input: ProducerRecord[] = [];
      for (const rec of records) {
        switch (rec.kind) {
          case 'click':
            clicks.push(produced(rec.click, baseMs, false));
            input.push({
              data: JSON.stringify(toClick(rec.click, baseMs)),
              partitionKey: rec.click.user,
            });
            break;
          case 'kpl': {
            for (const c of rec.clicks) clicks.push(produced(c, baseMs, true));
            const agg = aggregate(
              rec.clicks.map((c) => ({
                data: JSON.stringify(toClick(c, baseMs)),
                partitionKey: c.user,
              })),
            );
            input.push({ data: agg.data, partitionKey: agg.partitionKey });
            break;
          }
          case 'bad':
            bad += 1;
            input.push({ data: badData(rec.bad, baseMs + MINUTE), partitionKey: rec.id });
            break;
          case 'anchors':
            open.forEach((s, i) => {
              const c: PlannedClick = {
                page: rec.page,
                user: `${rec.userPrefix}${i}`,
                dt: rec.dt,
                role: 'anchor',
              };
              clicks.push(produced(c, baseMs, false));
              input.push({
                data: JSON.stringify(toClick(c, baseMs)),
                partitionKey: c.user,
                explicitHashKey: s.start.toString(),
              });
            });
            break;
        }
      }
      kinesisRecords += input.length;
      // One request per chunk (<= 500 records): order within each shard is production order.
      await putRecords(clients.kinesis, streamName, input, { concurrency: 1 });
    };

    for (let c = 0; c < plan.chunks.length; c++) {
      if (plan.reshard?.beforeChunk === c)
        reshardDone = await reshard(
          clients.kinesis,
          streamName,
          plan.reshard.kind,
          plan.reshard.pick,
        );
      arm(c);
      await produce(plan.chunks[c] ?? []);
      await sleep(plan.pausesMs[c] ?? 0);
    }
    mark('main-produced');
    await esm.waitUntilIdle({ timeoutMs: 150_000 });
    mark('main-applied');
    // Consumed parents are closed by the ticker; then every open shard's watermark is past the first window's lateness.
    await tick();
    arm(plan.chunks.length);
    await produce(plan.late);
    await esm.waitUntilIdle({ timeoutMs: 120_000 });
    mark('late-applied');
  } finally {
    ticking = false;
    await background;
    await esm.stop();
    for (const pid of invoker.workerPids()) pidsSeen.add(pid);
    await invoker.close();
    for (const pid of pidsSeen) if (pid > 0 && alive(pid)) orphanPids.push(pid);
  }
  mark('workers-closed');

  try {
    // Processing-time idleness (idleTimeout, idleAdvance) moves the watermark past every window: tick until fired and purged.
    const lastEnd = Math.max(...clicks.map((c) => Math.floor(c.ts / MINUTE) * MINUTE + MINUTE));
    const neededWatermark = lastEnd + clickCounter.allowedLateness;
    let finalTick: TickReport | undefined;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      finalTick = await tick();
      if (
        finalTick &&
        finalTick.watermark >= neededWatermark &&
        finalTick.fired === 0 &&
        finalTick.redriven === 0
      )
        break;
      await sleep(1000);
    }
    mark('windows-closed');

    const [results, lateKeys, deadKeys, failureKeys, stateItems] = await Promise.all([
      scanResults(clients, resultsTable),
      listObjectKeys(
        clients.s3,
        outputBucket,
        `${prefix}/${encodeURIComponent(clickCounter.name)}/late/`,
      ),
      listObjectKeys(
        clients.s3,
        outputBucket,
        `${prefix}/${encodeURIComponent(clickCounter.name)}/dead-letter/`,
      ),
      listObjectKeys(clients.s3, failureBucket, ''),
      scanAll(clients, stateTable),
    ]);
    const late = await mapLimit(lateKeys, 16, (k) => readLate(clients.s3, outputBucket, k));
    const deadDocs = await mapLimit(deadKeys, 16, (k) => readJson(clients.s3, outputBucket, k));
    const deadLetterReasons: Record<string, number> = {};
    for (const d of deadDocs) {
      const reason = typeof d['reason'] === 'string' ? d['reason'] : 'unknown';
      deadLetterReasons[reason] = (deadLetterReasons[reason] ?? 0) + 1;
    }
    mark('read-back');
    observation = {
      plan,
      baseMs,
      clicks,
      bad,
      kinesisRecords,
      resultsTable,
      results,
      late,
      deadLetters: deadKeys.length,
      deadLetterReasons,
      failureObjects: failureKeys.length,
      resultWrites: proxy.writesTo(resultsTable),
      esm: esm.stats(),
      invoker: invoker.stats(),
      handlerLog,
      ticks,
      tickErrors,
      finalTick,
      neededWatermark,
      workerPidsSeen: [...pidsSeen].filter((p) => p > 0),
      orphanPids,
      reshardDone,
      invokeMs,
      failedInvocations,
      stateItems,
      batchLog: handlerLog.batchLog,
      timingsMs: timings,
    };
    return observation;
  } finally {
    tickerHandlers.clients.destroy();
    await Promise.allSettled([
      clients.kinesis.send(
        new DeleteStreamCommand({ StreamName: streamName, EnforceConsumerDeletion: true }),
      ),
      clients.dynamodb.send(new DeleteTableCommand({ TableName: stateTable })),
      observation
        ? clients.dynamodb.send(new DeleteTableCommand({ TableName: resultsTable }))
        : Promise.resolve(),
    ]);
  }
}

function need(env: Readonly<Record<string, string>>, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`the template's function environment has no ${name}`);
  return v;
}

function toClick(c: PlannedClick, baseMs: number): Click {
  return { page: c.page, user: c.user, ts: baseMs + c.dt };
}

function produced(c: PlannedClick, baseMs: number, inKpl: boolean): ProducedClick {
  return { ...toClick(c, baseMs), role: c.role, inKpl };
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The bytes of one malformed record (the demo's kinds, with a small oversized key instead of a 900 KB one). */
function badData(kind: BadKind, ts: number): Uint8Array {
  switch (kind) {
    case 'not JSON':
      return enc('this is not json');
    case 'truncated JSON':
      return enc('{"page":"/a","ts":');
    case 'invalid UTF-8':
      return new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]);
    case 'missing timestamp':
      return enc(JSON.stringify({ page: '/a', user: 'u' }));
    case 'timestamp of the wrong type':
      return enc(JSON.stringify({ page: '/a', user: 'u', ts: 'yesterday' }));
    case 'absurd timestamp':
      return enc(JSON.stringify({ page: '/a', user: 'u', ts: 1e300 }));
    case 'missing key field':
      return enc(JSON.stringify({ user: 'u', ts }));
    case 'key of the wrong type':
      return enc(JSON.stringify({ page: { nested: true }, user: 'u', ts }));
    case 'key too large (2 KB page)':
      return enc(JSON.stringify({ page: 'x'.repeat(2048), user: 'u', ts }));
    case 'JSON null':
      return enc('null');
    case 'broken KPL aggregate (bad MD5)': {
      const agg = aggregate([
        { data: JSON.stringify({ page: '/kpl', user: 'u', ts }), partitionKey: 'kpl-a' },
        { data: JSON.stringify({ page: '/kpl', user: 'u', ts }), partitionKey: 'kpl-b' },
      ]);
      const corrupted = new Uint8Array(agg.data);
      corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] ?? 0) ^ 0xff;
      return corrupted;
    }
  }
}

/** Counts the runtime's structured log lines (`batch`, `batch failed`). */
function parseHandlerLine(line: string, s: HandlerLogStats): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    if (s.otherLines.length < 50) s.otherLines.push(line);
    return;
  }
  if (entry['msg'] === 'batch') {
    const c = (entry['counts'] ?? {}) as Record<string, number | undefined>;
    s.batches += 1;
    s.batchLog.push({ ...entry, at: Date.now() });
    s.received += c['received'] ?? 0;
    s.skippedCommitted += c['skippedCommitted'] ?? 0;
    s.alreadyApplied += c['alreadyApplied'] ?? 0;
    s.inState += c['inState'] ?? 0;
    s.late += c['late'] ?? 0;
    s.deadLettered += c['deadLettered'] ?? 0;
  } else if (entry['msg'] === 'batch failed') {
    s.batchFailed += 1;
    if (s.otherLines.length < 50) s.otherLines.push(line);
  } else if (s.otherLines.length < 50) {
    s.otherLines.push(line);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface OpenShard {
  readonly id: string;
  readonly start: bigint;
  readonly end: bigint;
}

async function openShards(kinesis: KinesisClient, stream: string): Promise<OpenShard[]> {
  const out = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
  return (out.Shards ?? [])
    .filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .map((s) => ({
      id: s.ShardId ?? '',
      start: BigInt(s.HashKeyRange?.StartingHashKey ?? '0'),
      end: BigInt(s.HashKeyRange?.EndingHashKey ?? '0'),
    }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

async function waitActive(kinesis: KinesisClient, stream: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(25);
  }
  throw new Error(`stream ${stream} did not become ACTIVE`);
}

/** SplitShard in the middle of a hash range, or MergeShards of two adjacent open shards; returns what it did. */
async function reshard(
  kinesis: KinesisClient,
  stream: string,
  kind: 'split' | 'merge',
  pick: number,
): Promise<string> {
  const open = await openShards(kinesis, stream);
  if (kind === 'split') {
    const s = open[Math.floor(pick * open.length)] as OpenShard;
    await kinesis.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: s.id,
        NewStartingHashKey: ((s.start + s.end + 1n) / 2n).toString(),
      }),
    );
    await waitActive(kinesis, stream);
    return `split ${s.id}`;
  }
  const i = Math.floor(pick * (open.length - 1));
  const a = open[i] as OpenShard;
  const b = open[i + 1] as OpenShard;
  await kinesis.send(
    new MergeShardsCommand({ StreamName: stream, ShardToMerge: a.id, AdjacentShardToMerge: b.id }),
  );
  await waitActive(kinesis, stream);
  return `merge ${a.id}+${b.id}`;
}

async function scanResults(clients: AwsClients, table: string): Promise<WindowResult[]> {
  const out: WindowResult[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) out.push(fromResultItem(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

async function scanAll(
  clients: AwsClients,
  table: string,
): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

async function readJson(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Record<string, unknown>> {
  const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await (obj.Body?.transformToString() ?? Promise.resolve('{}'))) as Record<
    string,
    unknown
  >;
}

/** A late-output object: the click inside (raw bytes, base64) and the judgement's watermark. */
async function readLate(s3: S3Client, bucket: string, key: string): Promise<LateObservation> {
  const doc = await readJson(s3, bucket, key);
  const data = typeof doc['data'] === 'string' ? doc['data'] : '';
  const window = doc['window'] as { start: number; end: number } | undefined;
  const position = (doc['position'] ?? {}) as {
    shardId?: string;
    sequenceNumber?: string;
    subSequenceNumber?: number;
  };
  return {
    reason: typeof doc['reason'] === 'string' ? doc['reason'] : '?',
    shardId: position.shardId ?? '?',
    sequenceNumber: position.sequenceNumber ?? '?',
    subSequenceNumber: position.subSequenceNumber ?? 0,
    key,
    click: JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as Click,
    eventTime: Number(doc['eventTime']),
    window,
    watermark: Number(doc['watermark']),
  };
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}
