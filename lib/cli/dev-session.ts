/**
 * A running `weir dev` session: the local mapping with the real handler, the
 * ticker loop, and the results printer, until the signal aborts.
 */
import type { AwsClients } from '../adapters/aws-clients.ts';
import { describeError } from '../errors.ts';
import type { LocalAws } from '../local-aws/index.ts';
import type { WindowResult } from '../model/records.ts';
import {
  LocalMappingRunner,
  TickerLoop,
  localLambdaHandlers,
  readWindowResults,
  type LocalMapping,
  type LocalTicker,
} from '../runtime/local/index.ts';
import { WeirEnv } from '../runtime/weir-env.ts';
import type { CliContext } from './command.ts';
import type { AnyDefinition } from './dev-inputs.ts';

/** What a running session prints through. */
export interface Output {
  readonly say: (line: string) => void;
  readonly log: (line: string) => void;
  readonly result: (r: WindowResult) => void;
}

export function output(
  ctx: CliContext,
  a: { readonly json: boolean; readonly verbose: boolean },
): Output {
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

export interface Session {
  readonly aws: LocalAws;
  readonly clients: AwsClients;
  readonly mapping: LocalMapping;
  readonly ticker: LocalTicker;
  readonly definition: AnyDefinition;
  readonly projectRoot: string;
  readonly tickIntervalMs: number;
  readonly ctx: CliContext;
  readonly out: Output;
}

/** Runs the mapping, the ticker and the results printer until the signal aborts. */
export async function runSession(s: Session): Promise<void> {
  const { aws, clients, mapping, definition, out } = s;
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
  const handlers = localLambdaHandlers(definition, s.ticker, {
    env: aws.env(),
    log: (entry) => out.log(`[ticker] ${JSON.stringify(entry)}`),
    // Its EMF metric lines too: stdout carries only results.
    metricsOutput: (line) => out.log(`[ticker] ${line}`),
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
    private readonly clients: AwsClients,
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
