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
