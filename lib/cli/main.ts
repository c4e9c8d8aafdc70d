/**
 * The `weir` command line. Parses nothing itself beyond the sub-command name;
 * each command owns its flags and parses them with the shared parser
 * (./flags.ts). A command-line error a command lets escape still ends as
 * exit code 2 with that command's usage.
 */
import type { CliContext, CliHooks, Command } from './command.ts';
import { checkpointCommand, checkpointsCommand } from './checkpoint.ts';
import { devCommand } from './dev.ts';
import { isUsageError, reportUsageError } from './flags.ts';
import { localCommand } from './local.ts';
import { produceCommand } from './produce.ts';
import { redriveCommand } from './redrive.ts';
import { restoreCommand } from './restore.ts';
import { statusCommand } from './status.ts';

/** Every registered `weir` sub-command, in `weir --help` order. */
export const commands: readonly Command[] = [
  checkpointCommand,
  checkpointsCommand,
  devCommand,
  localCommand,
  produceCommand,
  redriveCommand,
  restoreCommand,
  statusCommand,
];

/** Runs `weir <args>` with the given context (and what the process entry wires in); resolves to the exit code. */
export async function main(
  args: readonly string[],
  ctx: CliContext,
  hooks: CliHooks = {},
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(
      'Usage: weir <command> [options]\n\nCommands:\n' +
        commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n') +
        "\n\nRun `weir <command> --help` for a command's options.\n",
    );
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    ctx.stderr.write(
      `weir: unknown command "${name}". Known: ${commands.map((c) => c.name).join(', ')}\n`,
    );
    return 2;
  }
  try {
    return await command.run(rest, ctx, hooks);
  } catch (err) {
    if (isUsageError(err)) return reportUsageError(command, ctx, err);
    throw err;
  }
}
