/**
 * `weir demo` (what `npm start` runs): the end-to-end demo on the embedded
 * AWS, or on LocalStack when AWS_ENDPOINT_URL is set. See lib/demo/run-demo.ts.
 */
import type { Command } from './command.ts';
import { ConfigError } from '../errors.ts';
import { runDemo } from '../demo/run-demo.ts';

const USAGE = `Usage: weir demo [--events N] [--shards N] [--kills N]

Runs the click-counter operator end to end with the real engine: synthesizes
the CDK stack, creates its resources on the embedded AWS (or LocalStack when
AWS_ENDPOINT_URL is set), produces a clickstream with disorder, malformed and
late records, drains it through the local event source mapping into the Lambda
handler running in a worker process (killed mid-batch N times), runs the
ticker until every window has fired, and reconciles:
records in = applied + late + dead-lettered, and every window equals an
independent recount. Exit code 0 when everything reconciles, 1 otherwise.

  --events N   clicks to produce (default 4000)
  --shards N   shards of the input stream (default 4)
  --kills N    handler process kills in the middle of a batch (default 1)
Set WEIR_DEMO_VERBOSE=1 to see the handler's log lines.`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the end-to-end demo (npm start)',
  usage: USAGE,
  async run(args, ctx) {
    if (args.includes('--help')) {
      ctx.stdout.write(USAGE + '\n');
      return 0;
    }
    const report = await runDemo({
      events: intFlag(args, '--events', 4000, 100, 1_000_000),
      shards: intFlag(args, '--shards', 4, 1, 50),
      kills: intFlag(args, '--kills', 1, 0, 10),
      env: ctx.env,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      signal: ctx.signal,
    });
    return report.ok ? 0 : 1;
  },
};

function intFlag(
  args: readonly string[],
  name: string,
  dflt: number,
  min: number,
  max: number,
): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(name, args[i + 1], `must be an integer ${min}..${max}`);
  }
  return v;
}
