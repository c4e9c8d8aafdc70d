/**
 * Checkpoints on a schedule over the in-memory ports: the shared settings'
 * validation (stream retention and tombstone TTL against interval and
 * retention), and one scheduled call: take when due, resume a pending
 * checkpoint from its stored cursors, retention after each completed one.
 * Time is a ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryCheckpointStore } from '../../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import { InMemoryStateStore } from '../../../lib/adapters/memory/index.ts';
import { CheckpointTaker, listCheckpoints } from '../../../lib/core/checkpoint/index.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { ManualClock } from '../../../lib/ports/clock.ts';
import type {
  WindowItem,
  WindowScanPage,
  WindowScanRequest,
} from '../../../lib/ports/state-store.ts';
import {
  ScheduledCheckpointAction,
  resolveCheckpointSchedule,
  runScheduledCheckpoint,
} from '../../../lib/runtime/checkpoint/index.ts';
import { checkpointerConfigFromEnv } from '../../../lib/runtime/lambda/checkpointer.ts';

const OP = 'clicks';
const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/clicks';
const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;

describe('resolveCheckpointSchedule', () => {
  it('GIVEN nothing WHEN resolved THEN hourly, 24 kept, tombstones for 7 days, a 24 h stream', () => {
    expect(resolveCheckpointSchedule()).toEqual({
      intervalMs: HOUR,
      retain: 24,
      tombstoneTtlSeconds: 604_800,
      streamRetentionHours: 24,
    });
  });

  it('GIVEN many retained checkpoints and no tombstone TTL WHEN resolved THEN the TTL covers the oldest one', () => {
    const s = resolveCheckpointSchedule({ intervalMs: 6 * HOUR, retain: 40 });
    expect(s.tombstoneTtlSeconds).toBe((41 * 6 * HOUR) / 1000);
  });

  it('GIVEN an interval the stream cannot hold twice WHEN resolved THEN a ConfigError names both values', () => {
    const e = (() => {
      try {
        resolveCheckpointSchedule({ intervalMs: 13 * HOUR, streamRetentionHours: 24 });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain('13 hours');
    expect((e as Error).message).toContain('1 day');
    expect((e as Error).message).toContain('26 hours');
  });

  it('GIVEN a tombstone TTL shorter than the oldest retained checkpoint WHEN resolved THEN a ConfigError names both values', () => {
    expect(() =>
      resolveCheckpointSchedule({ intervalMs: HOUR, retain: 48, tombstoneTtlSeconds: 86_400 }),
    ).toThrow(
      /tombstoneTtl is shorter .*checkpointRetain 48 x checkpointInterval 1 hour.*49 hours.*given "1 day"/,
    );
  });

  it.each([
    [{ intervalMs: 30_000 }, 'checkpointInterval'],
    [{ intervalMs: 90_000 }, 'checkpointInterval'],
    [{ retain: 0 }, 'checkpointRetain'],
    [{ streamRetentionHours: 12 }, 'streamRetention'],
  ])('GIVEN %j WHEN resolved THEN a ConfigError on %s', (input, field) => {
    expect(() => resolveCheckpointSchedule(input)).toThrow(ConfigError);
    try {
      resolveCheckpointSchedule(input);
    } catch (e) {
      expect((e as ConfigError).field).toBe(field);
    }
  });
});

/** A state store that moves the clock by `msPerPage` before each scan page. */
class SlowStore extends InMemoryStateStore {
  constructor(
    private readonly clock: ManualClock,
    private readonly msPerPage: number,
  ) {
    super();
  }
  override async scanWindows(operator: string, r: WindowScanRequest): Promise<WindowScanPage> {
    this.clock.advance(this.msPerPage);
    return super.scanWindows(operator, r);
  }
}

function item(i: number): WindowItem {
  return {
    key: `/page/${i}`,
    start: 0,
    end: 60_000,
    accumulator: { n: i },
    absorbed: {},
    firedVersion: 0,
    pending: true,
    cleanupAt: 59_999,
    revision: 1,
    purged: false,
    supersedes: [],
    outbox: null,
  };
}

async function setup(items: number, msPerPage = 0) {
  const clock = new ManualClock(T0);
  const state = new SlowStore(clock, msPerPage);
  await state.write(
    OP,
    Array.from({ length: items }, (_, i) => [
      { kind: 'put' as const, item: item(i), expectedRevision: null },
    ]),
    0,
  );
  const checkpoints = new InMemoryCheckpointStore();
  let r = 0;
  const taker = new CheckpointTaker({
    state,
    checkpoints,
    clock,
    operator: OP,
    streamArn: STREAM,
    totalSegments: 2,
    pageSize: 5,
    partMaxItems: 10,
    random: () => (r++ % 1000) / 1000,
  });
  const call = (deadline?: number) =>
    runScheduledCheckpoint({
      taker,
      checkpoints,
      operator: OP,
      clock,
      intervalMs: HOUR,
      retain: 2,
      ...(deadline !== undefined ? { deadline } : {}),
    });
  return { clock, checkpoints, call };
}

describe('runScheduledCheckpoint', () => {
  it('GIVEN no checkpoint WHEN called THEN one is taken; THEN not due until the interval (less a minute) has passed', async () => {
    const { clock, call } = await setup(25);
    const first = await call();
    expect(first.action).toBe(ScheduledCheckpointAction.Took);
    expect(first.run?.status).toBe('complete');
    clock.advance(HOUR - 61_000);
    expect((await call()).action).toBe(ScheduledCheckpointAction.NotDue);
    clock.advance(2_000);
    const second = await call();
    expect(second.action).toBe(ScheduledCheckpointAction.Took);
    expect(second.previousAt).toBe(T0);
  });

  it('GIVEN a table too large for one call WHEN called with a deadline, call after call THEN it resumes the same checkpoint until complete', async () => {
    const { clock, checkpoints, call } = await setup(60, 100);
    const ids = new Set<string>();
    const actions: string[] = [];
    for (let k = 0; k < 20; k++) {
      const r = await call(clock.now() + 250);
      actions.push(r.action);
      if (r.id !== undefined) ids.add(r.id);
      if (r.run?.status === 'complete') break;
      clock.advance(60_000);
    }
    expect(ids.size).toBe(1);
    expect(actions[0]).toBe('took');
    expect(actions.length).toBeGreaterThan(2);
    expect(actions.slice(1).every((a) => a === 'resumed')).toBe(true);
    const [only] = await listCheckpoints(checkpoints, OP);
    expect(only?.status).toBe('complete');
    expect(only?.items).toBe(60);
  });

  it('GIVEN retain 2 WHEN four checkpoints complete an interval apart THEN the two newest remain', async () => {
    const { clock, checkpoints, call } = await setup(5);
    const ids: string[] = [];
    for (let k = 0; k < 4; k++) {
      const r = await call();
      ids.push(r.id!);
      clock.advance(HOUR);
    }
    const listed = await listCheckpoints(checkpoints, OP);
    expect(listed.map((c) => c.id)).toEqual([ids[3], ids[2]]);
  });
});

describe('checkpointerConfigFromEnv', () => {
  const env = {
    WEIR_STATE_TABLE: 'state',
    WEIR_RESULTS_TABLE: 'results',
    WEIR_OUTPUT_BUCKET: 'bucket',
    WEIR_CHECKPOINT_BUCKET: 'bucket',
    WEIR_STREAM_ARN: STREAM,
  };

  it('GIVEN the construct variables WHEN read THEN the schedule is the deployed one, stream retention included', () => {
    const c = checkpointerConfigFromEnv({
      ...env,
      WEIR_CHECKPOINT_INTERVAL_MS: String(20 * HOUR),
      WEIR_CHECKPOINT_RETAIN: '3',
      WEIR_STREAM_RETENTION_HOURS: '48',
    });
    expect(c.schedule).toEqual({
      intervalMs: 20 * HOUR,
      retain: 3,
      tombstoneTtlSeconds: 604_800,
      streamRetentionHours: 48,
    });
    expect([c.checkpointBucket, c.checkpointPrefix, c.streamArn]).toEqual([
      'bucket',
      'weir',
      STREAM,
    ]);
  });

  it.each([
    [{ WEIR_STREAM_ARN: undefined }, 'WEIR_STREAM_ARN'],
    [{ WEIR_CHECKPOINT_BUCKET: undefined }, 'WEIR_CHECKPOINT_BUCKET'],
    [{ WEIR_CHECKPOINT_RETAIN: 'many' }, 'WEIR_CHECKPOINT_RETAIN'],
  ])('GIVEN %j WHEN read THEN a ConfigError names %s', (change, field) => {
    let error: unknown;
    try {
      checkpointerConfigFromEnv({ ...env, ...change });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });
});
