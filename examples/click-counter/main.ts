/**
 * The example's command line (`npm start`, or `npx tsx examples/click-counter/bin.ts`):
 * flags in, exit code out. The process wiring is in bin.ts, so tests run it in-process.
 */
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { runDemo } from './run-demo.ts';

/** Usage text of the example. */
export const USAGE = `Usage: npm start -- [--events N] [--shards N] [--kills N]

Runs the click-counter operator end to end with the real engine: synthesizes
the CDK stack (cdk/stacks/weir-demo-stack.ts), creates its resources on the
embedded AWS (or LocalStack when AWS_ENDPOINT_URL is set), produces a
clickstream with disorder, malformed and late records, drains it through
weir's local event source mapping into the Lambda handler
(functions/click-counter) running in a worker process (killed mid-batch N
times), runs the ticker until every window has fired, and reconciles:
records in = applied + late + dead-lettered, and every window equals an
independent recount. Exit code 0 when everything reconciles, 1 otherwise,
2 for a usage error.

  --events N   clicks to produce, 100..1000000 (default 4000)
  --shards N   shards of the input stream, 1..50 (default 4)
  --kills N    handler process kills in the middle of a batch, 0..10 (default 1)
  -h, --help   this text
Set WEIR_DEMO_VERBOSE=1 to see the handler's and the ticker's log lines.`;

/** What the example may touch of the outside world. */
export interface ExampleIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable & { isTTY?: boolean };
  /** Aborted on SIGINT/SIGTERM: producing stops. */
  readonly signal: AbortSignal;
}

/** A flag outside its range, or an unknown flag. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Runs the example with command-line arguments; resolves to the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout,
 *   stderr: process.stderr, signal: new AbortController().signal });
 */
export async function main(args: readonly string[], io: ExampleIo): Promise<number> {
  let flags: { events: number; shards: number; kills: number } | 'help';
  try {
    flags = parse(args);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
    io.stderr.write(`click-counter: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (flags === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const report = await runDemo({ ...flags, ...io });
  return report.ok ? 0 : 1;
}

function parse(
  args: readonly string[],
): { events: number; shards: number; kills: number } | 'help' {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      events: { type: 'string' },
      shards: { type: 'string' },
      kills: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  return {
    events: intFlag('--events', values.events, 4000, 100, 1_000_000),
    shards: intFlag('--shards', values.shards, 4, 1, 50),
    kills: intFlag('--kills', values.kills, 1, 0, 10),
  };
}

function intFlag(
  name: string,
  given: string | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (given === undefined) return dflt;
  const v = Number(given);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(
      `${name} must be an integer ${min}..${max} (given ${JSON.stringify(given)})`,
    );
  }
  return v;
}
