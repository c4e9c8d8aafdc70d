/**
 * LambdaMappingControl's polling, timeout and error handling, against a
 * hand-written fake LambdaClient (error handling only: the real API is not
 * on the embedded tier). Time is a ManualClock that the fake sleep moves.
 */
import {
  GetEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { LambdaMappingControl } from '../../../lib/adapters/lambda/lambda-mapping-control.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { ManualClock } from '../../../lib/ports/clock.ts';
import {
  MappingControlError,
  MappingStateTimeoutError,
} from '../../../lib/ports/mapping-control.ts';

const UUID = '14e0db71-5d35-4eb5-b481-8945cf9d10c2';

function awsError(name: string): Error {
  return Object.assign(new Error(name), { name, $metadata: {} });
}

/** A fake Lambda API: each Get answers the next scripted state (the last repeats) or error. */
class FakeLambda {
  readonly sent: string[] = [];
  constructor(
    private readonly gets: (string | Error)[],
    private readonly updates: (Error | undefined)[] = [],
  ) {}
  send(command: unknown): Promise<unknown> {
    if (command instanceof GetEventSourceMappingCommand) {
      this.sent.push('Get');
      const next = this.gets.length > 1 ? this.gets.shift()! : this.gets[0]!;
      return next instanceof Error ? Promise.reject(next) : Promise.resolve({ State: next });
    }
    if (command instanceof UpdateEventSourceMappingCommand) {
      this.sent.push(`Update(Enabled=${String(command.input.Enabled)})`);
      const e = this.updates.shift();
      return e ? Promise.reject(e) : Promise.resolve({});
    }
    return Promise.reject(new Error('unexpected command'));
  }
}

function control(fake: FakeLambda, o: { pollMs?: number; maxWaitMs?: number } = {}) {
  const clock = new ManualClock(0);
  const sleeps: number[] = [];
  const c = new LambdaMappingControl({
    client: fake as never,
    uuid: UUID,
    pollMs: o.pollMs ?? 1000,
    maxWaitMs: o.maxWaitMs ?? 10_000,
    clock,
    sleep: (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
      return Promise.resolve();
    },
  });
  return { c, clock, sleeps };
}

describe('LambdaMappingControl', () => {
  it('GIVEN an enabled mapping WHEN paused THEN it disables it and returns once it reports Disabled', async () => {
    const fake = new FakeLambda(['Enabled', 'Disabling', 'Disabling', 'Disabled']);
    const { c, sleeps } = control(fake);
    await c.pause();
    expect(fake.sent).toEqual(['Get', 'Update(Enabled=false)', 'Get', 'Get', 'Get']);
    expect(sleeps).toEqual([1000, 1000, 1000]);
  });

  it('GIVEN a disabled mapping WHEN resumed THEN it enables it and waits for Enabled; WHEN paused THEN nothing is updated', async () => {
    const fake = new FakeLambda(['Disabled', 'Enabling', 'Enabled']);
    await control(fake).c.resume();
    expect(fake.sent).toEqual(['Get', 'Update(Enabled=true)', 'Get', 'Get']);
    const already = new FakeLambda(['Disabled']);
    await control(already).c.pause();
    expect(already.sent).toEqual(['Get']);
  });

  it('GIVEN a mapping that never reports Disabled WHEN paused THEN a MappingStateTimeoutError names the mapping, the wanted and the last state, within the bounded wait', async () => {
    const fake = new FakeLambda(['Enabled', 'Disabling']);
    const { c, clock } = control(fake, { pollMs: 1000, maxWaitMs: 5000 });
    const e = await c.pause().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(MappingStateTimeoutError);
    expect(e).toMatchObject({ mapping: UUID, wanted: 'Disabled', last: 'Disabling' });
    expect((e as MappingStateTimeoutError).waitedMs).toBeLessThanOrEqual(5000);
    expect(clock.now()).toBeLessThanOrEqual(5000);
    expect((e as Error).message).toContain(`get-event-source-mapping --uuid ${UUID}`);
  });

  it('GIVEN a mapping in transition or busy (ResourceInUseException) WHEN paused THEN it waits and updates once it settles', async () => {
    const fake = new FakeLambda(
      ['Updating', 'Enabled', 'Enabled', 'Disabled'],
      [awsError('ResourceInUseException')],
    );
    await control(fake).c.pause();
    expect(fake.sent).toEqual([
      'Get',
      'Get',
      'Update(Enabled=false)',
      'Get',
      'Update(Enabled=false)',
      'Get',
    ]);
  });

  it('GIVEN throttling WHEN paused THEN the call is retried within the wait', async () => {
    const fake = new FakeLambda([awsError('TooManyRequestsException'), 'Enabled', 'Disabled']);
    await control(fake).c.pause();
    expect(fake.sent).toEqual(['Get', 'Get', 'Update(Enabled=false)', 'Get']);
  });

  it.each(['ResourceNotFoundException', 'AccessDeniedException'])(
    'GIVEN %s WHEN paused THEN a MappingControlError at once, without waiting',
    async (name) => {
      const fake = new FakeLambda([awsError(name)]);
      const { c, sleeps } = control(fake);
      const e = await c.pause().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(MappingControlError);
      expect((e as Error).message).toContain(name);
      expect(sleeps).toEqual([]);
    },
  );

  it('GIVEN a wait shorter than one poll WHEN constructed THEN a ConfigError', () => {
    expect(() => control(new FakeLambda(['Enabled']), { pollMs: 1000, maxWaitMs: 10 })).toThrow(
      ConfigError,
    );
  });
});
