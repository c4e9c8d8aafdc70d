/**
 * The one command-line parser of every `weir <command>`: declared flags
 * only, so a mistyped flag is a usage error (exit 2 with the command's
 * usage), never silently ignored.
 *
 * Accepted forms: `--name value`, `--name=value`, `--flag` (boolean),
 * `-h` (a declared short alias), `--` (everything after it is positional).
 * A flag of type `optional` takes the next argument as its value unless that
 * argument starts with `-` (`--watch`, `--watch 5`, `--watch=5`).
 *
 *     weir status --operator clicks --watch 2 --json
 *                 └ string ──────┘ └ optional ┘└ boolean
 */
import { WeirError } from '../errors.ts';
import type { CliContext, Command } from './command.ts';

/** Exit codes shared by every command. */
export const CLI_EXIT = {
  OK: 0,
  FAILURE: 1,
  /** Bad or unknown flag, missing value, unexpected argument. */
  USAGE: 2,
} as const;

/** The command line is wrong: the command prints the message and its usage, and exits with 2. */
export class UsageError extends WeirError {}

/** One declared flag. */
export interface FlagSpec {
  /** `string`: needs a value; `boolean`: takes none; `optional`: a value if one follows. */
  readonly type: 'string' | 'boolean' | 'optional';
  /** A one-letter alias (`-h`). */
  readonly short?: string;
}

/** The flags a command declares, by long name (without `--`). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** What one declared flag parses to: `undefined` when absent; `true` for an `optional` flag given bare. */
export type FlagValue<F extends FlagSpec> = F['type'] extends 'boolean'
  ? boolean | undefined
  : F['type'] extends 'optional'
    ? string | true | undefined
    : string | undefined;

/** Parsed flags and positional arguments. */
export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: { readonly [K in keyof S]: FlagValue<S[K]> };
  readonly positionals: readonly string[];
}

/** Options of {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** Most positional arguments accepted. @default 0 */
  readonly maxPositionals?: number;
}

/**
 * Parses `args` against `specs`. Throws {@link UsageError} for an unknown
 * flag, a missing value, a value given to a boolean, a repeated flag or too
 * many positional arguments.
 *
 * @example
 * const { flags } = parseFlags(['--stream', 's', '--json'], {
 *   stream: { type: 'string' },
 *   json: { type: 'boolean' },
 * }); // flags.stream === 's', flags.json === true
 */
export function parseFlags<const S extends FlagSpecs>(
  args: readonly string[],
  specs: S,
  options: ParseFlagsOptions = {},
): ParsedArgs<S> {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs))
    if (spec.short !== undefined) byShort.set(spec.short, name);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const name = arg.startsWith('--')
      ? arg.slice(2, eq > 0 ? eq : undefined)
      : byShort.get(arg.slice(1));
    const spec = name === undefined ? undefined : specs[name];
    if (name === undefined || spec === undefined)
      throw new UsageError(`unknown option ${inline === undefined ? arg : arg.slice(0, eq)}`);
    if (name in flags) throw new UsageError(`option --${name} given twice`);
    const next = args[i + 1];
    switch (spec.type) {
      case 'boolean':
        if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
        flags[name] = true;
        break;
      case 'string':
        if (inline !== undefined) flags[name] = inline;
        else if (next === undefined || (next.startsWith('-') && next !== '-'))
          throw new UsageError(`option --${name} needs a value`);
        else {
          flags[name] = next;
          i++;
        }
        break;
      case 'optional':
        if (inline !== undefined) flags[name] = inline;
        else if (next !== undefined && !next.startsWith('-')) {
          flags[name] = next;
          i++;
        } else flags[name] = true;
        break;
    }
  }
  const max = options.maxPositionals ?? 0;
  if (positionals.length > max) {
    throw new UsageError(
      max === 0
        ? `unexpected argument ${JSON.stringify(positionals[0])}`
        : `at most ${max} argument${max === 1 ? '' : 's'} expected (given ${positionals.length})`,
    );
  }
  return { flags: flags as ParsedArgs<S>['flags'], positionals };
}

/** Writes `weir <name>: <message>`, a blank line and the usage to stderr; returns exit code 2. */
export function reportUsageError(
  command: Pick<Command, 'name' | 'usage'>,
  ctx: Pick<CliContext, 'stderr'>,
  err: unknown,
): number {
  const message = err instanceof Error ? err.message : String(err);
  ctx.stderr.write(`weir ${command.name}: ${message}\n\n${command.usage}\n`);
  return CLI_EXIT.USAGE;
}

/** The outcome of {@link parseCommandLine}: parsed options, or the exit code the command returns now. */
export type CommandLine<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly exitCode: number };

/**
 * Parses a command's arguments the way every `weir` command does: `-h` /
 * `--help` prints the usage to stdout (exit 0); an unknown flag, or a
 * {@link UsageError} thrown by `validate`, prints the message and the usage
 * to stderr (exit 2). `specs` need not declare `help`.
 *
 * @example
 * const line = parseCommandLine(statusCommand, args, ctx, FLAGS, ({ flags }) => toOptions(flags));
 * if (!line.ok) return line.exitCode;
 */
export function parseCommandLine<const S extends FlagSpecs, T>(
  command: Pick<Command, 'name' | 'usage'>,
  args: readonly string[],
  ctx: Pick<CliContext, 'stdout' | 'stderr'>,
  specs: S,
  validate: (parsed: ParsedArgs<S>) => T,
  options: ParseFlagsOptions = {},
): CommandLine<T> {
  try {
    const parsed = parseFlags(args, { ...specs, help: { type: 'boolean', short: 'h' } }, options);
    if (parsed.flags.help === true) {
      ctx.stdout.write(`${command.usage}\n`);
      return { ok: false, exitCode: CLI_EXIT.OK };
    }
    return { ok: true, value: validate(parsed) };
  } catch (err) {
    if (err instanceof UsageError)
      return { ok: false, exitCode: reportUsageError(command, ctx, err) };
    throw err;
  }
}

/** Whether `err` is a command-line error: a {@link UsageError} or one of `node:util` parseArgs' errors. */
export function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
