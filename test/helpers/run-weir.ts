/**
 * `weir <argv>` run in process through the CLI's `main`, as the CLI
 * integration tests run it: stdout and stderr collected as text.
 */
import { Writable } from 'node:stream';
import { main } from '../../lib/cli/main.ts';

/** What one in-process `weir` run returned and wrote. */
export interface WeirRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** stdout and stderr together, in the order they were written. */
  readonly text: string;
}

/**
 * Runs `weir <argv>` with `env` as its environment. `onStderr` sees each
 * chunk of stderr as it is written (progress lines, in order with other events).
 */
export async function runWeir(
  env: Record<string, string>,
  argv: readonly string[],
  onStderr?: (chunk: string) => void,
): Promise<WeirRun> {
  let out = '';
  let err = '';
  let text = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const code = await main([...argv], {
    env,
    stdin: process.stdin,
    stdout: sink((s) => {
      out += s;
      text += s;
    }),
    stderr: sink((s) => {
      err += s;
      text += s;
      onStderr?.(s);
    }),
    cwd: process.cwd(),
    signal: new AbortController().signal,
  });
  return { code, out, err, text };
}
