/**
 * The `weir` process: wires the real process (argv, streams, signals, exit
 * code) into {@link main}. The process entry calls it (cdk/cli.ts, with the
 * construct for `weir dev`).
 */
import type { CliHooks } from './command.ts';
import { main } from './main.ts';

/**
 * Runs `weir` with this process's arguments and streams; SIGINT/SIGTERM
 * abort the running command, which then stops cleanly.
 *
 * @example
 * await runCli({ synthesizeDevStack: (request) => synthesizeDevTemplate(request) });
 */
export async function runCli(hooks: CliHooks = {}): Promise<void> {
  // Lambda runs Node 22; locally the SDK's Node 20 deprecation notice is noise.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    process.exitCode = await main(
      process.argv.slice(2),
      {
        env: process.env,
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        cwd: process.cwd(),
        signal: controller.signal,
      },
      hooks,
    );
  } catch (err) {
    process.stderr.write(
      `weir: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
