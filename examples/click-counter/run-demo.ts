/**
 * The click-counter example end to end on the embedded AWS (or LocalStack):
 * the real engine, exactly once, under a handler crash. It uses weir as a
 * user would, through the package entry, and composes the local runtime's
 * pieces:
 *
 *   cdk/synth.ts: WeirDemoStack template ─► provisionFromTemplate ─► stream, tables, bucket
 *   clickstream with disorder + malformed records + late records ─► putRecords
 *   LocalMappingRunner: local ESM ─► handler worker process (killed mid-batch once) ─► DynamoDB state
 *   TickerLoop (in-process, every second) ─► fires due windows ─► results table
 *   readWindowResults + the output bucket ─► reconciliation (report.ts)
 *   checkpoints before the first and before the late records ─► drill.ts: wipe the state, restore,
 *   replay, compare; then a correction (a fixed pipeline restored from the first checkpoint)
 */
import type { Writable } from 'node:stream';
import {
  LocalMappingRunner,
  TickerLoop,
  listObjectKeys,
  localAwsFromEnv,
  localLambdaHandlers,
  provisionFromTemplate,
  putRecords,
  readObjectText,
  readWindowResults,
  tickUntil,
  type AwsClients,
  type ProducerRecord,
  type WindowResult,
} from '../../lib/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { badRecords } from './bad-records.ts';
import { checkpointer, runDrill, type DrillStack } from './drill.ts';
import { generateClicks, type Click } from './clickstream.ts';
import { progressBar } from './progress.ts';
import { reconcile, type DemoReport } from './report.ts';

export type { DemoReport };

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Clicks to produce (malformed and late records come on top). */
  readonly events: number;
  /** Shards of the input stream. */
  readonly shards: number;
  /** The environment: `AWS_ENDPOINT_URL` set means LocalStack (start nothing); `WEIR_DEMO_VERBOSE` logs the handler. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable & { isTTY?: boolean };
  /** Stops producing when aborted. */
  readonly signal: AbortSignal;
  /** Kill the handler process in the middle of a batch this many times. @default 1 */
  readonly kills?: number;
}

const MINUTE = 60_000;
const LATE_RECORDS = 25;

/**
 * Runs the example; resolves to its report (exit code 0 iff `ok`).
 *
 * @example
 * const report = await runDemo({ events: 4000, shards: 4, env: process.env, stdout: process.stdout,
 *   stderr: process.stderr, signal: new AbortController().signal });
 */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const say = (line: string): void => void o.stdout.write(line + '\n');
  const verbose = (line: string): void => {
    if (o.env['WEIR_DEMO_VERBOSE']) o.stderr.write(line + '\n');
  };
  const t0 = Date.now();
  const aws = await localAwsFromEnv(o.env);
  const clients = aws.clients();
  try {
    say(
      aws.mode === 'embedded'
        ? `embedded AWS up in ${Date.now() - t0} ms (kinesalite ${aws.startup.kinesisMs} ms, DynamoDB Local ${aws.startup.dynamodbMs} ms, s3rver ${aws.startup.s3Ms} ms)`
        : `using external AWS endpoints (${aws.endpoints.kinesis})`,
    );
    // The embedded tier has no SQS, so the on-failure destination is an S3 bucket there.
    const template = await loadDemoTemplate({
      shardCount: o.shards,
      onFailure: aws.endpoints.sqs ? 'sqs' : 's3',
    });
    const resources = await provisionFromTemplate(template, clients);
    const mapping = resources.mappings[0];
    const ticker = resources.tickers[0];
    if (!mapping || !ticker)
      throw new Error('the demo stack needs one event source mapping and one ticker');
    say(
      `stack ${resources.stackName}: stream ${mapping.streamName} (${o.shards} shards), operator ${clickCounter.name}`,
    );

    const stack: DrillStack = {
      clients,
      awsEnv: aws.env(),
      functionEnv: mapping.environment,
      streamName: mapping.streamName,
      say,
    };
    const takeCheckpoint = await checkpointer(stack);
    const c0 = await takeCheckpoint(); // before any record: the correction restores this one
    let c1 = '';
    const input = buildInput(o.events);
    const needWatermark = input.start + 6 * MINUTE + clickCounter.allowedLateness;
    const runner = new LocalMappingRunner({
      mapping,
      clients,
      env: aws.env(),
      settings: { batchSize: 250 },
      pollIntervalMs: 100,
      onLog: (line) => verbose(`[handler] ${line}`),
    });
    const kills = o.kills ?? 1;
    armKills(runner, o.shards, kills);
    const tickerHandlers = localLambdaHandlers(clickCounter, ticker, {
      env: aws.env(),
      log: (entry) => verbose(`[ticker] ${JSON.stringify(entry)}`),
      metricsOutput: (line) => verbose(`[ticker] ${line}`),
    });
    const tick = tickerHandlers.ticker;
    const loop = new TickerLoop(tick, {
      onError: (err) => o.stderr.write(`ticker: ${String(err)}\n`),
    });

    let crashes: number;
    let watermark = -Infinity;
    await runner.start();
    loop.start();
    try {
      try {
        await produce(o, clients, mapping.streamName, input, runner, async () => {
          c1 = await takeCheckpoint(); // processing goes on after it: the late clicks, the ticks
          say(`checkpoint ${c1} taken before the late clicks (${c0} before the first record)`);
        });
      } finally {
        await runner.stop();
      }
      const stats = runner.esm.stats();
      crashes = runner.invoker.stats().crashes;
      if (crashes < kills) say(`only ${crashes} of ${kills} requested handler kills happened`);
      say(
        `local ESM: ${stats.invocations} invocations; ${crashes} handler process(es) killed mid-batch, ` +
          `recovered by ${stats.retries} retries and ${stats.bisects} bisects; ${stats.failuresSent} batches to the on-failure destination`,
      );

      // Idle shards let the watermark follow processing time (idleAdvance): wait for the last windows.
      const last = await tickUntil(
        tick,
        (r) => r.watermark >= needWatermark && r.fired === 0 && r.redriven === 0,
        { timeoutMs: 60_000 },
      );
      watermark = last?.watermark ?? watermark;
    } finally {
      await loop.stop();
      tickerHandlers.clients.destroy();
    }
    say(`operator watermark ${new Date(watermark).toISOString()}: every window closed and purged`);

    const outputs = await readOutputs(clients, mapping.environment);
    const report = reconcile(say, {
      clicks: input.clicks,
      late: input.late,
      bad: input.bad,
      ...outputs,
      kills,
      crashes,
    });
    const drill = await runDrill(stack, c0, c1, needWatermark);
    return { ...report, ok: report.ok && drill.ok };
  } finally {
    clients.destroy();
    await aws.stop();
  }
}

/** What the example produces: clicks with malformed records mid-stream, then late clicks. */
interface Clickstream {
  /** Event time of the first click (a minute boundary). */
  readonly start: number;
  readonly clicks: readonly Click[];
  /** Produced after the watermark has passed the first windows' lateness. */
  readonly late: readonly Click[];
  /** How many malformed records are among `records`. */
  readonly bad: number;
  /** Clicks and malformed records, in production order. */
  readonly records: readonly ProducerRecord[];
}

function buildInput(count: number): Clickstream {
  // Event times end a little before now, so processing-time idleness can close the last windows.
  const start = Math.floor((Date.now() - 7 * MINUTE) / MINUTE) * MINUTE;
  const clicks = generateClicks({ count, startMs: start, spanMs: 5 * MINUTE, disorderMs: 3000 });
  const late: Click[] = Array.from({ length: LATE_RECORDS }, (_, i) => ({
    page: `/page/${i % 3}`,
    user: `late-${i}`,
    ts: start + (i % 2) * MINUTE + 17_000, // the first two minutes closed (plus lateness) long before these arrive
  }));
  const bad = badRecords(start + MINUTE);
  const records: ProducerRecord[] = clicks.map((c) => ({
    data: JSON.stringify(c),
    partitionKey: c.user,
  }));
  // Malformed records go in mid-stream: their shards must keep flowing.
  const step = Math.max(1, Math.floor(records.length / (bad.length + 1)));
  bad.forEach((b, i) =>
    records.splice((i + 1) * step + i, 0, { data: b.data, partitionKey: b.partitionKey }),
  );
  return { start, clicks, late, bad: bad.length, records };
}

/**
 * The kills are armed once every shard has completed a batch: a shard whose very first batch dies
 * has no progress yet and does not hold the watermark back (docs/semantics.md), which would turn
 * part of it late and blur what the demo shows. Later kills exercise the same recovery.
 */
function armKills(runner: LocalMappingRunner, shards: number, kills: number): void {
  let batchesDone = 0;
  const off = runner.esm.on((e) => {
    if (e.type !== 'batch-end' || e.outcome !== 'success' || ++batchesDone !== shards) return;
    for (let i = 0; i < kills; i++) runner.invoker.killDuringNextInvocation({ afterMs: 20 });
    off();
  });
}

/** Produces the clicks (with a progress bar), waits for the mapping, then produces the late clicks. */
async function produce(
  o: DemoOptions,
  clients: AwsClients,
  streamName: string,
  input: Clickstream,
  runner: LocalMappingRunner,
  beforeLate: () => Promise<void>,
): Promise<void> {
  const bar = progressBar(o.stderr, 'producing', input.records.length);
  // One request in flight keeps each shard in event-time order up to the generated disorder;
  // concurrent requests would land out of order and add up to ~2,000 records of disorder.
  const produced = await putRecords(clients.kinesis, streamName, input.records, {
    concurrency: 1,
    total: input.records.length,
    onProgress: (p) => bar.update(p.sent),
    signal: o.signal,
  });
  bar.end();
  await runner.waitUntilIdle({ timeoutMs: 180_000 });
  await beforeLate();
  // Late records: after the watermark has passed the first windows' lateness.
  await putRecords(
    clients.kinesis,
    streamName,
    input.late.map((c) => ({ data: JSON.stringify(c), partitionKey: c.user })),
  );
  await runner.waitUntilIdle({ timeoutMs: 60_000 });
  o.stdout.write(
    `produced ${produced.records + input.late.length} records (${input.clicks.length} clicks, ${input.bad} malformed, ${input.late.length} late); ` +
      `per shard: ${Object.entries(produced.perShard)
        .map(([s, n]) => `${s.replace('shardId-', '')}=${n}`)
        .join(' ')}\n`,
  );
}

/** The operator's outputs, read back as a user would: the results table, the dead-letter and late outputs. */
async function readOutputs(
  clients: AwsClients,
  env: Readonly<Record<string, string>>,
): Promise<{ results: WindowResult[]; deadLetters: number; lateOutput: Click[] }> {
  const output = env['WEIR_OUTPUT_BUCKET'] ?? '';
  const operatorPrefix = `${env['WEIR_CHECKPOINT_PREFIX'] ?? 'weir'}/${encodeURIComponent(clickCounter.name)}`;
  const results = await readWindowResults(clients.dynamodb, env['WEIR_RESULTS_TABLE'] ?? '');
  const deadKeys = await listObjectKeys(clients.s3, output, `${operatorPrefix}/dead-letter/`);
  const lateKeys = await listObjectKeys(clients.s3, output, `${operatorPrefix}/late/`);
  const lateOutput = await Promise.all(lateKeys.map((k) => readLateClick(clients, output, k)));
  return { results, deadLetters: deadKeys.length, lateOutput };
}

/** The click inside a late-output object (its raw bytes, base64). */
async function readLateClick(clients: AwsClients, bucket: string, key: string): Promise<Click> {
  const doc = JSON.parse((await readObjectText(clients.s3, bucket, key)) || '{}') as {
    data?: string;
  };
  return JSON.parse(Buffer.from(doc.data ?? '', 'base64').toString('utf8')) as Click;
}
