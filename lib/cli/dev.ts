/**
 * `weir dev <pipeline file>`: runs one's own pipeline locally, as deployed.
 *
 *     pipeline.ts ──import──▶ definition (name, idleTimeout)
 *          │                         │
 *          ▼                         ▼
 *     WeirOperator stack ──synth (offline, no bundling)──▶ template ──provisionFromTemplate──▶ stream, tables, bucket
 *     (hooks.synthesizeDevStack: cdk/dev-stack.ts)                              │
 *                                                                               ▼
 *     LocalMappingRunner: the template's ESM settings, the real handler (weir:entry) in worker processes
 *     TickerLoop: the pipeline's ticker, every tick interval      results table ──poll──▶ stdout
 *
 * The stack is synthesized from the pipeline file rather than from the
 * user's CDK app: the app may hold other stacks and need context or
 * credentials to synthesize, while one `WeirOperator` for the pipeline is
 * exactly what the construct creates for it. Ctrl-C stops everything (the
 * embedded AWS too; with `AWS_ENDPOINT_URL` the resources stay).
 *
 * Exit codes: 0 stopped by Ctrl-C, 1 failure, 2 usage error.
 */
import { basename, resolve } from 'node:path';
import { describeError } from '../errors.ts';
import { localAwsFromEnv, type LocalAws } from '../local-aws/index.ts';
import {
  describeTemplate,
  provisionFromTemplate,
  type CfnTemplate,
} from '../runtime/local/index.ts';
import type { CliContext, CliHooks, Command } from './command.ts';
import { parseCommandLine, UsageError, type FlagSpecs, type ParsedArgs } from './flags.ts';
import {
  DevSetupError,
  defaultTickIntervalMs,
  findEntry,
  findProjectRoot,
  loadPipeline,
  ofOperator,
  readTemplate,
  type AnyDefinition,
} from './dev-inputs.ts';
import { output, runSession, type Output } from './dev-session.ts';

export { DevSetupError, defaultTickIntervalMs };

const USAGE = `Usage: weir dev PIPELINE_FILE [options]

Runs your pipeline locally as WeirOperator would deploy it: starts the
embedded AWS (unless AWS_ENDPOINT_URL is set), creates the stream, tables and
bucket of a WeirOperator stack for the pipeline, runs the local event source
mapping with your real handler in worker processes and the ticker in this
process, and prints each window result as it fires. Feed it from another
shell with the \`weir produce\` command it prints. Ctrl-C stops it.

Options:
  --export NAME         the pipeline's export in PIPELINE_FILE (default: the only one)
  --entry FILE          the Lambda handler module (default: handler.ts, .mts, .js
                        or .mjs beside PIPELINE_FILE)
  --handler NAME        the handler's export (default handler)
  --ticker NAME         the ticker's export (default ticker)
  --project-root DIR    the project root (default: the nearest folder holding
                        PIPELINE_FILE with a package.json)
  --shards N            shards of the input stream (default 1)
  --stack-name NAME     stack name, prefix of the local resource names (default WeirDev)
  --tick-interval MS    time between ticks (default: as the deployed ticker
                        would tick: the template's tickInterval; for the
                        synthesized stack the largest whole number of seconds
                        dividing a minute not above the pipeline's
                        idleTimeout, else 60000)
  --template FILE       use your own app's synthesized template (cdk.out/
                        <Stack>.template.json) instead of synthesizing a stack:
                        its mapping and ticker of this pipeline's operator, its
                        names and settings (stack name: from the file name)
  --json                print each result as one JSON line
  --verbose             also print the handler's and the ticker's log lines
  -h, --help            this text

Exit codes: 0 stopped by Ctrl-C; 1 failure; 2 usage error.`;

/** Exit codes of `weir dev`. */
export const DEV_EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

interface DevArgs {
  readonly pipelineFile: string;
  readonly exportName: string | undefined;
  readonly entry: string | undefined;
  readonly handler: string | undefined;
  readonly ticker: string | undefined;
  readonly projectRoot: string | undefined;
  readonly shards: number | undefined;
  readonly stackName: string | undefined;
  readonly template: string | undefined;
  readonly tickIntervalMs: number | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
}

const FLAGS = {
  export: { type: 'string' },
  entry: { type: 'string' },
  handler: { type: 'string' },
  ticker: { type: 'string' },
  'project-root': { type: 'string' },
  shards: { type: 'string' },
  'stack-name': { type: 'string' },
  'tick-interval': { type: 'string' },
  template: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const satisfies FlagSpecs;

function toArgs(parsed: ParsedArgs<typeof FLAGS>): DevArgs {
  const { flags: values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('the pipeline file is required');
  if (values.template !== undefined) {
    const clash = (['entry', 'handler', 'ticker', 'shards'] as const).find(
      (k) => values[k] !== undefined,
    );
    if (clash !== undefined) {
      throw new UsageError(`--${clash} does not apply with --template: the template fixes it`);
    }
  }
  const integer = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min)
      throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const stackName = values['stack-name'];
  if (stackName !== undefined && !/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(stackName)) {
    throw new UsageError(
      `--stack-name must be a CloudFormation stack name (a letter, then letters, digits and hyphens), got ${JSON.stringify(stackName)}`,
    );
  }
  return {
    pipelineFile: positionals[0]!,
    exportName: values.export,
    entry: values.entry,
    handler: values.handler,
    ticker: values.ticker,
    projectRoot: values['project-root'],
    shards: integer('shards', values.shards, 1),
    stackName,
    template: values.template,
    tickIntervalMs: integer('tick-interval', values['tick-interval'], 1),
    json: values.json ?? false,
    verbose: values.verbose ?? false,
  };
}

export const devCommand: Command = {
  name: 'dev',
  summary: 'run your own pipeline locally (embedded AWS, real handler, ticker) until Ctrl-C',
  usage: USAGE,
  async run(args, ctx, hooks) {
    const line = parseCommandLine(devCommand, args, ctx, FLAGS, toArgs, { maxPositionals: 1 });
    if (!line.ok) return line.exitCode;
    const a = line.value;
    try {
      await runDev(a, ctx, hooks ?? {}, output(ctx, a));
      return DEV_EXIT.OK;
    } catch (err) {
      ctx.stderr.write(`weir dev: ${describeError(err)}\n`);
      return DEV_EXIT.FAILED;
    }
  },
};

/** What a run provisions: the template (synthesized or the user's) and what goes with it. */
interface Plan {
  readonly definition: AnyDefinition;
  readonly projectRoot: string;
  readonly stackName: string;
  /** The template, given the AWS it will be provisioned on (the on-failure destination depends on it). */
  readonly template: (aws: LocalAws) => Promise<CfnTemplate>;
  /** The tick interval, or undefined to take the template ticker's. */
  readonly tickIntervalMs: number | undefined;
}

async function plan(a: DevArgs, ctx: CliContext, hooks: CliHooks): Promise<Plan> {
  const synthesize = hooks.synthesizeDevStack;
  if (a.template === undefined && synthesize === undefined) {
    throw new DevSetupError(
      'this entry of the CLI has no CDK synthesizer; run the `weir` binary (bin/weir.mjs), which wires in the construct, or pass --template',
    );
  }
  const pipelineFile = resolve(ctx.cwd, a.pipelineFile);
  const definition = await loadPipeline(pipelineFile, a.exportName);
  const projectRoot =
    a.projectRoot !== undefined ? resolve(ctx.cwd, a.projectRoot) : findProjectRoot(pipelineFile);
  if (a.template !== undefined) {
    const file = resolve(ctx.cwd, a.template);
    const template = readTemplate(file);
    const stackName = a.stackName ?? basename(file).replace(/\.template\.json$|\.json$/, '');
    // Fail before starting anything when the template does not run this pipeline.
    const described = describeTemplate(template, { stackName });
    ofOperator(described.mappings, definition.name, 'event source mapping');
    ofOperator(described.tickers, definition.name, 'ticker');
    return {
      definition,
      projectRoot,
      stackName,
      template: () => Promise.resolve(template),
      tickIntervalMs: a.tickIntervalMs,
    };
  }
  const entry = findEntry(pipelineFile, ctx.cwd, a.entry);
  const stackName = a.stackName ?? 'WeirDev';
  const tickIntervalMs = a.tickIntervalMs ?? defaultTickIntervalMs(definition.time.idleTimeout);
  const idleTimeout = definition.time.idleTimeout;
  return {
    definition,
    projectRoot,
    stackName,
    tickIntervalMs,
    template: (aws) =>
      synthesize!({
        stackName,
        pipeline: {
          name: definition.name,
          time: idleTimeout === undefined ? {} : { idleTimeout },
        },
        entry,
        projectRoot,
        ...(a.handler !== undefined ? { handler: a.handler } : {}),
        ...(a.ticker !== undefined ? { tickerHandler: a.ticker } : {}),
        shardCount: a.shards ?? 1,
        onFailure: aws.endpoints.sqs ? 'sqs' : 's3',
        tickIntervalMs,
      }),
  };
}

async function runDev(a: DevArgs, ctx: CliContext, hooks: CliHooks, out: Output): Promise<void> {
  const p = await plan(a, ctx, hooks);
  const aws = await localAwsFromEnv(ctx.env);
  const clients = aws.clients();
  try {
    out.say(
      aws.mode === 'embedded'
        ? `embedded AWS up (kinesalite ${aws.startup.kinesisMs} ms, DynamoDB Local ${aws.startup.dynamodbMs} ms, s3rver ${aws.startup.s3Ms} ms)`
        : `using the AWS endpoints of the environment (${aws.endpoints.kinesis})`,
    );
    const resources = await provisionFromTemplate(await p.template(aws), clients, {
      stackName: p.stackName,
      skipQueues: aws.endpoints.sqs === undefined,
    });
    let mapping = ofOperator(resources.mappings, p.definition.name, 'event source mapping');
    if (mapping.onFailure?.type === 'sqs' && aws.endpoints.sqs === undefined) {
      out.say(
        `these endpoints have no SQS: batches the mapping discards are counted, not sent to the queue ${mapping.onFailure.name}`,
      );
      mapping = { ...mapping, onFailure: undefined };
    }
    const ticker = ofOperator(resources.tickers, p.definition.name, 'ticker');
    const tickIntervalMs =
      p.tickIntervalMs ??
      ticker.tickIntervalMs ??
      ticker.periodMs ??
      defaultTickIntervalMs(p.definition.time.idleTimeout);
    if (!ctx.signal.aborted) {
      await runSession({ ...p, aws, clients, mapping, ticker, tickIntervalMs, ctx, out });
    }
  } finally {
    clients.destroy();
    await aws.stop();
  }
  out.say('weir dev: stopped');
}
