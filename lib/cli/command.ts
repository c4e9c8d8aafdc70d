/**
 * The shape of a `weir` sub-command. Commands get their environment and
 * streams through {@link CliContext} so tests can run them in-process.
 *
 * Conventions every command keeps (test/unit/cli/commands.test.ts checks
 * them over the list in ./main.ts): parse with `parseCommandLine` from
 * ./flags.ts (declared flags only; `-h`/`--help` prints `usage` and exits 0;
 * an unknown flag or a `UsageError` prints the message and `usage` to stderr
 * and exits 2), and start `usage` with `Usage: weir <name>`.
 */
import type { Readable, Writable } from 'node:stream';
import type { CfnTemplate } from '../runtime/local/index.ts';

/** What a command may touch of the outside world. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Working directory for relative paths. */
  readonly cwd: string;
  /** Aborted on SIGINT/SIGTERM; long-running commands stop cleanly. */
  readonly signal: AbortSignal;
}

/** One `weir <name>` sub-command. */
export interface Command {
  readonly name: string;
  /** One line for `weir --help`. */
  readonly summary: string;
  /** Full usage text for `weir <name> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: readonly string[], ctx: CliContext, hooks?: CliHooks): Promise<number>;
}

/** What `weir dev` asks the construct side for: one operator's stack, as an application would declare it. */
export interface DevStackRequest {
  /** Stack name (prefixes the local physical names). */
  readonly stackName: string;
  /** The pipeline the handler runs (name and event-time settings are what the construct reads). */
  readonly pipeline: { readonly name: string; readonly time: { readonly idleTimeout?: number } };
  /** The handler's source file, absolute. */
  readonly entry: string;
  /** The project root the entry is recorded relative to, absolute. */
  readonly projectRoot: string;
  /** Exported name of the ESM handler; the construct's default when absent. */
  readonly handler?: string;
  /** Exported name of the ticker; the construct's default when absent. */
  readonly tickerHandler?: string;
  readonly shardCount: number;
  /** Where the ESM sends discarded batches (the embedded AWS has no SQS: 's3'). */
  readonly onFailure: 's3' | 'sqs';
  /** The ticker's tick interval (whole seconds dividing a minute). */
  readonly tickIntervalMs: number;
}

/** What the process entry wires into the CLI (cdk/cli.ts: the construct, for `weir dev`). */
export interface CliHooks {
  /** Synthesizes the stack `weir dev` provisions, offline; returns its CloudFormation template. */
  readonly synthesizeDevStack?: (request: DevStackRequest) => Promise<CfnTemplate>;
}
