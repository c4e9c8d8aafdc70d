/** An in-process CliContext whose output the test reads back. */
import { PassThrough, Writable } from 'node:stream';
import type { CliContext } from '../../../lib/cli/command.ts';

/** A context with captured stdout/stderr. */
export interface CapturedContext extends CliContext {
  out(): string;
  err(): string;
}

/** Builds a context; `signal` defaults to one that is already aborted (nothing may keep running). */
export function capturedContext(
  env: Readonly<Record<string, string | undefined>> = {},
  signal: AbortSignal = AbortSignal.abort(),
): CapturedContext {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  const stdin = new PassThrough();
  stdin.end();
  return {
    env,
    stdin: stdin,
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    cwd: process.cwd(),
    signal,
    out: () => out,
    err: () => err,
  };
}
