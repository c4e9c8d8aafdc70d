/**
 * Every registered `weir` command (the list in lib/cli/main.ts, so commands
 * added later are covered without touching this file) rejects an unknown
 * flag with exit code 2 and its usage, and answers --help with its usage.
 */
import { describe, expect, it } from 'vitest';
import { commands, main } from '../../../lib/cli/main.ts';
import { capturedContext } from './cli-context.ts';

describe('every weir command', () => {
  it('GIVEN the command list THEN it is not empty and names are unique', () => {
    const names = commands.map((c) => c.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(new Set(names).size).toBe(names.length);
  });

  for (const command of commands) {
    it(`weir ${command.name} --no-such-flag exits 2 and prints its usage on stderr`, async () => {
      const ctx = capturedContext();
      const code = await main([command.name, '--no-such-flag'], ctx);
      expect(code).toBe(2);
      expect(ctx.err()).toContain('--no-such-flag');
      expect(ctx.err()).toContain(command.usage);
      expect(ctx.out()).toBe('');
    });

    it(`weir ${command.name} -Z (unknown short flag) exits 2 with its usage`, async () => {
      const ctx = capturedContext();
      expect(await main([command.name, '-Z'], ctx)).toBe(2);
      expect(ctx.err()).toContain(command.usage);
    });

    it(`weir ${command.name} --help prints its usage on stdout and exits 0`, async () => {
      const ctx = capturedContext();
      expect(await main([command.name, '--help'], ctx)).toBe(0);
      expect(ctx.out()).toContain(command.usage);
      expect(command.usage).toMatch(new RegExp(`^Usage: weir ${command.name}\\b`));
    });
  }

  it('weir with an unknown command exits 2 and names the known ones', async () => {
    const ctx = capturedContext();
    expect(await main(['no-such-command'], ctx)).toBe(2);
    for (const c of commands) expect(ctx.err()).toContain(c.name);
  });
});
