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
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { WindowedOperatorDefinition } from '../core/pipeline.ts';
import { WeirError, describeError } from '../errors.ts';
import { localAwsFromEnv, type LocalAws } from '../local-aws/index.ts';
import type { WindowResult } from '../model/records.ts';
import {
  LocalMappingRunner,
  TickerLoop,
  localLambdaHandlers,
  provisionFromTemplate,
  readWindowResults,
  type LocalMapping,
  type LocalResources,
} from '../runtime/local/index.ts';
import { enableTypeScriptImports, isTypeScriptFile } from '../runtime/local/typescript.ts';
import { WeirEnv } from '../runtime/weir-env.ts';
import type { CliContext, CliHooks, Command, DevStackRequest } from './command.ts';

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
  --tick-interval MS    time between ticks, whole seconds dividing a minute
                        (default: the largest not above the pipeline's
                        idleTimeout, else 60000, as the deployed ticker)
  --json                print each result as one JSON line
  --verbose             also print the handler's and the ticker's log lines
  -h, --help            this text

Exit codes: 0 stopped by Ctrl-C; 1 failure; 2 usage error.`;

/** Exit codes of `weir dev`. */
export const DEV_EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

class UsageError extends WeirError {}

/** `weir dev` cannot run: the pipeline file, the handler or the stack is not usable. */
export class DevSetupError extends WeirError {}

interface DevArgs {
  readonly pipelineFile: string;
  readonly exportName: string | undefined;
  readonly entry: string | undefined;
  readonly handler: string | undefined;
  readonly ticker: string | undefined;
  readonly projectRoot: string | undefined;
  readonly shards: number;
  readonly stackName: string;
  readonly tickIntervalMs: number | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
}

function parse(args: readonly string[]): DevArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      options: {
        export: { type: 'string' },
        entry: { type: 'string' },
        handler: { type: 'string' },
        ticker: { type: 'string' },
        'project-root': { type: 'string' },
        shards: { type: 'string' },
        'stack-name': { type: 'string' },
        'tick-interval': { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'the pipeline file is required'
        : `one pipeline file expected, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  const integer = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min)
      throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const stackName = values['stack-name'] ?? 'WeirDev';
  if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(stackName)) {
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
    shards: integer('shards', values.shards, 1) ?? 1,
    stackName,
    tickIntervalMs: integer('tick-interval', values['tick-interval'], 1),
    json: values.json ?? false,
    verbose: values.verbose ?? false,
  };
}

/** Tick intervals the construct accepts under its default `rate(1 minute)`: whole seconds dividing a minute. */
const MINUTE_DIVISORS_S = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/** The deployed cadence for a pipeline: the largest allowed interval not above its idleTimeout. */
export function defaultTickIntervalMs(idleTimeout: number | undefined): number {
  if (idleTimeout === undefined) return 60_000;
  const fits = MINUTE_DIVISORS_S.filter((s) => s * 1000 <= idleTimeout);
  return (fits.at(-1) ?? 1) * 1000;
}

type AnyDefinition = WindowedOperatorDefinition<unknown, unknown, unknown>;

function isDefinition(v: unknown): v is AnyDefinition {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Partial<Record<keyof AnyDefinition, unknown>>;
  return (
    typeof d.name === 'string' &&
    typeof d.time === 'object' &&
    typeof d.assigner === 'object' &&
    typeof d.aggregate === 'object'
  );
}

/** Imports the pipeline file (TypeScript through tsx) and picks its pipeline export. */
async function loadPipeline(file: string, exportName: string | undefined): Promise<AnyDefinition> {
  if (!existsSync(file)) throw new DevSetupError(`pipeline file ${file} does not exist`);
  if (isTypeScriptFile(file)) await enableTypeScriptImports();
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  if (exportName !== undefined) {
    const v = mod[exportName];
    if (!isDefinition(v)) {
      throw new DevSetupError(
        `${file} exports no pipeline named ${JSON.stringify(exportName)} (a pipeline(...)...aggregate(...) definition)`,
      );
    }
    return v;
  }
  const found = Object.entries(mod).filter(([, v]) => isDefinition(v));
  if (found.length !== 1) {
    throw new DevSetupError(
      found.length === 0
        ? `${file} exports no pipeline (a pipeline(...)...aggregate(...) definition)`
        : `${file} exports ${found.length} pipelines (${found.map(([k]) => k).join(', ')}); choose one with --export`,
    );
  }
  return found[0]![1] as AnyDefinition;
}

const HANDLER_NAMES = ['handler.ts', 'handler.mts', 'handler.js', 'handler.mjs'];

function findEntry(pipelineFile: string, cwd: string, given: string | undefined): string {
  if (given !== undefined) {
    const entry = resolve(cwd, given);
    if (!existsSync(entry)) throw new DevSetupError(`handler module ${entry} does not exist`);
    return entry;
  }
  const dir = dirname(pipelineFile);
  const entry = HANDLER_NAMES.map((n) => join(dir, n)).find((f) => existsSync(f));
  if (entry === undefined) {
    throw new DevSetupError(
      `no handler module beside ${basename(pipelineFile)} (looked for ${HANDLER_NAMES.join(', ')} in ${dir}); name it with --entry`,
    );
  }
  return entry;
}

function findProjectRoot(pipelineFile: string): string {
  for (let dir = dirname(pipelineFile); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) {
      throw new DevSetupError(
        `no package.json in ${dirname(pipelineFile)} or above; name the project root with --project-root`,
      );
    }
  }
}

/** What a running session prints through. */
interface Output {
  readonly say: (line: string) => void;
  readonly log: (line: string) => void;
  readonly result: (r: WindowResult) => void;
}

function output(ctx: CliContext, a: DevArgs): Output {
  return {
    say: (line) => void ctx.stderr.write(line + '\n'),
    log: a.verbose ? (line) => void ctx.stderr.write(line + '\n') : () => undefined,
    result: (r) =>
      void ctx.stdout.write(
        (a.json
          ? JSON.stringify(r)
          : `${r.operator} ${r.key} [${new Date(r.window.start).toISOString()} .. ${new Date(r.window.end).toISOString()}) = ${JSON.stringify(r.value)} (version ${r.version})`) +
          '\n',
      ),
  };
}

export const devCommand: Command = {
  name: 'dev',
  summary: 'run your own pipeline locally (embedded AWS, real handler, ticker) until Ctrl-C',
  usage: USAGE,
  async run(args, ctx, hooks) {
    let a: DevArgs | 'help';
    try {
      a = parse(args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      ctx.stderr.write(`weir dev: ${err.message}\n\n${USAGE}\n`);
      return DEV_EXIT.USAGE;
    }
    if (a === 'help') {
      ctx.stdout.write(USAGE + '\n');
      return DEV_EXIT.OK;
    }
    try {
      await runDev(a, ctx, hooks ?? {}, output(ctx, a));
      return DEV_EXIT.OK;
    } catch (err) {
      ctx.stderr.write(`weir dev: ${describeError(err)}\n`);
      return DEV_EXIT.FAILED;
    }
  },
};

async function runDev(a: DevArgs, ctx: CliContext, hooks: CliHooks, out: Output): Promise<void> {
  const synthesize = hooks.synthesizeDevStack;
  if (synthesize === undefined) {
    throw new DevSetupError(
      'this entry of the CLI has no CDK synthesizer; run the `weir` binary (bin/weir.mjs), which wires in the construct',
    );
  }
  const pipelineFile = resolve(ctx.cwd, a.pipelineFile);
  const definition = await loadPipeline(pipelineFile, a.exportName);
  const entry = findEntry(pipelineFile, ctx.cwd, a.entry);
  const projectRoot =
    a.projectRoot !== undefined ? resolve(ctx.cwd, a.projectRoot) : findProjectRoot(pipelineFile);
  const tickIntervalMs = a.tickIntervalMs ?? defaultTickIntervalMs(definition.time.idleTimeout);

  const aws = await localAwsFromEnv(ctx.env);
  try {
    out.say(
      aws.mode === 'embedded'
        ? `embedded AWS up (kinesalite ${aws.startup.kinesisMs} ms, DynamoDB Local ${aws.startup.dynamodbMs} ms, s3rver ${aws.startup.s3Ms} ms)`
        : `using the AWS endpoints of the environment (${aws.endpoints.kinesis})`,
    );
    const request: DevStackRequest = {
      stackName: a.stackName,
      pipeline: {
        name: definition.name,
        time:
          definition.time.idleTimeout === undefined
            ? {}
            : { idleTimeout: definition.time.idleTimeout },
      },
      entry,
      projectRoot,
      ...(a.handler !== undefined ? { handler: a.handler } : {}),
      ...(a.ticker !== undefined ? { tickerHandler: a.ticker } : {}),
      shardCount: a.shards,
      onFailure: aws.endpoints.sqs ? 'sqs' : 's3',
      tickIntervalMs,
    };
    const resources = await provisionFromTemplate(await synthesize(request), aws.clients(), {
      stackName: a.stackName,
    });
    if (!ctx.signal.aborted) {
      await runSession({ aws, resources, definition, projectRoot, tickIntervalMs, ctx, out });
    }
  } finally {
    await aws.stop();
  }
  out.say('weir dev: stopped');
}

interface Session {
  readonly aws: LocalAws;
  readonly resources: LocalResources;
  readonly definition: AnyDefinition;
  readonly projectRoot: string;
  readonly tickIntervalMs: number;
  readonly ctx: CliContext;
  readonly out: Output;
}

/** Runs the mapping, the ticker and the results printer until the signal aborts. */
async function runSession(s: Session): Promise<void> {
  const { aws, resources, definition, out } = s;
  const mapping = resources.mappings[0];
  const ticker = resources.tickers[0];
  if (mapping === undefined || ticker === undefined) {
    throw new DevSetupError('the synthesized stack has no event source mapping or no ticker');
  }
  const clients = aws.clients();
  const runner = new LocalMappingRunner({
    mapping,
    clients,
    env: aws.env(),
    projectRoot: s.projectRoot,
    onLog: (line) => out.log(`[handler] ${line}`),
  });
  runner.esm.on((e) => {
    if (e.type === 'batch-error') {
      const o = e.outcome;
      out.say(
        `[esm] ${e.shardId}: batch of ${e.size} failed (${o.kind === 'function-error' ? `${o.errorType}: ${o.errorMessage}` : o.kind}); retried as the mapping's settings say`,
      );
    }
  });
  const handlers = localLambdaHandlers(definition, ticker, {
    env: aws.env(),
    log: (entry) => out.log(`[ticker] ${JSON.stringify(entry)}`),
  });
  const loop = new TickerLoop(handlers.ticker, {
    intervalMs: s.tickIntervalMs,
    onError: (err) => out.say(`[ticker] ${describeError(err)}`),
  });
  const printer = new ResultPrinter(clients, mapping, out);
  try {
    await runner.start();
    loop.start();
    printer.start();
    announce(s, mapping);
    await new Promise<void>((done) => {
      if (s.ctx.signal.aborted) done();
      s.ctx.signal.addEventListener('abort', () => done(), { once: true });
    });
    out.say('weir dev: stopping (the batch in flight and the tick in flight complete)');
  } finally {
    await runner.stop();
    await loop.stop();
    await printer.stop();
    handlers.clients.destroy();
    clients.destroy();
  }
}

function announce(s: Session, mapping: LocalMapping): void {
  const env = Object.entries(s.aws.env())
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const ticks =
    s.tickIntervalMs % 1000 === 0 ? `${s.tickIntervalMs / 1000} s` : `${s.tickIntervalMs} ms`;
  s.out.say(
    [
      `operator ${s.definition.name}: stream ${mapping.streamName}, results table ${mapping.environment[WeirEnv.RESULTS_TABLE] ?? '?'}, bucket ${mapping.environment[WeirEnv.OUTPUT_BUCKET] ?? '?'}`,
      `handler ${mapping.handlerEntry}#${mapping.handlerExport} (project root ${s.projectRoot}); ticker every ${ticks}`,
      'feed it from another shell (NDJSON on stdin or --file):',
      `  ${env} npx weir produce --stream ${mapping.streamName}`,
      'results print below as windows fire; Ctrl-C stops',
    ].join('\n'),
  );
}

/** Polls the results table and prints every result (id and version) not printed yet. */
class ResultPrinter {
  readonly #printed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly clients: ReturnType<LocalAws['clients']>,
    private readonly mapping: LocalMapping,
    private readonly out: Output,
  ) {}

  start(): void {
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    await this.#poll(); // what fired while stopping
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#poll().finally(() => this.#schedule());
    }, 1000);
  }

  async #poll(): Promise<void> {
    const table = this.mapping.environment[WeirEnv.RESULTS_TABLE];
    if (table === undefined) return;
    try {
      const results = await readWindowResults(this.clients.dynamodb, table);
      results.sort((x, y) => x.window.start - y.window.start || x.key.localeCompare(y.key));
      for (const r of results) {
        if (this.#printed.has(r.id)) continue;
        this.#printed.add(r.id);
        this.out.result(r);
      }
    } catch (err) {
      this.out.say(`[results] ${describeError(err)}`);
    }
  }
}
