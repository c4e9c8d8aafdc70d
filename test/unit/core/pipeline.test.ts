import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  count,
  distinctApprox,
  hours,
  json,
  minutes,
  ms,
  pipeline,
  seconds,
  session,
  sliding,
  tumbling,
} from '../../../lib/index.ts';

interface Click {
  page: string;
  ts: number;
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const base = () =>
  pipeline('p')
    .decode(json<Click>())
    .keyBy((e) => e.page);

describe('durations', () => {
  it('are plain milliseconds', () => {
    expect([ms(5), seconds(5), minutes(1), hours(1)]).toEqual([5, 5000, 60_000, 3_600_000]);
  });
});

describe('pipeline validation names field, value and range', () => {
  it.each([
    [
      () => pipeline(''),
      'pipeline.name must be 1..64 characters of letters, digits, "_", "." or "-", starting with a letter or digit (given "")',
    ],
    [
      () => pipeline('a b'),
      'pipeline.name must be 1..64 characters of letters, digits, "_", "." or "-", starting with a letter or digit (given "a b")',
    ],
    [
      () => tumbling(0),
      'tumbling.size must be an integer number of ms in 1..31622400000 (given 0)',
    ],
    [
      () => tumbling(1.5),
      'tumbling.size must be an integer number of ms in 1..31622400000 (given 1.5)',
    ],
    [
      () => tumbling(10, 10),
      'tumbling.offset must be an integer with |offset| < size (10) (given 10)',
    ],
    [
      () => tumbling(10, -10),
      'tumbling.offset must be an integer with |offset| < size (10) (given -10)',
    ],
    [
      () => sliding(10, 0),
      'sliding.slide must be an integer number of ms in 1..size (10) (given 0)',
    ],
    [
      () => sliding(10, 11),
      'sliding.slide must be an integer number of ms in 1..size (10) (given 11)',
    ],
    [
      () => sliding(10_000, 1),
      'sliding.slide must be at least size/1000 (10) so a record is in at most 1000 windows (given 1)',
    ],
    [
      () => sliding(10, 4, 4),
      'sliding.offset must be an integer with |offset| < slide (4) (given 4)',
    ],
    [() => session(-1), 'session.gap must be an integer number of ms in 1..31622400000 (given -1)'],
    [
      () => base().eventTime((e) => e.ts, { maxOutOfOrderness: -1 }),
      'eventTime.maxOutOfOrderness must be an integer number of ms in 0..604800000 (given -1)',
    ],
    [
      () => base().eventTime((e) => e.ts, { idleTimeout: 0 }),
      'eventTime.idleTimeout must be an integer number of ms in 1..604800000 (given 0)',
    ],
    [
      () => base().eventTime((e) => e.ts, { idleAdvance: true }),
      'eventTime.idleAdvance requires eventTime.idleTimeout; set idleTimeout (for example minutes(1)) (given true)',
    ],
    [
      () =>
        base()
          .eventTime((e) => e.ts)
          .window(tumbling(10))
          .allowedLateness(hours(24 * 8)),
      'allowedLateness must be an integer number of ms in 0..604800000 (given 691200000)',
    ],
    [
      () =>
        base()
          .eventTime((e) => e.ts)
          .window(tumbling(10))
          .sideOutputLateData(''),
      'sideOutputLateData must be 1..64 characters of letters, digits, "_", "." or "-" (given "")',
    ],
    [
      () =>
        pipeline('p')
          .decode(json<Click>())
          .keyBy((e) => e.page, { maxKeyBytes: 0 }),
      'keyBy.maxKeyBytes must be an integer in 1..1536 (given 0)',
    ],
    [
      () =>
        pipeline('p')
          .decode(json<Click>())
          .filter(1 as never),
      'filter must be a function (given 1)',
    ],
    [
      () => distinctApprox((e: Click) => e.page, { precision: 3 }),
      'distinctApprox.precision must be an integer in 4..16 (given 3)',
    ],
    [
      () =>
        base()
          .eventTime((e) => e.ts)
          .window({ kind: 'hopping' } as never),
      'window must be tumbling(...), sliding(...) or session(...) (given {"kind":"hopping"})',
    ],
  ])('%#: %s', (f, expected) => {
    expect(message(f)).toBe(expected);
  });

  it('rejects an aggregate missing a method', () => {
    const bad = { ...count(), merge: undefined } as never;
    expect(
      message(() =>
        base()
          .eventTime((e) => e.ts)
          .window(tumbling(10))
          .aggregate(bad),
      ),
    ).toBe('aggregate.merge must be a function (given undefined)');
  });

  it('reads like Flink and resolves defaults', () => {
    const d = pipeline('page-views')
      .decode(json<Click>())
      .filter((e) => e.page !== '')
      .keyBy((e) => e.page)
      .eventTime((e) => e.ts, {
        maxOutOfOrderness: seconds(5),
        idleTimeout: minutes(1),
        idleAdvance: true,
      })
      .window(tumbling(minutes(1)))
      .allowedLateness(seconds(30))
      .sideOutputLateData('late')
      .aggregate(count());
    expect(d.name).toBe('page-views');
    expect(d.time).toEqual({ maxOutOfOrderness: 5000, idleTimeout: 60_000, idleAdvance: true });
    expect(d.allowedLateness).toBe(30_000);
    expect(d.lateDataTag).toBe('late');
    expect(d.maxKeyBytes).toBe(1024);
    const e = pipeline('x')
      .decode(json<Click>())
      .eventTime((c) => c.ts)
      .keyBy((c) => c.page)
      .window(session(10))
      .aggregate(count());
    expect(e.time).toEqual({ maxOutOfOrderness: 0, idleTimeout: undefined, idleAdvance: false });
    expect(e.lateDataTag).toBe('late-data');
  });
});
