/**
 * `weir restore`: pauses the operator's event source mapping, puts its state
 * and positions back to a checkpoint's, replays the stream from there
 * through the operator's batch path and resumes the mapping
 * (lib/runtime/restore/, docs/recovery.md "Restore and replay").
 *
 * Exit codes:
 *   0  restored, replayed, the mapping resumed
 *   1  failed: the mapping is left paused; the message says what to run next
 *   2  usage error (bad or missing option, a pipeline module without the operator)
 *   3  the checkpoint is corrupt or the stream no longer holds its positions
 *      (nothing of the state was changed; the mapping is left paused)
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaMappingControl } from '../adapters/lambda/lambda-mapping-control.ts';
import { openCheckpoint } from '../core/checkpoint/read-checkpoint.ts';
import { CheckpointError, ReplayGapError, describeError } from '../errors.ts';
import type { MappingControl } from '../ports/mapping-control.ts';
import { openOperatorCheckpoints } from '../runtime/checkpoint/operator-checkpoints.ts';
import { lambdaConfigFromEnv } from '../runtime/lambda/config.ts';
import { createLambdaHandlers } from '../runtime/lambda/handlers.ts';
import {
  DEFAULT_REPLAY_CONCURRENCY,
  DEFAULT_REPLAY_SLICE_MS,
  RestoreFailedError,
  findMappingUuid,
  kinesisReplaySource,
  restoreOperator,
  type RestoreProgress,
  type RestoreSummary,
} from '../runtime/restore/index.ts';
import { WeirEnv } from '../runtime/weir-env.ts';
import type { CliContext, Command } from './command.ts';
import {
  CLI_EXIT,
  UsageError,
  parseCommandLine,
  reportUsageError,
  type ParsedArgs,
} from './flags.ts';
import { loadDefinition } from './redrive.ts';

/** Exit codes of `weir restore`. */
export const RESTORE_EXIT = {
  OK: CLI_EXIT.OK,
  FAILED: CLI_EXIT.FAILURE,
  USAGE: CLI_EXIT.USAGE,
  CHECKPOINT_OR_GAP: 3,
} as const;

const USAGE = `Usage: weir restore --operator NAME --pipeline MODULE (--function-name F | --mapping-uuid U | --no-pause) [options]

Restores the operator from a checkpoint and replays its stream: pauses the
event source mapping (waiting until Lambda reports it Disabled), checks that
the stream still holds every shard's position, verifies every part of the
checkpoint, replaces the operator's state and positions with the
checkpoint's under a new restore generation (a batch still in flight is
fenced: its writes fail and its retry is judged by the restored state),
replays every shard from its position to the tip through the operator's
batch path (parents before children, shards created since from their
start), fires what is due and resumes the mapping. Windows re-fired carry
the new generation and replace earlier results in every sink; windows that
fired after the checkpoint and do not fire again (a correction changed
them) get a retraction in the result sink.

Options:
  --operator NAME      the operator (its pipeline's name) (required)
  --pipeline MODULE    module exporting the operator's pipeline (required)
  --checkpoint ID      the checkpoint to restore, or latest (default latest)
  --function-name F    the operator's batch function: pause its mapping from the stream
  --mapping-uuid U     the event source mapping to pause, by UUID
  --no-pause           pause nothing: ONLY for an operator whose mapping is stopped
                       (disabled or deleted); a running mapping would process
                       records meanwhile against the state being replaced
  --stream S           the stream (name or ARN); must be the checkpoint's (default: the checkpoint's)
  --bucket B           checkpoint bucket (default ${WeirEnv.CHECKPOINT_BUCKET})
  --prefix P           checkpoint key prefix (default ${WeirEnv.CHECKPOINT_PREFIX} or weir)
  --concurrency N      replay batches run at once (default 2)
  --chunk N            Kinesis records per batch (1..10000, default 10000)
  --slice-ms N         the replay advances all shards together in rounds of N
                       ms of arrival time, so each batch judges lateness against
                       the other shards about where the live run had them
                       (1..3600000, default 1000: the mapping's poll interval)
  --json               print the summary as JSON on stdout
  -h, --help           this text

The state table, results table and output bucket come from the variables the
operator's functions read (${WeirEnv.STATE_TABLE}, ${WeirEnv.RESULTS_TABLE},
${WeirEnv.OUTPUT_BUCKET}); endpoints from AWS_ENDPOINT_URL /
AWS_ENDPOINT_URL_<SERVICE> when set. A mapping run in process by weir dev or
the demo is paused by the program running it (LocalMappingControl), not by
this command.

Exit codes: 0 restored, replayed and resumed; 1 failed, the mapping is left
paused and the message says what to run next; 2 usage error; 3 the
checkpoint is corrupt or the stream no longer holds its positions (the state
is untouched, the mapping is left paused).`;

const FLAGS = {
  operator: { type: 'string' },
  pipeline: { type: 'string' },
  checkpoint: { type: 'string' },
  'function-name': { type: 'string' },
  'mapping-uuid': { type: 'string' },
  'no-pause': { type: 'boolean' },
  stream: { type: 'string' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  concurrency: { type: 'string' },
  chunk: { type: 'string' },
  'slice-ms': { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Mapping =
  | { readonly kind: 'function'; readonly name: string }
  | { readonly kind: 'uuid'; readonly uuid: string }
  | { readonly kind: 'none' };

interface RestoreArgs {
  readonly operator: string;
  readonly pipeline: string;
  readonly checkpoint: string;
  readonly mapping: Mapping;
  readonly stream: string | undefined;
  readonly bucket: string;
  readonly prefix: string;
  readonly concurrency: number;
  readonly chunk: number;
  readonly sliceMs: number;
  readonly json: boolean;
}

function intFlag(v: string | undefined, name: string, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be an integer 1..${max} (given ${v})`);
  return n;
}

function toArgs({ flags }: ParsedArgs<typeof FLAGS>, env: CliContext['env']): RestoreArgs {
  if (!flags.operator) throw new UsageError('--operator is required');
  if (!flags.pipeline)
    throw new UsageError('--pipeline is required (the module exporting the operator)');
  const given = [flags['function-name'], flags['mapping-uuid'], flags['no-pause']].filter(
    (v) => v !== undefined && v !== false,
  );
  if (given.length !== 1)
    throw new UsageError(
      'name the mapping to pause with exactly one of --function-name, --mapping-uuid, or --no-pause (operator stopped)',
    );
  const mapping: Mapping = flags['function-name']
    ? { kind: 'function', name: flags['function-name'] }
    : flags['mapping-uuid']
      ? { kind: 'uuid', uuid: flags['mapping-uuid'] }
      : { kind: 'none' };
  const bucket = flags.bucket ?? env[WeirEnv.CHECKPOINT_BUCKET];
  if (!bucket) throw new UsageError(`--bucket is required (or set ${WeirEnv.CHECKPOINT_BUCKET})`);
  return {
    operator: flags.operator,
    pipeline: flags.pipeline,
    checkpoint: flags.checkpoint ?? 'latest',
    mapping,
    stream: flags.stream,
    bucket,
    prefix: flags.prefix ?? env[WeirEnv.CHECKPOINT_PREFIX] ?? 'weir',
    concurrency: intFlag(flags.concurrency, 'concurrency', 64, DEFAULT_REPLAY_CONCURRENCY),
    chunk: intFlag(flags.chunk, 'chunk', 10_000, 10_000),
    sliceMs: intFlag(flags['slice-ms'], 'slice-ms', 3_600_000, DEFAULT_REPLAY_SLICE_MS),
    json: flags.json === true,
  };
}

/** The command line that runs this restore again from `checkpoint`. */
function rerunLine(a: RestoreArgs, checkpoint: string): string {
  const m =
    a.mapping.kind === 'function'
      ? `--function-name ${a.mapping.name}`
      : a.mapping.kind === 'uuid'
        ? `--mapping-uuid ${a.mapping.uuid}`
        : '--no-pause';
  return `\`weir restore --operator ${a.operator} --pipeline ${a.pipeline} --checkpoint ${checkpoint} ${m}\``;
}

async function run(a: RestoreArgs, ctx: CliContext): Promise<number> {
  const config = lambdaConfigFromEnv(ctx.env);
  const op = openOperatorCheckpoints({
    operator: a.operator,
    region: config.region,
    endpoints: config.endpoints,
    ...(config.credentials ? { credentials: config.credentials } : {}),
    checkpointBucket: a.bucket,
    checkpointPrefix: a.prefix,
    stateTable: config.stateTable,
  });
  const lambdaEndpoint = ctx.env['AWS_ENDPOINT_URL_LAMBDA'] ?? ctx.env['AWS_ENDPOINT_URL'];
  const lambda = new LambdaClient({
    region: config.region,
    ...(lambdaEndpoint ? { endpoint: lambdaEndpoint } : {}),
    ...(config.credentials ? { credentials: { ...config.credentials } } : {}),
  });
  try {
    const definition = await loadDefinition(a.pipeline, a.operator, ctx.cwd);
    const state = op.state;
    if (state === undefined)
      throw new UsageError(`${WeirEnv.STATE_TABLE} must name the state table`);
    // Before anything is paused: the checkpoint exists, its stream is the one named, its mapping is found.
    const manifest = await openCheckpoint(op.checkpoints, a.operator, a.checkpoint);
    const arn = manifest.streamArn;
    if (a.stream !== undefined && a.stream !== arn && !arn.endsWith(`/${a.stream}`))
      throw new UsageError(
        `--stream ${a.stream} is not the stream of checkpoint ${manifest.id} (${arn}): positions of one stream mean nothing in another`,
      );
    // The checkpoint's stream as the runtime's shard directory: the closing tick closes the
    // parents the replay read to their end (a reshard since the checkpoint), as the ticker would.
    const runtime = createLambdaHandlers(
      definition,
      { ...config, operator: a.operator, streamName: arn.slice(arn.lastIndexOf('/') + 1) },
      { log: () => undefined },
    ).runtime;
    const mapping = await mappingControl(a, lambda, arn);
    const bar = progressBar(ctx);
    const summary = await restoreOperator({
      operator: a.operator,
      state,
      checkpoints: op.checkpoints,
      checkpoint: manifest.id,
      mapping: mapping?.control,
      resumeHint:
        mapping === undefined
          ? 'nothing was paused (--no-pause)'
          : `\`aws lambda update-event-source-mapping --uuid ${mapping.uuid} --enabled\``,
      rerun: (id) => rerunLine(a, id),
      source: (streamArn) => kinesisReplaySource({ client: op.clients.kinesis, streamArn }),
      target: runtime,
      concurrency: a.concurrency,
      chunkRecords: a.chunk,
      sliceMs: a.sliceMs,
      onProgress: bar,
    });
    ctx.stdout.write(a.json ? JSON.stringify(summary, null, 2) + '\n' : summaryText(summary));
    return RESTORE_EXIT.OK;
  } finally {
    op.clients.destroy();
    lambda.destroy();
  }
}

/** The mapping's control and UUID, or `undefined` with --no-pause. */
async function mappingControl(
  a: RestoreArgs,
  lambda: LambdaClient,
  streamArn: string,
): Promise<{ control: MappingControl; uuid: string } | undefined> {
  if (a.mapping.kind === 'none') return undefined;
  const uuid =
    a.mapping.kind === 'uuid'
      ? a.mapping.uuid
      : await findMappingUuid(lambda, a.mapping.name, streamArn);
  return { control: new LambdaMappingControl({ client: lambda, uuid }), uuid };
}

/** A progress line on stderr at each phase and at most once a second within one. */
function progressBar(ctx: CliContext): (p: RestoreProgress) => void {
  let phase = '';
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase === phase && now - last < 1000) return;
    phase = p.phase;
    last = now;
    const detail =
      p.phase === 'restoring'
        ? ` ${bar(p.items, p.itemsTotal)} ${p.items}/${p.itemsTotal} items`
        : p.phase === 'replaying'
          ? ` ${bar(p.shardsDone, p.shards)} ${p.shardsDone}/${p.shards} shards, ${p.records} records`
          : '';
    ctx.stderr.write(`restore: ${p.phase}${detail}\n`);
  };
}

function bar(done: number, total: number): string {
  const width = 20;
  const full = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

function summaryText(s: RestoreSummary): string {
  const r = s.replay;
  return (
    [
      `restored ${s.operator} from checkpoint ${s.checkpointId} (generation ${s.generation}): ${s.windowsLoaded} window items loaded`,
      `replayed ${r.records} records from ${r.shards} shards: ${r.inState} in state, ${r.late} late, ${r.deadLettered} dead letters, ${r.skipped} already in the checkpoint`,
      `windows re-fired: ${s.windowsRefired}; windows retracted: ${s.windowsRetracted} (fired after the checkpoint, not fired again)`,
      `${s.seconds.toFixed(1)} s, ${s.recordsPerSecond} records/s replayed`,
      s.paused ? 'the mapping is resumed' : 'nothing was paused (--no-pause)',
    ].join('\n') + '\n'
  );
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore an operator from a checkpoint and replay its stream',
  usage: USAGE,
  async run(args, ctx) {
    const line = parseCommandLine(this, args, ctx, FLAGS, (p) => toArgs(p, ctx.env));
    if (!line.ok) return line.exitCode;
    try {
      return await run(line.value, ctx);
    } catch (err) {
      if (err instanceof UsageError) return reportUsageError(this, ctx, err);
      ctx.stderr.write(`weir restore: ${describeError(err)}\n`);
      const cause = err instanceof RestoreFailedError ? err.cause : err;
      return cause instanceof CheckpointError || cause instanceof ReplayGapError
        ? RESTORE_EXIT.CHECKPOINT_OR_GAP
        : RESTORE_EXIT.FAILED;
    }
  },
};
