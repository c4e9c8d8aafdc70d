/**
 * The click counter: clicks per page per event-time minute, with 5 s of
 * disorder tolerated, 30 s of allowed lateness (late updates re-fire the
 * window with version + 1) and late records routed to the `late` output.
 */
import { count, json, minutes, pipeline, seconds, tumbling } from '../../lib/core/index.ts';

/** One click as produced by the demo's clickstream. */
export interface Click {
  readonly page: string;
  readonly user: string;
  /** Event time, epoch ms. */
  readonly ts: number;
}

export const clickCounter = pipeline('click-counter')
  .decode(json<Click>())
  .keyBy((c) => c.page)
  .eventTime((c) => c.ts, {
    maxOutOfOrderness: seconds(5),
    idleTimeout: seconds(10),
    idleAdvance: true,
  })
  .window(tumbling(minutes(1)))
  .allowedLateness(seconds(30))
  .sideOutputLateData('late')
  .aggregate(count());
