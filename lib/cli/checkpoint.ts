/**
 * `weir checkpoint` (take one now) and `weir checkpoints` (list them), parsed
 * with the shared flag parser (./flags.ts): thin
 * over lib/core/checkpoint (the taker, the listing) and
 * lib/runtime/checkpoint (the wiring). Resources come from flags or from the
 * variables the WeirOperator construct sets on its functions
 * (`WEIR_STATE_TABLE`, `WEIR_CHECKPOINT_BUCKET`, `WEIR_CHECKPOINT_PREFIX`,
 * `WEIR_STREAM_ARN` / `WEIR_STREAM_NAME`), so a shell with a function's
 * environment needs only `--operator`.
 *
 * Exit codes (both commands):
 *   0   done
 *   1   AWS or checkpoint failure (the message says which)
 *   2   usage error (unknown flag, missing option)
 *   3   `weir checkpoints --verify` found a corrupt checkpoint
 */
import { endpointsFromEnv } from '../adapters/aws-clients.ts';
import { CheckpointTaker } from '../core/checkpoint/take-checkpoint.ts';
import { CheckpointStatus, listCheckpoints } from '../core/checkpoint/read-checkpoint.ts';
import { applyRetention } from '../core/checkpoint/retention.ts';
import { WeirError } from '../errors.ts';
import { UsageError, parseFlags, reportUsageError, type FlagSpec } from './flags.ts';
import { systemClock } from '../ports/clock.ts';
import {
  ReportingCheckpointStore,
  openOperatorCheckpoints,
  type OperatorCheckpointsTarget,
} from '../runtime/checkpoint/operator-checkpoints.ts';
import { credentialsFromEnv } from '../runtime/lambda/config.ts';
import { WeirEnv } from '../runtime/weir-env.ts';
import type { CliContext, Command } from './command.ts';

/** Exit codes of `weir checkpoint` and `weir checkpoints`. */
export const CHECKPOINT_EXIT = { OK: 0, FAILED: 1, USAGE: 2, CORRUPT: 3 } as const;

const COMMON_OPTIONS = `  --operator NAME        the operator (required)
  --bucket B             checkpoint bucket (default WEIR_CHECKPOINT_BUCKET)
  --prefix P             checkpoint key prefix (default WEIR_CHECKPOINT_PREFIX or weir)
  --region R             AWS region (default AWS_REGION or us-east-1)
  --json                 one JSON document on stdout instead of text
  -h, --help             this text

Endpoints come from AWS_ENDPOINT_URL and the per-service variables when set.`;

const CHECKPOINT_USAGE = `Usage: weir checkpoint --operator NAME [options]

Takes one checkpoint of the operator now (whatever the schedule says): reads
the shards' progress, scans the state table in parallel segments and writes
the parts and then the manifest to S3. Prints a progress line on stderr and
the checkpoint id on stdout.

Options:
${COMMON_OPTIONS}
  --state-table T        state table (default WEIR_STATE_TABLE)
  --stream S             source stream name or ARN (default WEIR_STREAM_ARN, then WEIR_STREAM_NAME)
  --segments N           segments of the parallel scan (default 4)
  --merging-windows      the operator uses session windows (settle each key)
  --retain N             afterwards, keep the newest N complete checkpoints, delete older ones

Exit codes: 0 taken; 1 AWS or checkpoint failure; 2 usage error.`;

const CHECKPOINTS_USAGE = `Usage: weir checkpoints --operator NAME [options]

Lists the operator's checkpoint folders, newest first: id, age, items, stored
bytes and status (complete, corrupt, in-progress, orphan).

Options:
${COMMON_OPTIONS}
  --verify               read every part back and check size, SHA-256 and items

Exit codes: 0 listed; 1 AWS failure; 2 usage error; 3 --verify found a corrupt checkpoint.`;

type Flags = Record<string, string | boolean | undefined>;

function parse(
  args: readonly string[],
  extra: Record<string, 'string' | 'boolean'>,
): Flags | 'help' {
  const options: Record<string, FlagSpec> = {
    operator: { type: 'string' },
    bucket: { type: 'string' },
    prefix: { type: 'string' },
    region: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [k, type] of Object.entries(extra)) options[k] = { type };
  // The shared parser: declared flags only, so a mistyped flag is a UsageError.
  const values: Flags = parseFlags(args, options).flags;
  if (values['help'] === true) return 'help';
  if (typeof values['operator'] !== 'string' || values['operator'] === '')
    throw new UsageError('--operator is required');
  return values;
}

function target(f: Flags, env: CliContext['env']): OperatorCheckpointsTarget {
  const str = (k: string): string | undefined => (typeof f[k] === 'string' ? f[k] : undefined);
  const bucket = str('bucket') ?? env[WeirEnv.CHECKPOINT_BUCKET];
  if (!bucket) throw new UsageError(`--bucket is required (or set ${WeirEnv.CHECKPOINT_BUCKET})`);
  const stateTable = str('state-table') ?? env[WeirEnv.STATE_TABLE];
  const stream = str('stream') ?? env[WeirEnv.STREAM_ARN] ?? env[WeirEnv.STREAM_NAME];
  const credentials = credentialsFromEnv(env);
  return {
    operator: str('operator')!,
    region: str('region') ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
    endpoints: endpointsFromEnv(env),
    ...(credentials ? { credentials } : {}),
    checkpointBucket: bucket,
    checkpointPrefix: str('prefix') ?? env[WeirEnv.CHECKPOINT_PREFIX] ?? 'weir',
    ...(stateTable ? { stateTable } : {}),
    ...(stream ? { stream } : {}),
  };
}

function positiveInt(f: Flags, name: string): number | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer (given ${String(v)})`);
  return n;
}

/** Runs a command body with the shared usage and failure handling. */
async function guarded(
  command: Pick<Command, 'name' | 'usage'>,
  ctx: CliContext,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(command, ctx, err);
    ctx.stderr.write(`weir: ${err instanceof Error ? err.message : String(err)}\n`);
    return CHECKPOINT_EXIT.FAILED;
  }
}

export const checkpointCommand: Command = {
  name: 'checkpoint',
  summary: "take one checkpoint of an operator's state now",
  usage: CHECKPOINT_USAGE,
  run(args, ctx) {
    return guarded(this, ctx, async () => {
      const f = parse(args, {
        'state-table': 'string',
        stream: 'string',
        segments: 'string',
        'merging-windows': 'boolean',
        retain: 'string',
      });
      if (f === 'help') {
        ctx.stdout.write(CHECKPOINT_USAGE + '\n');
        return CHECKPOINT_EXIT.OK;
      }
      const t = target(f, ctx.env);
      if (t.stateTable === undefined)
        throw new UsageError(`--state-table is required (or set ${WeirEnv.STATE_TABLE})`);
      if (t.stream === undefined)
        throw new UsageError(`--stream is required (or set ${WeirEnv.STREAM_ARN})`);
      const segments = positiveInt(f, 'segments');
      const retain = positiveInt(f, 'retain');
      const op = openOperatorCheckpoints(t);
      try {
        const progress = new ReportingCheckpointStore(op.checkpoints, (p) =>
          ctx.stderr.write(
            `\rcheckpoint ${p.checkpointId}: ${p.parts} parts, ${p.items} items, ${p.bytes} bytes`,
          ),
        );
        const taker = new CheckpointTaker({
          state: op.state!,
          checkpoints: progress,
          clock: systemClock,
          operator: t.operator,
          streamArn: await op.streamArn(),
          mergingWindows: f['merging-windows'] === true,
          ...(segments !== undefined ? { totalSegments: segments } : {}),
        });
        const run = await taker.take();
        if (run.status !== 'complete') throw new WeirError('the checkpoint did not complete');
        const m = run.manifest;
        ctx.stderr.write(
          `\rcheckpoint ${m.id}: complete, ${m.parts.length} parts, ${m.items} items, ${m.bytes} bytes, ${run.stats.elapsedMs} ms\n`,
        );
        const retention =
          retain === undefined
            ? undefined
            : await applyRetention(op.checkpoints, t.operator, { keep: retain }, systemClock);
        if (f['json'] === true) {
          const summary = {
            id: m.id,
            operator: m.operator,
            items: m.items,
            bytes: m.bytes,
            parts: m.parts.length,
            elapsedMs: run.stats.elapsedMs,
            previousId: m.previousId,
            ...(retention ? { deleted: retention.deleted } : {}),
          };
          ctx.stdout.write(JSON.stringify(summary) + '\n');
        } else ctx.stdout.write(m.id + '\n');
        return CHECKPOINT_EXIT.OK;
      } finally {
        op.clients.destroy();
      }
    });
  },
};

/** `1h 5m`, `42s`: the age of a checkpoint. */
function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

export const checkpointsCommand: Command = {
  name: 'checkpoints',
  summary: "list an operator's checkpoints (id, age, items, bytes, status)",
  usage: CHECKPOINTS_USAGE,
  run(args, ctx) {
    return guarded(this, ctx, async () => {
      const f = parse(args, { verify: 'boolean' });
      if (f === 'help') {
        ctx.stdout.write(CHECKPOINTS_USAGE + '\n');
        return CHECKPOINT_EXIT.OK;
      }
      const t = target(f, ctx.env);
      const op = openOperatorCheckpoints(t);
      try {
        const verify = f['verify'] === true;
        const list = await listCheckpoints(op.checkpoints, t.operator, { verify });
        const now = systemClock.now();
        if (f['json'] === true) {
          const rows = list.map((c) => ({
            id: c.id,
            createdAt: c.createdAt,
            ageMs: now - c.createdAt,
            completedAt: c.completedAt ?? null,
            items: c.items ?? null,
            bytes: c.bytes,
            status: c.status,
            problems: c.problems.map((p) => p.message),
          }));
          ctx.stdout.write(
            JSON.stringify({ operator: t.operator, verified: verify, checkpoints: rows }) + '\n',
          );
        } else {
          const lines = [['ID', 'AGE', 'ITEMS', 'BYTES', 'STATUS']];
          for (const c of list)
            lines.push([
              c.id,
              age(now - c.createdAt),
              String(c.items ?? '-'),
              String(c.bytes),
              c.status,
            ]);
          const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
          for (const l of lines)
            ctx.stdout.write(
              l
                .map((cell, i) => cell.padEnd(widths[i]!))
                .join('  ')
                .trimEnd() + '\n',
            );
          for (const c of list)
            for (const p of c.problems) ctx.stderr.write(`${c.id}: ${p.message}\n`);
        }
        const corrupt = list.some((c) => c.status === CheckpointStatus.Corrupt);
        return verify && corrupt ? CHECKPOINT_EXIT.CORRUPT : CHECKPOINT_EXIT.OK;
      } finally {
        op.clients.destroy();
      }
    });
  },
};
