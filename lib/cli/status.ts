/**
 * `weir status`: where a running operator stands, per shard and overall.
 * Thin: parses flags, builds the clients, and hands over to
 * lib/runtime/status (gathering and rendering).
 *
 * Exit codes: 0 shown (or watched until Ctrl-C); 1 the progress or the shard
 * list could not be read (no such table or stream, no access); 2 usage error.
 */
import { describeError } from '../errors.ts';
import { systemClock, type Clock } from '../ports/clock.ts';
import {
  awsStatusSources,
  formatStatusJson,
  formatStatusTable,
  gatherStatus,
  type StatusSources,
} from '../runtime/status/index.ts';
import { WeirEnv } from '../runtime/weir-env.ts';
import { sleep as defaultSleep } from '../util/sleep.ts';
import { cliAwsClients } from './aws-env.ts';
import type { CliContext, Command } from './command.ts';
import { CLI_EXIT, parseCommandLine, UsageError, type ParsedArgs } from './flags.ts';

const USAGE = `Usage: weir status [--operator NAME] [--stream NAME|ARN] [--table NAME] [options]

Shows where a running operator stands: per shard the committed position, how
far it is behind the stream's tip, the shard watermark, the last batch and the
state (open, idle, closing, closed); per operator the published watermark and
the windows waiting in state (open, pending, due, outbox backlog).

Options:
  --operator NAME        the pipeline's name (default: $${WeirEnv.OPERATOR})
  --stream NAME|ARN      the source stream (default: $${WeirEnv.STREAM_NAME}; stack output StreamName)
  --table NAME           the state table (default: $${WeirEnv.STATE_TABLE}; stack output StateTableName)
  --json                 one JSON object per look (shape: docs/status.md)
  --watch [SECONDS]      look again every SECONDS (default 2) until Ctrl-C
  --idle-timeout SECONDS a shard without a batch this long is idle (default 60;
                         pass the pipeline's eventTime idleTimeout)
  --region R             AWS region (default AWS_REGION or us-east-1)
  -h, --help             this text

Endpoints come from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> when set (the
embedded AWS of weir local, LocalStack); otherwise real AWS.

Cost per look: 1 Query of the progress, 1 ListShards, 4 x 8 COUNT Queries of
the state table's indexes, and per shard not retired 1 GetShardIterator and at
most 3 GetRecords of at most 1000 records (they share the shard's 5 reads/s
with the event source mapping).

Exit codes: 0 shown; 1 progress or shards unreadable; 2 usage error.`;

const FLAGS = {
  operator: { type: 'string' },
  stream: { type: 'string' },
  table: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'optional' },
  'idle-timeout': { type: 'string' },
  region: { type: 'string' },
} as const;

interface StatusArgs {
  readonly operator: string;
  readonly stream: string;
  readonly table: string;
  readonly json: boolean;
  /** Seconds between looks; `undefined`: one look. */
  readonly watchSeconds: number | undefined;
  readonly idleTimeoutMs: number;
  readonly region: string | undefined;
}

function seconds(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(
      `--${flag} must be a number of seconds >= ${min} (given ${JSON.stringify(v)})`,
    );
  return n;
}

function toArgs({ flags }: ParsedArgs<typeof FLAGS>, env: CliContext['env']): StatusArgs {
  const pick = (flag: 'operator' | 'stream' | 'table', variable: string): string => {
    const v = flags[flag] ?? env[variable];
    if (v === undefined || v.trim() === '')
      throw new UsageError(`--${flag} is required (or set ${variable})`);
    return v.trim();
  };
  return {
    operator: pick('operator', WeirEnv.OPERATOR),
    stream: pick('stream', WeirEnv.STREAM_NAME),
    table: pick('table', WeirEnv.STATE_TABLE),
    json: flags.json === true,
    watchSeconds:
      flags.watch === undefined
        ? undefined
        : flags.watch === true
          ? 2
          : seconds('watch', flags.watch, 0.1),
    idleTimeoutMs:
      flags['idle-timeout'] === undefined
        ? 60_000
        : seconds('idle-timeout', flags['idle-timeout'], 0) * 1000,
    region: flags.region,
  };
}

/** What tests inject into {@link createStatusCommand}. */
export interface StatusCommandDeps {
  /** Processing time of each look. @default systemClock */
  readonly clock?: Clock;
  /** Looks of `--watch` at most (then exit 0). @default unbounded (until Ctrl-C) */
  readonly maxWatchIterations?: number;
  /** The wait between looks. @default the library's abortable sleep */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Builds `weir status` (tests bound `--watch` and fix the clock). */
export function createStatusCommand(deps: StatusCommandDeps = {}): Command {
  const command: Command = {
    name: 'status',
    summary: "show an operator's shards, lag, watermarks, pending windows and outbox",
    usage: USAGE,
    async run(args, ctx) {
      const line = parseCommandLine(command, args, ctx, FLAGS, (p) => toArgs(p, ctx.env));
      if (!line.ok) return line.exitCode;
      const opts = line.value;
      const clients = cliAwsClients(ctx.env, opts.region);
      try {
        const sources = awsStatusSources(clients, {
          table: opts.table,
          stream: opts.stream,
          clock: deps.clock ?? systemClock,
        });
        return await looks(opts, sources, ctx, deps);
      } finally {
        clients.destroy();
      }
    },
  };
  return command;
}

async function looks(
  opts: StatusArgs,
  sources: StatusSources,
  ctx: CliContext,
  deps: StatusCommandDeps,
): Promise<number> {
  const tty = (ctx.stdout as { isTTY?: boolean }).isTTY === true;
  const max = opts.watchSeconds === undefined ? 1 : (deps.maxWatchIterations ?? Infinity);
  for (let i = 0; i < max; i++) {
    if (i > 0) {
      await (deps.sleep ?? defaultSleep)((opts.watchSeconds ?? 0) * 1000, ctx.signal);
      if (ctx.signal.aborted) break;
    }
    try {
      const status = await gatherStatus(sources, {
        operator: opts.operator,
        stream: opts.stream,
        table: opts.table,
        idleTimeoutMs: opts.idleTimeoutMs,
      });
      if (opts.json) ctx.stdout.write(`${formatStatusJson(status)}\n`);
      else {
        // A watched table redraws in place on a terminal; piped, looks follow each other.
        const clear = opts.watchSeconds !== undefined && tty ? '\x1b[H\x1b[2J' : i > 0 ? '\n' : '';
        ctx.stdout.write(`${clear}${formatStatusTable(status)}\n`);
      }
    } catch (err) {
      ctx.stderr.write(
        `weir status: cannot read operator ${opts.operator} (table ${opts.table}, stream ${opts.stream}): ${describeError(err)}\n`,
      );
      // Watching goes on through an outage; a single look reports it.
      if (opts.watchSeconds === undefined) return CLI_EXIT.FAILURE;
    }
  }
  return CLI_EXIT.OK;
}

/** `weir status`. */
export const statusCommand: Command = createStatusCommand();
