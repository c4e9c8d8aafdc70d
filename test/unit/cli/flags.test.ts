/** The shared command-line parser of every weir command. */
import { describe, expect, it } from 'vitest';
import { UsageError, isUsageError, parseCommandLine, parseFlags } from '../../../lib/cli/flags.ts';
import { capturedContext } from './cli-context.ts';

const SPECS = {
  stream: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'optional' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

describe('parseFlags', () => {
  it('reads values, inline values, booleans, short aliases and bare optional flags', () => {
    expect(parseFlags(['--stream', 's1', '--json', '-v', '--watch'], SPECS).flags).toEqual({
      stream: 's1',
      json: true,
      verbose: true,
      watch: true,
    });
    expect(parseFlags(['--stream=a=b', '--watch=3'], SPECS).flags).toEqual({
      stream: 'a=b',
      watch: '3',
    });
  });

  it('an optional flag takes the next argument unless it is a flag', () => {
    expect(parseFlags(['--watch', '5', '--json'], SPECS).flags).toEqual({ watch: '5', json: true });
    expect(parseFlags(['--watch', '--json'], SPECS).flags).toEqual({ watch: true, json: true });
  });

  it('-- ends the flags; positionals are counted', () => {
    const p = parseFlags(['a', '--', '--json'], SPECS, { maxPositionals: 2 });
    expect(p.positionals).toEqual(['a', '--json']);
    expect(p.flags).toEqual({});
  });

  it.each([
    [['--nope'], 'unknown option --nope'],
    [['--nope=1'], 'unknown option --nope'],
    [['-x'], 'unknown option -x'],
    [['--stream'], 'option --stream needs a value'],
    [['--stream', '--json'], 'option --stream needs a value'],
    [['--json=yes'], 'option --json takes no value'],
    [['--json', '--json'], 'option --json given twice'],
    [['extra'], 'unexpected argument "extra"'],
  ])('%j is a usage error: %s', (args, message) => {
    expect(() => parseFlags(args, SPECS)).toThrow(new UsageError(message));
  });

  it('too many positionals name the count', () => {
    expect(() => parseFlags(['a', 'b'], SPECS, { maxPositionals: 1 })).toThrow(
      'at most 1 argument expected (given 2)',
    );
  });
});

describe('parseCommandLine', () => {
  const command = { name: 'demo', usage: 'Usage: weir demo [--json]' };

  it('returns the validated value', () => {
    const ctx = capturedContext();
    const line = parseCommandLine(command, ['--json'], ctx, SPECS, ({ flags }) => flags.json);
    expect(line).toEqual({ ok: true, value: true });
  });

  it('--help and -h print the usage to stdout and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const ctx = capturedContext();
      expect(parseCommandLine(command, [flag], ctx, SPECS, () => 1)).toEqual({
        ok: false,
        exitCode: 0,
      });
      expect(ctx.out()).toBe(`${command.usage}\n`);
    }
  });

  it('a usage error from the parser or the validation prints message and usage to stderr, exit 2', () => {
    const ctx = capturedContext();
    expect(parseCommandLine(command, ['--bad'], ctx, SPECS, () => 1)).toEqual({
      ok: false,
      exitCode: 2,
    });
    expect(ctx.err()).toBe(`weir demo: unknown option --bad\n\n${command.usage}\n`);
    const ctx2 = capturedContext();
    const line = parseCommandLine(command, [], ctx2, SPECS, () => {
      throw new UsageError('--stream is required');
    });
    expect(line).toEqual({ ok: false, exitCode: 2 });
    expect(ctx2.err()).toContain('weir demo: --stream is required');
  });

  it('other errors escape', () => {
    const ctx = capturedContext();
    expect(() =>
      parseCommandLine(command, [], ctx, SPECS, () => {
        throw new RangeError('boom');
      }),
    ).toThrow(RangeError);
  });

  it('isUsageError knows node:util parseArgs errors too', () => {
    expect(
      isUsageError(Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' })),
    ).toBe(true);
    expect(isUsageError(new TypeError('x'))).toBe(false);
    expect(isUsageError(new UsageError('x'))).toBe(true);
  });
});
