/**
 * MappingControl over the Lambda API: `UpdateEventSourceMapping` with
 * `Enabled` false or true, then `GetEventSourceMapping` every `pollMs` until
 * the mapping reports `Disabled` (or `Enabled`), at most `maxWaitMs`.
 *
 *     pause()   Update(Enabled=false) ─► Get: Disabling ─ Get: Disabling ─ Get: Disabled ✓
 *                  │ ResourceInUse (another update running): wait, try again within maxWaitMs
 *                  │ ResourceNotFound / AccessDenied: MappingControlError at once
 *     timeout   ───────────────────────────────────────────────────────── MappingStateTimeoutError
 *
 * Lambda reports `Disabled` once the mapping has stopped polling; an
 * invocation already running is not cut short (the restore fences its
 * writes). Transient errors (throttling, 5xx) are retried within the wait.
 */
import {
  GetEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { ConfigError, describeError, errorName } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
import { systemClock } from '../../ports/clock.ts';
import {
  MappingControlError,
  MappingStateTimeoutError,
  type MappingControl,
} from '../../ports/mapping-control.ts';
import { sleep as defaultSleep } from '../../util/sleep.ts';
import { isTransientError } from '../retry.ts';

/** Options of {@link LambdaMappingControl}. */
export interface LambdaMappingControlProps {
  readonly client: Pick<LambdaClient, 'send'>;
  /** The event source mapping's UUID. */
  readonly uuid: string;
  /** Between two GetEventSourceMapping calls, ms. @default 2000 */
  readonly pollMs?: number;
  /** Longest wait for the wanted state, ms. @default 300000 (5 minutes) */
  readonly maxWaitMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Pauses and resumes a Lambda event source mapping (see the module comment). */
export class LambdaMappingControl implements MappingControl {
  readonly #p: Required<LambdaMappingControlProps>;

  constructor(props: LambdaMappingControlProps) {
    if (typeof props.uuid !== 'string' || props.uuid === '')
      throw new ConfigError('uuid', props.uuid, 'must be the event source mapping UUID');
    const pollMs = props.pollMs ?? 2000;
    const maxWaitMs = props.maxWaitMs ?? 300_000;
    if (!Number.isInteger(pollMs) || pollMs < 1)
      throw new ConfigError('pollMs', pollMs, 'must be a positive integer (ms)');
    if (!Number.isInteger(maxWaitMs) || maxWaitMs < pollMs)
      throw new ConfigError(
        'maxWaitMs',
        maxWaitMs,
        `must be an integer of at least pollMs (${pollMs})`,
      );
    this.#p = {
      ...props,
      pollMs,
      maxWaitMs,
      clock: props.clock ?? systemClock,
      sleep: props.sleep ?? ((ms) => defaultSleep(ms)),
    };
  }

  pause(): Promise<void> {
    return this.#switch(false, 'Disabled');
  }

  resume(): Promise<void> {
    return this.#switch(true, 'Enabled');
  }

  /** The mapping's reported state (`Enabled`, `Disabling`, ...). */
  async state(): Promise<string | undefined> {
    const out = await this.#p.client.send(new GetEventSourceMappingCommand({ UUID: this.#p.uuid }));
    return out.State;
  }

  async #switch(enabled: boolean, wanted: 'Enabled' | 'Disabled'): Promise<void> {
    const { clock, maxWaitMs, pollMs, uuid } = this.#p;
    const start = clock.now();
    let last: string | undefined;
    for (;;) {
      try {
        last = await this.state();
        if (last === wanted) return;
        // Only a settled mapping takes an update; one in transition is waited for. (Right
        // after an update a read may still show the old state: updating again is harmless.)
        if (!isTransition(last)) {
          await this.#p.client.send(
            new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }),
          );
        }
      } catch (e) {
        if (!isTransientError(e) && errorName(e) !== 'ResourceInUseException') {
          throw new MappingControlError(
            uuid,
            `${enabled ? 'enabling' : 'disabling'} failed: ${describeError(e)}`,
            { cause: e },
          );
        }
      }
      const waited = clock.now() - start;
      if (waited + pollMs > maxWaitMs)
        throw new MappingStateTimeoutError(uuid, wanted, last, waited);
      await this.#p.sleep(pollMs);
    }
  }
}

/** States in which Lambda refuses an update (ResourceInUseException) or is about to settle. */
function isTransition(state: string | undefined): boolean {
  return (
    state === 'Creating' || state === 'Enabling' || state === 'Disabling' || state === 'Updating'
  );
}
