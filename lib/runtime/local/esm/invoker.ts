/**
 * How the local ESM runs a function: a {@link HandlerInvoker} turns one event
 * into an {@link InvokeOutcome}, distinguishing the ways a Lambda invocation
 * can end (returned, threw, process died, ran out of time).
 */
import type { Context, KinesisStreamEvent } from 'aws-lambda';

/** What the ESM tells the invoker about one invocation. */
export interface InvokeContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  /** The function's timeout; the invoker enforces it. */
  readonly timeoutMs: number;
}

/** How an invocation ended. */
export type InvokeOutcome =
  /** The handler returned (or resolved) `value` (JSON round-tripped for a process invoker). */
  | { readonly kind: 'success'; readonly value: unknown; readonly durationMs: number }
  /** The handler threw or rejected: Lambda's `functionError: "Unhandled"`. */
  | {
      readonly kind: 'function-error';
      readonly errorType: string;
      readonly errorMessage: string;
      readonly durationMs: number;
    }
  /** The execution environment died (process.exit, SIGKILL, out of memory). */
  | {
      readonly kind: 'crash';
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly durationMs: number;
    }
  /** The handler did not finish within the timeout; its environment was discarded. */
  | { readonly kind: 'timeout'; readonly timeoutMs: number; readonly durationMs: number };

/** Runs a handler for the ESM. */
export interface HandlerInvoker {
  invoke(event: KinesisStreamEvent, ctx: InvokeContext): Promise<InvokeOutcome>;
  /** Releases workers; idempotent. */
  close(): Promise<void>;
}

/** A Lambda handler as weir's functions export it. */
export type KinesisHandler = (event: KinesisStreamEvent, context: Context) => unknown;

/** Builds a Lambda-like `context` object whose remaining time counts down to `deadline` (epoch ms). */
export function lambdaContext(
  ctx: Omit<InvokeContext, 'timeoutMs'>,
  deadline: number,
  now: () => number = Date.now,
): Context {
  const unsupported = (name: string) => (): never => {
    throw new Error(
      `context.${name}() is not supported: return a value or throw instead (Node.js 24 runtime semantics)`,
    );
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: ctx.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: ctx.invokedFunctionArn,
    memoryLimitInMB: '128',
    awsRequestId: ctx.awsRequestId,
    logGroupName: `/aws/lambda/${ctx.functionName}`,
    logStreamName: `local/[$LATEST]${ctx.awsRequestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}

/** Options of {@link InProcessHandlerInvoker}. */
export interface InProcessHandlerInvokerOptions {
  /**
   * Round-trip the returned value through JSON, as Lambda does. @default true
   */
  readonly jsonRoundTrip?: boolean;
}

/**
 * Runs a handler function in this process: fast, for tests that do not need
 * crash isolation. A timeout is reported but cannot stop the handler (it keeps
 * running in the background); use {@link ProcessHandlerInvoker} for that.
 *
 * @example
 * const invoker = new InProcessHandlerInvoker(async (event) => ({ batchItemFailures: [] }));
 */
export class InProcessHandlerInvoker implements HandlerInvoker {
  readonly #handler: KinesisHandler;
  readonly #json: boolean;
  constructor(handler: KinesisHandler, options: InProcessHandlerInvokerOptions = {}) {
    this.#handler = handler;
    this.#json = options.jsonRoundTrip ?? true;
  }

  async invoke(event: KinesisStreamEvent, ctx: InvokeContext): Promise<InvokeOutcome> {
    const started = Date.now();
    const context = lambdaContext(ctx, started + ctx.timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<InvokeOutcome>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({ kind: 'timeout', timeoutMs: ctx.timeoutMs, durationMs: Date.now() - started }),
        ctx.timeoutMs,
      );
    });
    const run = (async (): Promise<InvokeOutcome> => {
      try {
        const value: unknown = await this.#handler(structuredClone(event), context);
        const out = this.#json ? jsonRoundTrip(value) : value;
        return { kind: 'success', value: out, durationMs: Date.now() - started };
      } catch (err) {
        return { kind: 'function-error', ...toLambdaError(err), durationMs: Date.now() - started };
      }
    })();
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** `errorType` / `errorMessage` as Lambda's Node.js runtime reports them. */
export function toLambdaError(err: unknown): { errorType: string; errorMessage: string } {
  if (err instanceof Error) return { errorType: err.name || 'Error', errorMessage: err.message };
  return { errorType: typeof err, errorMessage: String(err) };
}

function jsonRoundTrip(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? null : (JSON.parse(text) as unknown);
}
