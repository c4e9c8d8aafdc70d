/**
 * `weir redrive`: reads the ranges an event source mapping gave up on from
 * its on-failure destination, reads exactly those records back from
 * Kinesis and applies them through the operator's batch path, exactly once
 * (lib/runtime/redrive/, docs/recovery.md "Skipped batches and redrive").
 *
 * Exit codes:
 *   0  every range applied, or applied by an earlier run or a restore's replay (a dry run: listed)
 *   1  a range failed (an expired position, an AWS error, a record that is
 *      not an on-failure record): it stays at the destination, a rerun resumes it
 *   2  usage error (bad or missing option, a pipeline module without the operator)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAwsClients } from '../adapters/aws-clients.ts';
import { DynamoDbStateStore } from '../adapters/dynamodb/dynamodb-state-store.ts';
import type { WindowedOperatorDefinition } from '../core/pipeline.ts';
import { WeirError, describeError } from '../errors.ts';
import { systemClock } from '../ports/clock.ts';
import { lambdaConfigFromEnv } from '../runtime/lambda/config.ts';
import { createLambdaHandlers } from '../runtime/lambda/handlers.ts';
import {
  S3FailedBatches,
  SqsFailedBatches,
  kinesisRangeReader,
  redrive,
  type FailedBatchSource,
  type RedriveReport,
  type RedriveTarget,
} from '../runtime/redrive/index.ts';
import type { CliContext, Command } from './command.ts';
import {
  CLI_EXIT,
  UsageError,
  parseCommandLine,
  reportUsageError,
  type ParsedArgs,
} from './flags.ts';

/** Exit codes of `weir redrive`. */
export const REDRIVE_EXIT = {
  OK: CLI_EXIT.OK,
  FAILED: CLI_EXIT.FAILURE,
  USAGE: CLI_EXIT.USAGE,
} as const;

const USAGE = `Usage: weir redrive --operator NAME --source SOURCE [--pipeline MODULE] [options]

Brings back, exactly once, the batches the operator's event source mapping
gave up on (maximumRetryAttempts or maximumRecordAgeInSeconds exhausted): reads
each on-failure record's shard and sequence range, reads exactly those records
back from Kinesis and applies them through the operator's batch path. Each
range is its own source in the state items, so records the live batches
skipped are applied below the shard's position; records late against the
current watermark go to the late output. Running it again changes nothing.

Options:
  --operator NAME      the operator (its pipeline's name) (required)
  --source SOURCE      where the on-failure records are (required):
                         sqs:QUEUE_URL         the on-failure queue; for an SNS
                                               destination, a queue subscribed to the topic
                         s3://BUCKET[/PREFIX]  the on-failure bucket
  --pipeline MODULE    module exporting the operator's pipeline (required unless --dry-run)
  --stream ARN         only ranges of this stream (others are left where they are)
  --dry-run            list what would be replayed; change nothing
  --chunk N            Kinesis records per batch (1..10000, default 1000)
  --json               print the report as JSON on stdout
  -h, --help           this text

The state table, results table and output bucket come from the variables the
operator's functions read (WEIR_STATE_TABLE, WEIR_RESULTS_TABLE,
WEIR_OUTPUT_BUCKET, WEIR_CHECKPOINT_PREFIX); endpoints from AWS_ENDPOINT_URL /
AWS_ENDPOINT_URL_<SERVICE> when set.

A range a restore's replay read (it lies after the checkpoint's position of its
shard) is reported replayed-by-restore and not applied again; of a range partly
after it, only the part before is applied.

Exit codes: 0 every range applied (or already applied; a dry run: listed);
1 a range failed and stays at the destination (a rerun resumes it); 2 usage error.`;

const FLAGS = {
  operator: { type: 'string' },
  source: { type: 'string' },
  pipeline: { type: 'string' },
  stream: { type: 'string' },
  'dry-run': { type: 'boolean' },
  chunk: { type: 'string' },
  json: { type: 'boolean' },
} as const;

interface RedriveArgs {
  readonly operator: string;
  readonly source: string;
  readonly pipeline: string | undefined;
  readonly stream: string | undefined;
  readonly dryRun: boolean;
  readonly chunk: number;
  readonly json: boolean;
}

function toArgs({ flags }: ParsedArgs<typeof FLAGS>): RedriveArgs {
  if (!flags.operator) throw new UsageError('--operator is required');
  if (!flags.source) throw new UsageError('--source is required');
  const dryRun = flags['dry-run'] === true;
  if (!dryRun && !flags.pipeline)
    throw new UsageError('--pipeline is required (the module exporting the operator)');
  const chunk = flags.chunk === undefined ? 1000 : Number(flags.chunk);
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000)
    throw new UsageError(`--chunk must be an integer 1..10000 (given ${flags.chunk})`);
  return {
    operator: flags.operator,
    source: flags.source,
    pipeline: flags.pipeline,
    stream: flags.stream,
    dryRun,
    chunk,
    json: flags.json === true,
  };
}

/** The on-failure records named by `--source`. */
export function failedBatchSource(
  source: string,
  clients: Pick<ReturnType<typeof createAwsClients>, 'sqs' | 's3'>,
): FailedBatchSource {
  if (source.startsWith('sqs:'))
    return new SqsFailedBatches({ client: clients.sqs, queueUrl: source.slice('sqs:'.length) });
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(source);
  if (s3)
    return new S3FailedBatches({
      client: clients.s3,
      bucket: s3[1] as string,
      prefix: s3[2] ?? '',
    });
  throw new UsageError(`--source must be sqs:QUEUE_URL or s3://BUCKET[/PREFIX] (given ${source})`);
}

/** The operator's definition exported by `module` (an export whose name is `operator`); `weir restore` loads it too. */
export async function loadDefinition(
  module: string,
  operator: string,
  cwd: string,
): Promise<WindowedOperatorDefinition<unknown, unknown, unknown>> {
  const mod = (await import(pathToFileURL(resolve(cwd, module)).href)) as Record<string, unknown>;
  for (const v of Object.values(mod)) {
    if (typeof v === 'object' && v !== null && (v as { name?: unknown }).name === operator)
      if ('lateDataTag' in v && 'assigner' in v)
        return v as WindowedOperatorDefinition<unknown, unknown, unknown>;
  }
  throw new UsageError(`${module} exports no pipeline named "${operator}"`);
}

/** A target for a dry run: never called. */
const NO_TARGET: RedriveTarget = {
  handleRedrive: () => Promise.reject(new WeirError('internal: a dry run applied a range')),
};

async function run(a: RedriveArgs, ctx: CliContext): Promise<number> {
  const config = lambdaConfigFromEnv(ctx.env);
  const clients = createAwsClients({
    region: config.region,
    endpoints: config.endpoints,
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
  try {
    const definition =
      a.pipeline === undefined ? undefined : await loadDefinition(a.pipeline, a.operator, ctx.cwd);
    const runtime =
      definition === undefined
        ? NO_TARGET
        : createLambdaHandlers(
            definition,
            { ...config, operator: a.operator },
            {
              log: () => undefined,
            },
          ).runtime;
    const store = new DynamoDbStateStore({
      client: clients.dynamodb,
      tableName: config.stateTable,
      clock: systemClock,
    });
    let lastLine = 0;
    const report = await redrive({
      operator: a.operator,
      runtime,
      store,
      failures: failedBatchSource(a.source, clients),
      readRange: kinesisRangeReader(clients.kinesis),
      clock: systemClock,
      dryRun: a.dryRun,
      chunkRecords: a.chunk,
      ...(a.stream === undefined ? {} : { streamArn: a.stream }),
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastLine < 1000) return;
        lastLine = now;
        ctx.stderr.write(`redrive: ${p.ranges} ranges done, ${p.records} records applied\n`);
      },
    });
    ctx.stdout.write(a.json ? JSON.stringify(report, null, 2) + '\n' : summary(report));
    return report.failed > 0 ? REDRIVE_EXIT.FAILED : REDRIVE_EXIT.OK;
  } finally {
    clients.destroy();
  }
}

/** The human-readable report: one line per range, then the totals. */
function summary(r: RedriveReport): string {
  const lines = r.ranges.map((x) => {
    const where =
      x.shardId === undefined
        ? x.id
        : `${x.shardId} ${x.startSequenceNumber}..${x.endSequenceNumber} (${x.batchSize ?? '?'} records)`;
    const c = x.counts;
    const what =
      x.status === 'applied'
        ? `applied: ${c.inState} in state, ${c.late} late, ${c.deadLettered} dead letters, ${c.filtered} filtered` +
          (c.alreadyRedriven > 0
            ? `, ${c.alreadyRedriven} applied by an earlier run or a restore's replay`
            : '')
        : x.status === 'would-redrive' && x.replayedByRestore === 'part'
          ? `${x.status} (part of it was replayed by a restore: only the rest)`
          : x.status;
    return `${where}: ${what}${x.error === undefined ? '' : ` (${x.error})`}`;
  });
  const t = r.totals;
  lines.push(
    r.dryRun
      ? `dry run: ${r.ranges.filter((x) => x.status === 'would-redrive').length} ranges would be replayed; nothing changed`
      : `${r.ranges.length} ranges, ${t.records} records: ${t.inState} in state, ${t.late} late, ` +
          `${t.deadLettered} dead letters, ${t.filtered} filtered; ${r.failed} failed`,
  );
  return lines.join('\n') + '\n';
}

export const redriveCommand: Command = {
  name: 'redrive',
  summary: 'replay the batches the event source mapping gave up on, exactly once',
  usage: USAGE,
  async run(args, ctx) {
    const line = parseCommandLine(this, args, ctx, FLAGS, toArgs);
    if (!line.ok) return line.exitCode;
    try {
      return await run(line.value, ctx);
    } catch (err) {
      if (err instanceof UsageError) return reportUsageError(this, ctx, err);
      ctx.stderr.write(`weir redrive: ${describeError(err)}\n`);
      return REDRIVE_EXIT.FAILED;
    }
  },
};
