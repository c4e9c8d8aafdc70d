/**
 * The shape of a `weir` sub-command. Commands get their environment and
 * streams through {@link CliContext} so tests can run them in-process.
 */
import type { Readable, Writable } from 'node:stream';

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
  run(args: readonly string[], ctx: CliContext): Promise<number>;
}
