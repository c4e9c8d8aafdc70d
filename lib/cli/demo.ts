/**
 * `weir demo` (what `npm start` runs): the end-to-end demo on the embedded
 * AWS, or on LocalStack when AWS_ENDPOINT_URL is set.
 *
 *   synthesize the CDK stack ─► create its stream, tables, buckets locally
 *        ─► produce a clickstream (PutRecords) ─► local event source mapping
 *        ─► handler in a worker process ─► DynamoDB ─► results + reconciliation
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Command, CliContext } from './command.ts';
import { progressBar } from './progress.ts';
import { localAwsFromEnv } from '../local-aws/index.ts';
import { loadDemoTemplate, provisionFromTemplate } from '../runtime/local/provision.ts';
import {
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
  S3OnFailureDestination,
  SqsOnFailureDestination,
  type OnFailureDestination,
} from '../runtime/local/esm/index.ts';
import { putRecords } from '../kinesis/index.ts';
import { generateClicks, type Click } from '../demo/clickstream.ts';
import type { AwsClients } from '../adapters/aws-clients.ts';
import type { LocalMapping } from '../runtime/local/provision.ts';

const USAGE = `Usage: weir demo [--events N] [--shards N]

Runs the click-counter demo end to end: synthesizes the CDK stack, creates its
resources on the embedded AWS (or LocalStack when AWS_ENDPOINT_URL is set),
produces N synthetic clicks across the stream's shards, drains them through
the local event source mapping into the Lambda handler running in a worker
process, then prints the busiest windows and a reconciliation.
Exit code 0 when every produced record is accounted for, 1 otherwise.

  --events N   clicks to produce (default 4000)
  --shards N   shards of the input stream (default 4)`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the end-to-end demo (npm start)',
  usage: USAGE,
  async run(args, ctx) {
    if (args.includes('--help')) {
      ctx.stdout.write(USAGE + '\n');
      return 0;
    }
    const events = intFlag(args, '--events', 4000, 1, 1_000_000);
    const shards = intFlag(args, '--shards', 4, 1, 50);
    return runDemo(ctx, { events, shards });
  },
};

function intFlag(args: readonly string[], name: string, dflt: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name} must be an integer ${min}..${max} (given ${args[i + 1]})`);
  }
  return v;
}

async function runDemo(ctx: CliContext, opts: { events: number; shards: number }): Promise<number> {
  const say = (line: string): void => void ctx.stdout.write(line + '\n');
  const t0 = Date.now();
  const aws = await localAwsFromEnv(ctx.env);
  const clients = aws.clients();
  try {
    say(
      aws.mode === 'embedded'
        ? `embedded AWS up in ${Date.now() - t0} ms (kinesalite ${aws.startup.kinesisMs} ms, DynamoDB Local ${aws.startup.dynamodbMs} ms, s3rver ${aws.startup.s3Ms} ms)`
        : `using external AWS endpoints (${aws.endpoints.kinesis})`,
    );
    // The embedded tier has no SQS, so the on-failure destination is an S3 bucket there.
    const onFailureType = aws.endpoints.sqs ? 'sqs' : 's3';
    const template = await loadDemoTemplate({ shardCount: opts.shards, onFailure: onFailureType });
    const resources = await provisionFromTemplate(template, clients);
    const mapping = resources.mappings[0];
    if (!mapping) throw new Error('the demo stack has no event source mapping');
    say(
      `stack ${resources.stackName}: stream ${mapping.streamName} (${opts.shards} shards), ` +
        `tables ${resources.tables.map((t) => t.name).join(', ')}, handler ${mapping.handlerEntry}`,
    );

    const clicks = generateClicks({ count: opts.events });
    const bar = progressBar(ctx.stderr, 'producing', clicks.length);
    const produced = await putRecords(
      clients.kinesis,
      mapping.streamName,
      clicks.map((c) => ({ data: JSON.stringify(c), partitionKey: c.user })),
      { total: clicks.length, onProgress: (p) => bar.update(p.sent), signal: ctx.signal },
    );
    bar.end();
    say(
      `produced ${produced.records} records in ${produced.requests} PutRecords calls; per shard: ` +
        Object.entries(produced.perShard)
          .map(([s, n]) => `${s.replace('shardId-', '')}=${n}`)
          .join(' '),
    );

    const invoker = new ProcessHandlerInvoker({
      handler: `${mapping.handlerEntry}#${mapping.handlerExport}`,
      env: { ...aws.env(), ...mapping.environment },
      functionName: mapping.functionLogicalId,
      onLog: (line) => {
        if (ctx.env['WEIR_DEMO_VERBOSE']) ctx.stderr.write(`[handler] ${line}\n`);
      },
    });
    const onFailure = onFailureDestination(mapping, clients);
    const esm = new LocalEventSourceMapping({
      kinesis: clients.kinesis,
      streamName: mapping.streamName,
      invoker,
      settings: mapping.settings,
      ...(onFailure ? { onFailure } : {}),
      pollIntervalMs: 100,
      functionName: mapping.functionLogicalId,
    });
    const drainStart = Date.now();
    esm.start();
    try {
      await esm.waitUntilIdle({ timeoutMs: 120_000 });
    } finally {
      await esm.stop();
      await invoker.close();
    }
    const stats = esm.stats();
    const drainMs = Date.now() - drainStart;
    say(
      `drained in ${drainMs} ms: ${stats.invocations} invocations, ${stats.recordsDelivered} records delivered, ` +
        `${stats.retries} retries, ${stats.failuresSent} batches to the on-failure destination`,
    );

    const table = mapping.environment['WEIR_STATE_TABLE'];
    if (!table) throw new Error('the handler has no WEIR_STATE_TABLE');
    const operator = mapping.operatorName ?? mapping.environment['WEIR_OPERATOR'] ?? 'click-counter';
    const state = await scanAll(clients, table);
    return report(say, operator, clicks, state);
  } finally {
    clients.destroy();
    await aws.stop();
  }
}

function onFailureDestination(mapping: LocalMapping, clients: AwsClients): OnFailureDestination | undefined {
  const f = mapping.onFailure;
  if (!f) return undefined;
  if (f.type === 's3') return new S3OnFailureDestination({ client: clients.s3, bucket: f.name });
  if (f.type === 'sqs') return new SqsOnFailureDestination({ client: clients.sqs, queueUrl: f.name });
  return undefined;
}

async function scanAll(clients: AwsClients, table: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.documentClient.send(
      new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

function report(
  say: (line: string) => void,
  operator: string,
  clicks: readonly Click[],
  items: readonly Record<string, unknown>[],
): number {
  const expected = new Map<string, number>();
  for (const c of clicks) {
    const k = `${c.page}|${Math.floor(c.ts / 60_000) * 60_000}`;
    expected.set(k, (expected.get(k) ?? 0) + 1);
  }
  const windows = items.filter((i) => typeof i['windowStart'] === 'number');
  const shards = items.filter((i) => i['pk'] === `${operator}#_shards`);
  const processed = shards.reduce((n, s) => n + Number(s['records'] ?? 0), 0);
  const deadLettered = shards.reduce((n, s) => n + Number(s['deadLettered'] ?? 0), 0);
  const counted = windows.reduce((n, w) => n + Number(w['count'] ?? 0), 0);

  say('');
  say('busiest (page, minute) windows:');
  say('  page          window start (UTC)     clicks');
  for (const w of [...windows].sort((a, b) => Number(b['count']) - Number(a['count'])).slice(0, 8)) {
    say(
      `  ${String(w['page']).padEnd(13)} ${new Date(Number(w['windowStart'])).toISOString().padEnd(22)} ${String(w['count']).padStart(6)}`,
    );
  }
  let mismatched = 0;
  for (const w of windows) {
    const k = `${String(w['page'])}|${Number(w['windowStart'])}`;
    if (expected.get(k) !== Number(w['count'])) mismatched++;
  }
  mismatched += Math.max(0, expected.size - windows.length);
  say('');
  const ok = processed === clicks.length && counted + deadLettered === processed && mismatched === 0;
  say(
    `reconciliation: produced ${clicks.length} = processed ${processed} ` +
      `(counted ${counted} + dead-lettered ${deadLettered}); ` +
      `${windows.length} windows, ${mismatched} differ from an in-memory recount: ${ok ? 'OK' : 'MISMATCH'}`,
  );
  return ok ? 0 : 1;
}
