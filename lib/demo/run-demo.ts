/**
 * The end-to-end demo on the embedded AWS (or LocalStack): the real engine,
 * exactly once, under a handler crash.
 *
 *   CDK template ─► local stream, tables, bucket
 *   clickstream with disorder + malformed records + late records ─► PutRecords
 *   local ESM ─► handler worker process (killed mid-batch once) ─► DynamoDB state
 *   ticker (in-process, every second) ─► fires due windows ─► results table
 *   reconciliation: records in = applied + late + dead-lettered, and every
 *   window equals an independent recount of the produced records
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Writable } from 'node:stream';
import type { AwsClients } from '../adapters/aws-clients.ts';
import { fromResultItem } from '../adapters/dynamodb/dynamodb-result-sink.ts';
import { putRecords, type ProducerRecord } from '../kinesis/index.ts';
import { localAwsFromEnv } from '../local-aws/index.ts';
import type { WindowResult } from '../ports/sink.ts';
import { lambdaConfigFromEnv } from '../runtime/lambda/config.ts';
import { createLambdaHandlers } from '../runtime/lambda/handlers.ts';
import {
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
  S3OnFailureDestination,
  SqsOnFailureDestination,
  type OnFailureDestination,
} from '../runtime/local/esm/index.ts';
import { provisionFromTemplate, type LocalMapping } from '../runtime/local/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { badRecords } from './bad-records.ts';
import { generateClicks, type Click } from './clickstream.ts';
import { progressBar } from '../cli/progress.ts';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly events: number;
  readonly shards: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable & { isTTY?: boolean };
  readonly signal: AbortSignal;
  /** Kill the handler process in the middle of a batch this many times. @default 1 */
  readonly kills?: number;
}

/** What the demo measured; `ok` when everything reconciles. */
export interface DemoReport {
  readonly ok: boolean;
  readonly produced: number;
  readonly applied: number;
  readonly late: number;
  readonly deadLettered: number;
  readonly windows: number;
  readonly mismatchedWindows: number;
  readonly kills: number;
}

const MINUTE = 60_000;
const LATE_RECORDS = 25;

/** Runs the demo; resolves to its report (exit code 0 iff `ok`). */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const say = (line: string): void => void o.stdout.write(line + '\n');
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

    // Event times end a little before now, so processing-time idleness can close the last windows.
    const start = Math.floor((Date.now() - 7 * MINUTE) / MINUTE) * MINUTE;
    const clicks = generateClicks({
      count: o.events,
      startMs: start,
      spanMs: 5 * MINUTE,
      disorderMs: 3000,
    });
    const late: Click[] = Array.from({ length: LATE_RECORDS }, (_, i) => ({
      page: `/page/${i % 3}`,
      user: `late-${i}`,
      ts: start + (i % 2) * MINUTE + 17_000, // the first two minutes closed (plus lateness) long before these arrive
    }));
    const bad = badRecords(start + MINUTE);
    const input: ProducerRecord[] = clicks.map((c) => ({
      data: JSON.stringify(c),
      partitionKey: c.user,
    }));
    // Malformed records go in mid-stream: their shards must keep flowing.
    const step = Math.max(1, Math.floor(input.length / (bad.length + 1)));
    bad.forEach((b, i) =>
      input.splice((i + 1) * step + i, 0, { data: b.data, partitionKey: b.partitionKey }),
    );

    const invoker = new ProcessHandlerInvoker({
      handler: `${mapping.handlerEntry}#${mapping.handlerExport}`,
      env: { ...aws.env(), ...mapping.environment },
      functionName: mapping.functionLogicalId,
      onLog: (line) => {
        if (o.env['WEIR_DEMO_VERBOSE']) o.stderr.write(`[handler] ${line}\n`);
      },
    });
    const kills = o.kills ?? 1;
    const onFailure = onFailureDestination(mapping, clients);
    const esm = new LocalEventSourceMapping({
      kinesis: clients.kinesis,
      streamName: mapping.streamName,
      invoker,
      settings: { ...mapping.settings, batchSize: 250 },
      ...(onFailure ? { onFailure } : {}),
      pollIntervalMs: 100,
      functionName: mapping.functionLogicalId,
    });
    const tick = createLambdaHandlers(
      clickCounter,
      lambdaConfigFromEnv({ ...aws.env(), ...ticker.environment }),
      {
        log: (entry) => {
          if (o.env['WEIR_DEMO_VERBOSE']) o.stderr.write(`[ticker] ${JSON.stringify(entry)}\n`);
        },
      },
    ).ticker;

    const bar = progressBar(o.stderr, 'producing', input.length);
    // The kills are armed once every shard has completed a batch: a shard whose very first batch dies
    // has no progress yet and does not hold the watermark back (docs/semantics.md), which would turn
    // part of it late and blur what the demo shows. Later kills exercise the same recovery.
    let batchesDone = 0;
    const offKills = esm.on((e) => {
      if (e.type !== 'batch-end' || e.outcome !== 'success' || ++batchesDone !== o.shards) return;
      for (let i = 0; i < kills; i++) invoker.killDuringNextInvocation({ afterMs: 20 });
      offKills();
    });
    await esm.start();
    let ticking = true;
    const ticks = (async () => {
      while (ticking) {
        await tick().catch((err: unknown) => o.stderr.write(`ticker: ${String(err)}\n`));
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      // One request in flight keeps each shard in event-time order up to the generated disorder;
      // concurrent requests would land out of order and add up to ~2,000 records of disorder.
      const produced = await putRecords(clients.kinesis, mapping.streamName, input, {
        concurrency: 1,
        total: input.length,
        onProgress: (p) => bar.update(p.sent),
        signal: o.signal,
      });
      bar.end();
      await esm.waitUntilIdle({ timeoutMs: 180_000 });
      // Late records: after the watermark has passed the first windows' lateness.
      await putRecords(
        clients.kinesis,
        mapping.streamName,
        late.map((c) => ({ data: JSON.stringify(c), partitionKey: c.user })),
      );
      await esm.waitUntilIdle({ timeoutMs: 60_000 });
      say(
        `produced ${produced.records + late.length} records (${clicks.length} clicks, ${bad.length} malformed, ${late.length} late); ` +
          `per shard: ${Object.entries(produced.perShard)
            .map(([s, n]) => `${s.replace('shardId-', '')}=${n}`)
            .join(' ')}`,
      );
    } finally {
      await esm.stop();
      await invoker.close();
    }
    const stats = esm.stats();
    const crashes = invoker.stats().crashes;
    if (crashes < kills) say(`only ${crashes} of ${kills} requested handler kills happened`);
    say(
      `local ESM: ${stats.invocations} invocations; ${crashes} handler process(es) killed mid-batch, ` +
        `recovered by ${stats.retries} retries and ${stats.bisects} bisects; ${stats.failuresSent} batches to the on-failure destination`,
    );

    // Idle shards let the watermark follow processing time (idleAdvance): wait for the last windows.
    const lastWindowEnd = start + 6 * MINUTE;
    const needWatermark = lastWindowEnd + clickCounter.allowedLateness;
    const deadline = Date.now() + 60_000;
    let watermark = -Infinity;
    while (Date.now() < deadline) {
      const r = await tick();
      watermark = r.watermark;
      if (watermark >= needWatermark && r.fired === 0 && r.redriven === 0) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    ticking = false;
    await ticks;
    say(`operator watermark ${new Date(watermark).toISOString()}: every window closed and purged`);

    const output = mapping.environment['WEIR_OUTPUT_BUCKET'] ?? '';
    const prefix = mapping.environment['WEIR_CHECKPOINT_PREFIX'] ?? 'weir';
    const results = await scanResults(clients, mapping.environment['WEIR_RESULTS_TABLE'] ?? '');
    const deadKeys = await listKeys(
      clients,
      output,
      `${prefix}/${encodeURIComponent(clickCounter.name)}/dead-letter/`,
    );
    const lateKeys = await listKeys(
      clients,
      output,
      `${prefix}/${encodeURIComponent(clickCounter.name)}/late/`,
    );
    const lateOutput = await Promise.all(lateKeys.map((k) => readLateClick(clients, output, k)));
    return report(say, {
      clicks,
      late,
      bad: bad.length,
      results,
      deadLetters: deadKeys.length,
      lateOutput,
      kills,
      crashes,
    });
  } finally {
    clients.destroy();
    await aws.stop();
  }
}

function onFailureDestination(
  mapping: LocalMapping,
  clients: AwsClients,
): OnFailureDestination | undefined {
  const f = mapping.onFailure;
  if (f?.type === 's3') return new S3OnFailureDestination({ client: clients.s3, bucket: f.name });
  if (f?.type === 'sqs')
    return new SqsOnFailureDestination({ client: clients.sqs, queueUrl: f.name });
  return undefined;
}

async function scanResults(clients: AwsClients, table: string): Promise<WindowResult[]> {
  const out: WindowResult[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of page.Items ?? []) out.push(fromResultItem(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** The click inside a late-output object (its raw bytes, base64). */
async function readLateClick(clients: AwsClients, bucket: string, key: string): Promise<Click> {
  const obj = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const doc = JSON.parse(await (obj.Body?.transformToString() ?? Promise.resolve('{}'))) as {
    data?: string;
  };
  return JSON.parse(Buffer.from(doc.data ?? '', 'base64').toString('utf8')) as Click;
}

async function listKeys(clients: AwsClients, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const c of page.Contents ?? []) if (c.Key) keys.push(c.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

function report(
  say: (line: string) => void,
  r: {
    clicks: readonly Click[];
    late: readonly Click[];
    bad: number;
    results: readonly WindowResult[];
    deadLetters: number;
    lateOutput: readonly Click[];
    kills: number;
    crashes: number;
  },
): DemoReport {
  // The results table keeps the highest version of each window; a count's value is its records.
  const applied = r.results.reduce((n, w) => n + Number(w.value), 0);
  const produced = r.clicks.length + r.late.length + r.bad;

  // Independent recount: every produced click per (page, minute), minus the clicks the late output holds.
  const windowOf = (c: Click): string => `${c.page}|${Math.floor(c.ts / MINUTE) * MINUTE}`;
  const expected = new Map<string, number>();
  for (const c of [...r.clicks, ...r.late])
    expected.set(windowOf(c), (expected.get(windowOf(c)) ?? 0) + 1);
  for (const c of r.lateOutput) expected.set(windowOf(c), (expected.get(windowOf(c)) ?? 0) - 1);
  let mismatched = 0;
  for (const w of r.results)
    if (expected.get(`${w.key}|${w.window.start}`) !== Number(w.value)) mismatched++;
  const expectedWindows = [...expected.values()].filter((n) => n > 0).length;
  mismatched += Math.abs(expectedWindows - r.results.length);

  say('');
  say('busiest windows (results table, highest version):');
  say('  page          window start (UTC)     clicks  version');
  for (const w of [...r.results].sort((a, b) => Number(b.value) - Number(a.value)).slice(0, 8)) {
    say(
      `  ${w.key.padEnd(13)} ${new Date(w.window.start).toISOString().padEnd(22)} ${JSON.stringify(w.value).padStart(6)}  v${w.version}`,
    );
  }
  const refired = r.results.filter((w) => w.version > 1).length;
  say(`  (${refired} window(s) re-fired after late updates within the allowed lateness)`);
  say('');
  const lateCount = r.lateOutput.length;
  // The crash must really have happened for the run to prove anything about it.
  const ok =
    produced === applied + lateCount + r.deadLetters &&
    mismatched === 0 &&
    r.deadLetters === r.bad &&
    r.crashes >= r.kills;
  say(
    `reconciliation: records in ${produced} = applied ${applied} + late ${lateCount} + dead-lettered ${r.deadLetters}; ` +
      `${r.results.length} windows, ${mismatched} differ from an independent recount: ${ok ? 'OK' : 'MISMATCH'}`,
  );
  return {
    ok,
    produced,
    applied,
    late: lateCount,
    deadLettered: r.deadLetters,
    windows: r.results.length,
    mismatchedWindows: mismatched,
    kills: r.crashes,
  };
}
