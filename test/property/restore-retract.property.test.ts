/**
 * Corrections that change which windows exist, as a property (issue 9,
 * "Corrections"; docs/recovery.md "Windows the correction no longer fires:
 * retractions"): pipeline A runs over a stream on the in-memory ports, a
 * checkpoint is taken after a prefix without tagged records, A goes on
 * over a suffix in which some records are tagged `x` (late updates of
 * windows fired before the checkpoint, bridges between sessions, windows
 * of tagged records only), then `restoreOperator` restores the checkpoint
 * with pipeline B, which filters the tagged records out. Every scenario
 * must end with the sink showing exactly what a clean run of B shows: no
 * window of A left that B does not fire, every window B fires with B's
 * value.
 *
 * Allowed lateness exceeds every event-time distance, so no record is late
 * and the final results are a function of the records alone (as in
 * restore.property.test.ts). A flush record far ahead ends the stream, so
 * every window fires in both runs.
 *
 * Seeded and reproducible: FC_SEED=<n> overrides the seed printed below,
 * FC_RUNS=<n> the runs per window kind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignerArb } from './arbitraries.ts';
import { correct, view, type Ev } from '../helpers/restore-correction.ts';

const SEED = process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 20_261_202;
const RUNS = process.env['FC_RUNS'] !== undefined ? Number(process.env['FC_RUNS']) : 170;
console.log(
  `restore retraction properties: seed ${SEED}, ${RUNS} runs per window kind (override with FC_SEED / FC_RUNS)`,
);

const LATENESS = 1_000_000;
const FLUSH: Ev = { k: '~flush', t: 100_000_000, v: 0 };
const KEYS = ['a', 'b', 'c'] as const;

const eventArb = fc.record({
  k: fc.nat(KEYS.length - 1),
  t: fc.integer({ min: 0, max: 1500 }),
  v: fc.integer({ min: 1, max: 9 }),
});

function scenarioArb(kind: 'tumbling' | 'sliding' | 'session') {
  return fc.record({
    win: assignerArb(kind, 4),
    prefix: fc.array(eventArb, { maxLength: 10 }),
    suffix: fc.array(fc.record({ e: eventArb, x: fc.boolean() }), { minLength: 1, maxLength: 14 }),
    batch: fc.integer({ min: 1, max: 4 }),
  });
}

describe('restore with a corrected pipeline: the sink equals a clean run of the corrected pipeline', () => {
  for (const kind of ['tumbling', 'sliding', 'session'] as const) {
    it(`${kind}: ${RUNS} seeded scenarios`, async () => {
      const stats = { scenarios: 0, retracted: 0, withRetraction: 0 };
      await fc.assert(
        fc.asyncProperty(scenarioArb(kind), async (s) => {
          const at = (e: { k: number; t: number; v: number }): Ev => ({
            k: KEYS[e.k] as string,
            t: e.t,
            v: e.v,
          });
          const events: Ev[] = [
            ...s.prefix.map(at),
            ...s.suffix.map(({ e, x }) => (x ? { ...at(e), x: true as const } : at(e))),
            FLUSH,
          ];
          const { w, summary, reference } = await correct(
            s.win.assigner,
            LATENESS,
            events,
            s.prefix.length,
            s.batch,
          );
          expect(view(w.results.results())).toEqual(reference);
          stats.scenarios += 1;
          stats.retracted += summary.windowsRetracted;
          if (summary.windowsRetracted > 0) stats.withRetraction += 1;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      console.log(`${kind}: ${JSON.stringify(stats)}`);
    }, 600_000);
  }
});
