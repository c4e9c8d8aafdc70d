/**
 * Runs a handler module in separate Node.js processes, like Lambda execution
 * environments: a warm worker is reused across invocations; a crash or a
 * timeout discards it and the next invocation cold-starts a new one (the
 * module is imported again). Each concurrent invocation gets its own worker,
 * so the ESM (one batch in flight per shard) uses at most one per shard.
 *
 *     invoke ──► idle worker? ──yes──► send event ──► result ──► back to idle
 *                    │no                   │
 *                    ▼                     ├─ exit/kill ──► 'crash'   (worker gone)
 *              fork + import (cold)        └─ timer ─────► 'timeout' (SIGKILL, gone)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KinesisStreamEvent } from 'aws-lambda';
import { ConfigError, WeirError } from '../../../errors.ts';
import type { HandlerInvoker, InvokeContext, InvokeOutcome } from './invoker.ts';
import type { ParentMessage, WorkerMessage } from './worker-protocol.ts';
import { isTypeScriptFile, tsxLoaderUrl } from '../typescript.ts';

// worker-main.ts from a checkout, worker-main.js from the installed package.
const WORKER_MAIN = fileURLToPath(
  new URL(`./worker-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** Options of {@link ProcessHandlerInvoker}. */
export interface ProcessHandlerInvokerOptions {
  /**
   * `path/to/module.ts#exportName`, absolute or relative to `cwd`; export
   * defaults to `handler`. A TypeScript module runs under tsx's loader as
   * weir's own install resolves it; a `.js`/`.mjs` module runs as is.
   */
  readonly handler: string;
  /** Environment of the workers, on top of PATH/HOME/TMPDIR and Lambda's reserved variables. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Also pass this process's whole environment. @default false (Lambda-like isolation) */
  readonly inheritEnv?: boolean;
  /** `AWS_LAMBDA_FUNCTION_NAME` of the workers. @default 'weir-local' */
  readonly functionName?: string;
  /** Working directory of the workers, and what a relative `handler` is relative to. @default process.cwd() */
  readonly cwd?: string;
  /** Most workers alive at once; an invocation beyond it fails fast. @default 64 */
  readonly maxWorkers?: number;
  /** Limit on a cold start (fork + import), like Lambda's 10 s init limit. @default 10000 */
  readonly initTimeoutMs?: number;
  /** Receives the workers' stdout/stderr lines; without it they are inherited. */
  readonly onLog?: (line: string, pid: number) => void;
}

/** Counters of a {@link ProcessHandlerInvoker}. */
export interface ProcessInvokerStats {
  readonly invocations: number;
  readonly coldStarts: number;
  readonly crashes: number;
  readonly timeouts: number;
  readonly functionErrors: number;
  /** Fork to ready, per cold start, in ms. */
  readonly coldStartMs: readonly number[];
}

/** A fault to inject from outside into the next invocation. */
export interface KillFault {
  /** Delay after the event is sent to the worker. @default 0 */
  readonly afterMs?: number;
  /** @default 'SIGKILL' */
  readonly signal?: NodeJS.Signals;
}

interface Pending {
  readonly id: number;
  readonly started: number;
  readonly resolve: (outcome: InvokeOutcome) => void;
  timer?: NodeJS.Timeout;
}

class Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly forkedAt = Date.now();
  readyMs = 0;
  dead = false;
  pending: Pending | undefined;
  exited: Promise<void>;
  constructor(child: ChildProcess, onInitError: (type: string, message: string) => void) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.ready = new Promise<void>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        const msg = raw as WorkerMessage;
        if (msg.type === 'ready') {
          this.readyMs = Date.now() - this.forkedAt;
          resolve();
        } else if (msg.type === 'init-error') {
          onInitError(msg.errorType, msg.errorMessage);
          reject(new InitError(msg.errorType, msg.errorMessage));
        } else if (this.pending?.id === msg.id) {
          const p = this.pending;
          this.pending = undefined;
          clearTimeout(p.timer);
          const durationMs = Date.now() - p.started;
          if (msg.ok)
            p.resolve({ kind: 'success', value: JSON.parse(msg.json) as unknown, durationMs });
          else
            p.resolve({
              kind: 'function-error',
              errorType: msg.errorType,
              errorMessage: msg.errorMessage,
              durationMs,
            });
        }
      });
      child.once('exit', (code, signal) => {
        this.dead = true;
        reject(
          new InitError(
            'Runtime.ExitError',
            `worker exited during init (code ${code}, signal ${signal})`,
          ),
        );
        const p = this.pending;
        if (p) {
          this.pending = undefined;
          clearTimeout(p.timer);
          p.resolve({ kind: 'crash', exitCode: code, signal, durationMs: Date.now() - p.started });
        }
      });
    });
    // A rejected ready promise nobody awaits must not become an unhandled rejection.
    this.ready.catch(() => undefined);
  }
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.dead) this.child.kill(signal);
  }
}

class InitError extends WeirError {
  readonly errorType: string;
  constructor(errorType: string, message: string) {
    super(message);
    this.errorType = errorType;
  }
}

/**
 * Runs a handler module in forked Node.js workers (TypeScript through tsx's
 * loader, resolved from weir's install, not from the workers' directory).
 *
 * @example
 * const invoker = new ProcessHandlerInvoker({
 *   handler: 'functions/click-counter/handler.ts#handler',
 *   env: aws.env(),
 * });
 * try {
 *   // new LocalEventSourceMapping({ ..., invoker })
 * } finally {
 *   await invoker.close();
 * }
 */
export class ProcessHandlerInvoker implements HandlerInvoker {
  readonly #options: ProcessHandlerInvokerOptions;
  readonly #idle: Worker[] = [];
  readonly #all = new Set<Worker>();
  readonly #faults: KillFault[] = [];
  #nextId = 1;
  #closed = false;
  #stats = {
    invocations: 0,
    coldStarts: 0,
    crashes: 0,
    timeouts: 0,
    functionErrors: 0,
    coldStartMs: [] as number[],
  };

  constructor(options: ProcessHandlerInvokerOptions) {
    if (!options.handler || options.handler.startsWith('#')) {
      throw new ConfigError('handler', options.handler, 'must be "path/to/module.ts#exportName"');
    }
    const max = options.maxWorkers ?? 64;
    if (!Number.isInteger(max) || max < 1)
      throw new ConfigError('maxWorkers', max, 'must be an integer >= 1');
    this.#options = options;
  }

  /** Arms a fault: the worker running the next invocation is killed `afterMs` after it receives the event. */
  killDuringNextInvocation(fault: KillFault = {}): void {
    this.#faults.push(fault);
  }

  /** Pids of the workers alive now (warm or busy). */
  workerPids(): number[] {
    return [...this.#all]
      .filter((w) => !w.dead && w.child.pid !== undefined)
      .map((w) => w.child.pid as number);
  }

  stats(): ProcessInvokerStats {
    return { ...this.#stats, coldStartMs: [...this.#stats.coldStartMs] };
  }

  async invoke(event: KinesisStreamEvent, ctx: InvokeContext): Promise<InvokeOutcome> {
    if (this.#closed) throw new WeirError('ProcessHandlerInvoker is closed');
    this.#stats.invocations += 1;
    const started = Date.now();
    let worker: Worker;
    try {
      worker = await this.#acquire();
    } catch (err) {
      if (err instanceof InitError) {
        this.#stats.functionErrors += 1;
        return {
          kind: 'function-error',
          errorType: err.errorType,
          errorMessage: err.message,
          durationMs: Date.now() - started,
        };
      }
      if (err instanceof InitTimeout) {
        this.#stats.timeouts += 1;
        return { kind: 'timeout', timeoutMs: err.timeoutMs, durationMs: Date.now() - started };
      }
      throw err;
    }
    const id = this.#nextId++;
    const invokeStarted = Date.now();
    const outcome = await new Promise<InvokeOutcome>((resolve) => {
      const pending: Pending = { id, started: invokeStarted, resolve };
      worker.pending = pending;
      pending.timer = setTimeout(() => {
        if (worker.pending !== pending) return;
        worker.pending = undefined;
        // Lambda stops a timed-out invocation by discarding its environment.
        worker.kill('SIGKILL');
        resolve({
          kind: 'timeout',
          timeoutMs: ctx.timeoutMs,
          durationMs: Date.now() - invokeStarted,
        });
      }, ctx.timeoutMs);
      const message: ParentMessage = {
        type: 'invoke',
        id,
        event,
        context: {
          awsRequestId: ctx.awsRequestId,
          functionName: ctx.functionName,
          invokedFunctionArn: ctx.invokedFunctionArn,
          deadline: invokeStarted + ctx.timeoutMs,
        },
      };
      worker.child.send(message, (err) => {
        if (err && worker.pending === pending) {
          worker.pending = undefined;
          clearTimeout(pending.timer);
          worker.kill('SIGKILL');
          resolve({
            kind: 'crash',
            exitCode: null,
            signal: null,
            durationMs: Date.now() - invokeStarted,
          });
        }
      });
      const fault = this.#faults.shift();
      if (fault) {
        setTimeout(() => worker.kill(fault.signal ?? 'SIGKILL'), fault.afterMs ?? 0);
      }
    });
    if (outcome.kind === 'crash') this.#stats.crashes += 1;
    if (outcome.kind === 'timeout') this.#stats.timeouts += 1;
    if (outcome.kind === 'function-error') this.#stats.functionErrors += 1;
    if (outcome.kind === 'success' || outcome.kind === 'function-error') {
      if (!worker.dead && !this.#closed) this.#idle.push(worker);
    } else {
      worker.kill('SIGKILL');
      this.#all.delete(worker);
    }
    return outcome;
  }

  /** Kills every worker and waits for them to exit. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = [...this.#all];
    this.#idle.length = 0;
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    this.#all.clear();
  }

  async #acquire(): Promise<Worker> {
    while (this.#idle.length > 0) {
      const w = this.#idle.pop() as Worker;
      if (!w.dead) return w;
      this.#all.delete(w);
    }
    const live = [...this.#all].filter((w) => !w.dead).length;
    const max = this.#options.maxWorkers ?? 64;
    if (live >= max)
      throw new WeirError(`ProcessHandlerInvoker: ${live} workers busy, maxWorkers is ${max}`);
    const worker = this.#fork();
    const initTimeoutMs = this.#options.initTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        worker.ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new InitTimeout(initTimeoutMs)), initTimeoutMs);
        }),
      ]);
    } catch (err) {
      worker.kill('SIGKILL');
      this.#all.delete(worker);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.#stats.coldStarts += 1;
    this.#stats.coldStartMs.push(worker.readyMs);
    return worker;
  }

  #fork(): Worker {
    const o = this.#options;
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
      const v = process.env[k];
      if (v !== undefined) base[k] = v;
    }
    const functionName = o.functionName ?? 'weir-local';
    const env: Record<string, string> = {
      ...(o.inheritEnv ? (process.env as Record<string, string>) : base),
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...o.env,
    };
    const piped = o.onLog !== undefined;
    const cwd = o.cwd ?? process.cwd();
    const hash = o.handler.lastIndexOf('#');
    const file = hash >= 0 ? o.handler.slice(0, hash) : o.handler;
    // The worker imports an absolute path: a relative handler is relative to `cwd`, whatever the worker does.
    env['WEIR_HANDLER'] =
      (isAbsolute(file) ? file : resolve(cwd, file)) + o.handler.slice(file.length);
    const needsLoader = isTypeScriptFile(WORKER_MAIN) || isTypeScriptFile(file);
    const child = fork(WORKER_MAIN, [], {
      cwd,
      env,
      execArgv: needsLoader ? ['--import', tsxLoaderUrl()] : [],
      stdio: piped ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    if (piped && o.onLog) {
      const onLog = o.onLog;
      for (const stream of [child.stdout, child.stderr]) {
        stream?.setEncoding('utf8');
        // A chunk may end mid-line (a long JSON or EMF line): keep the rest for the next chunk.
        let rest = '';
        stream?.on('data', (chunk: string) => {
          const lines = (rest + chunk).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) if (line) onLog(line, child.pid ?? -1);
        });
        stream?.on('end', () => {
          if (rest) onLog(rest, child.pid ?? -1);
        });
      }
    }
    const worker = new Worker(child, () => undefined);
    this.#all.add(worker);
    child.once('exit', () => {
      const i = this.#idle.indexOf(worker);
      if (i >= 0) this.#idle.splice(i, 1);
    });
    return worker;
  }
}

class InitTimeout extends WeirError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`worker did not finish init within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}
