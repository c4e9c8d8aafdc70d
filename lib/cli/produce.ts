/**
 * `weir produce`: send NDJSON records to a Kinesis stream.
 *
 * Exit codes:
 *   0   every record stored
 *   1   Kinesis refused or kept failing (ProducerError, AWS error); the
 *       summary says how many records were stored
 *   2   usage error (bad or missing option)
 *   65  bad input (invalid JSON line, missing partition key field, oversized
 *       record): every record before it was stored, nothing after it
 *   130 interrupted (SIGINT/SIGTERM); in-flight requests were completed
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RecordTooLargeError, WeirError } from '../errors.ts';
import { readNdjson, NdjsonLineError } from '../kinesis/ndjson.ts';
import { listShardHashRanges } from '../kinesis/stream-admin.ts';
import {
  InvalidRecordError,
  ProducerError,
  putRecords,
  type ProducerProgress,
  type ProducerRecord,
  type PutRecordsResult,
} from '../kinesis/producer.ts';
import { cliAwsClients } from './aws-env.ts';
import type { CliContext, Command } from './command.ts';
import { parseCommandLine, UsageError, type FlagSpecs, type ParsedArgs } from './flags.ts';

/** Exit codes of `weir produce`. */
export const PRODUCE_EXIT = {
  OK: 0,
  SEND_FAILED: 1,
  USAGE: 2,
  BAD_INPUT: 65,
  INTERRUPTED: 130,
} as const;

const USAGE = `Usage: weir produce --stream NAME [options]

Reads NDJSON (one JSON value per line) from --file or stdin and puts each
line, byte for byte, as one record on a Kinesis stream.

Options:
  --stream NAME                  stream name or ARN (required)
  --file F                       read from F instead of stdin
  --partition-key-field FIELD    partition key from this field (dot path, e.g. user.id)
  --random-partition-key         a random partition key per record (the default)
  --rate N                       at most N records per second
  --aggregate                    pack records into KPL aggregates
  --concurrency N                PutRecords requests in flight (default 4)
  --max-attempts N               attempts per record (default 8)
  --skip-invalid                 skip bad lines (reported on stderr) instead of stopping
  --region R                     AWS region (default AWS_REGION or us-east-1)
  -h, --help                     this text

Endpoints come from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_KINESIS when set.

Exit codes: 0 all stored; 1 Kinesis failure; 2 usage error; 65 bad input
(records before the bad line were stored, none after); 130 interrupted.`;

/** A line's partition key field is missing or not a string/number. */
class PartitionKeyFieldError extends WeirError {
  constructor(
    readonly line: number,
    field: string,
  ) {
    super(
      `line ${line}: field ${JSON.stringify(field)} is missing or not a string or number; it is needed as the partition key`,
    );
  }
}

interface ProduceArgs {
  readonly stream: string;
  readonly file: string | undefined;
  readonly keyField: string | undefined;
  readonly rate: number | undefined;
  readonly aggregate: boolean;
  readonly concurrency: number | undefined;
  readonly maxAttempts: number | undefined;
  readonly skipInvalid: boolean;
  readonly region: string | undefined;
}

const FLAGS = {
  stream: { type: 'string' },
  file: { type: 'string' },
  'partition-key-field': { type: 'string' },
  'random-partition-key': { type: 'boolean' },
  rate: { type: 'string' },
  aggregate: { type: 'boolean' },
  concurrency: { type: 'string' },
  'max-attempts': { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  region: { type: 'string' },
} as const satisfies FlagSpecs;

function toArgs({ flags: values }: ParsedArgs<typeof FLAGS>): ProduceArgs {
  if (values.stream === undefined || values.stream === '')
    throw new UsageError('--stream is required');
  if (values['partition-key-field'] !== undefined && values['random-partition-key']) {
    throw new UsageError('--partition-key-field and --random-partition-key exclude each other');
  }
  const positive = (name: string, v: string | undefined, integer: boolean): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new UsageError(
        `--${name} must be a positive ${integer ? 'integer' : 'number'} (given ${JSON.stringify(v)})`,
      );
    }
    return n;
  };
  return {
    stream: values.stream,
    file: values.file,
    keyField: values['partition-key-field'],
    rate: positive('rate', values.rate, false),
    aggregate: values.aggregate === true,
    concurrency: positive('concurrency', values.concurrency, true),
    maxAttempts: positive('max-attempts', values['max-attempts'], true),
    skipInvalid: values['skip-invalid'] === true,
    region: values.region,
  };
}

function fieldValue(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const p of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** Writes progress: a `\r`-rewritten line on a TTY, a plain line every few seconds otherwise. */
class ProgressReporter {
  private wroteTtyLine = false;
  private readonly tty: boolean;
  private readonly started = Date.now();
  // The first line comes after one interval, so short runs print only the summary.
  private lastWrite = this.started;

  constructor(private readonly ctx: CliContext) {
    this.tty = (ctx.stderr as { isTTY?: boolean }).isTTY === true;
  }

  update(p: ProducerProgress): void {
    const t = Date.now();
    if (t - this.lastWrite < (this.tty ? 200 : 5_000)) return;
    this.lastWrite = t;
    const line = this.format(p);
    if (this.tty) {
      this.ctx.stderr.write(`\r${line}\x1b[K`);
      this.wroteTtyLine = true;
    } else {
      this.ctx.stderr.write(`${line}\n`);
    }
  }

  end(): void {
    if (this.wroteTtyLine) this.ctx.stderr.write('\n');
    this.wroteTtyLine = false;
  }

  private format(p: ProducerProgress): string {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? Math.round(p.sent / secs) : 0;
    const of = p.total === undefined ? '' : ` / ${p.total}`;
    return `produce: ${p.sent}${of} records sent, ${rate}/s, ${p.retriedEntries} retried entries, ${p.requests} requests`;
  }
}

function summaryLine(
  stream: string,
  r: PutRecordsResult,
  seconds: number,
  skipped: number,
): string {
  const shards = Object.entries(r.perShard)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}=${n}`)
    .join(' ');
  return (
    `produced ${r.records} records to ${stream} in ${seconds.toFixed(1)} s ` +
    `(${r.kinesisRecords} Kinesis records, ${r.requests} requests, ${r.retriedEntries} retried entries, ` +
    `${r.retriedRequests} retried requests${skipped > 0 ? `, ${skipped} invalid lines skipped` : ''})` +
    (shards ? `\nper shard: ${shards}` : '')
  );
}

async function run(args: readonly string[], ctx: CliContext): Promise<number> {
  const line = parseCommandLine(produceCommand, args, ctx, FLAGS, toArgs);
  if (!line.ok) return line.exitCode;
  const opts = line.value;
  const input: Readable =
    opts.file === undefined ? ctx.stdin : createReadStream(resolve(ctx.cwd, opts.file));
  const path = opts.keyField?.split('.');
  let skipped = 0;
  // Records are numbered by input order; keep each one's line for error messages.
  const lineOfRecord: number[] = [];
  async function* records(): AsyncGenerator<ProducerRecord> {
    for await (const { value, line, text } of readNdjson(input, {
      skipInvalid: opts.skipInvalid,
      onInvalid: (e) => {
        skipped++;
        ctx.stderr.write(`weir produce: skipped ${e.message}\n`);
      },
    })) {
      let partitionKey: string;
      if (path === undefined) {
        partitionKey = randomUUID();
      } else {
        const k = fieldValue(value, path);
        if ((typeof k !== 'string' || k === '') && typeof k !== 'number') {
          const err = new PartitionKeyFieldError(line, opts.keyField as string);
          if (!opts.skipInvalid) throw err;
          skipped++;
          ctx.stderr.write(`weir produce: skipped ${err.message}\n`);
          continue;
        }
        partitionKey = String(k);
      }
      lineOfRecord.push(line);
      yield { data: text, partitionKey };
    }
  }

  // The producer retries with its own jittered backoff and per-entry bookkeeping;
  // SDK retries underneath would multiply the attempts.
  const clients = cliAwsClients(ctx.env, opts.region, { maxAttempts: 1 });
  const progress = new ProgressReporter(ctx);
  const started = Date.now();
  try {
    const result = await putRecords(clients.kinesis, opts.stream, records(), {
      // Shard-aware, as the KPL: each record stays on the shard its own key hashes to.
      ...(opts.aggregate
        ? { aggregate: { shards: await listShardHashRanges(clients.kinesis, opts.stream) } }
        : {}),
      ...(opts.rate !== undefined ? { ratePerSecond: opts.rate } : {}),
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      recordPositions: false,
      signal: ctx.signal,
      onProgress: (p) => progress.update(p),
    });
    progress.end();
    ctx.stdout.write(
      `${summaryLine(opts.stream, result, (Date.now() - started) / 1000, skipped)}\n`,
    );
    return PRODUCE_EXIT.OK;
  } catch (err) {
    progress.end();
    const seconds = (Date.now() - started) / 1000;
    if (err instanceof ProducerError) {
      ctx.stdout.write(`${summaryLine(opts.stream, err.partial, seconds, skipped)}\n`);
      if (err.reason === 'aborted') {
        ctx.stderr.write('weir produce: interrupted; in-flight requests were completed\n');
        return PRODUCE_EXIT.INTERRUPTED;
      }
      ctx.stderr.write(`weir produce: ${err.message}\n`);
      return PRODUCE_EXIT.SEND_FAILED;
    }
    if (err instanceof RecordTooLargeError || err instanceof InvalidRecordError) {
      const line = lineOfRecord[err.index];
      ctx.stderr.write(
        `weir produce: ${line === undefined ? '' : `line ${line}: `}${err.message}\n` +
          `Records before it were stored; none after it was sent.\n`,
      );
      return PRODUCE_EXIT.BAD_INPUT;
    }
    if (err instanceof NdjsonLineError || err instanceof PartitionKeyFieldError) {
      ctx.stderr.write(
        `weir produce: ${err.message}\nRecords before it were stored; none after it was sent. ` +
          `Use --skip-invalid to skip bad lines.\n`,
      );
      return PRODUCE_EXIT.BAD_INPUT;
    }
    const name = err instanceof Error ? err.name : 'Error';
    ctx.stderr.write(
      `weir produce: ${name}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return (err as { code?: unknown }).code === 'ENOENT'
      ? PRODUCE_EXIT.USAGE
      : PRODUCE_EXIT.SEND_FAILED;
  } finally {
    clients.destroy();
  }
}

/** `weir produce`. */
export const produceCommand: Command = {
  name: 'produce',
  summary: 'Send NDJSON records from a file or stdin to a Kinesis stream',
  usage: USAGE,
  run,
};
