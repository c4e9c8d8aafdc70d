/**
 * A deterministic synthetic clickstream for the example, the tests and the
 * e2e bench: Zipf-skewed pages, event times spread over a few minutes with
 * bounded disorder.
 */
import { seededRandom, zipfSampler } from '../../lib/testing/index.ts';
import type { Click } from '../../functions/click-counter/pipeline.ts';

export type { Click };

/** Options of {@link generateClicks}. */
export interface ClickstreamOptions {
  /** Events to generate. */
  readonly count: number;
  /** Distinct pages. @default 12 */
  readonly pages?: number;
  /** Distinct users (used as partition keys). @default 200 */
  readonly users?: number;
  /** Event time of the first click, epoch ms. @default 2026-11-24T09:00:00Z */
  readonly startMs?: number;
  /** Span of event time, ms. @default 5 minutes */
  readonly spanMs?: number;
  /** Maximum backwards jitter of event time (out-of-orderness), ms. @default 3000 */
  readonly disorderMs?: number;
  /** Zipf exponent of page popularity. @default 1.1 */
  readonly skew?: number;
  /** Seed of the pseudo-random generator. @default 42 */
  readonly seed?: number;
}

/** Generates `count` clicks, deterministic for a seed. */
export function generateClicks(options: ClickstreamOptions): Click[] {
  const random = seededRandom(options.seed ?? 42);
  const pages = options.pages ?? 12;
  const users = options.users ?? 200;
  const start = options.startMs ?? Date.UTC(2026, 10, 24, 9, 0, 0);
  const span = options.spanMs ?? 5 * 60_000;
  const disorder = options.disorderMs ?? 3000;
  const page = zipfSampler(pages, options.skew ?? 1.1, random);
  const out: Click[] = [];
  for (let i = 0; i < options.count; i++) {
    const base = start + Math.floor((i / Math.max(1, options.count)) * span);
    out.push({
      page: `/page/${page()}`,
      user: `user-${Math.floor(random() * users)}`,
      ts: Math.max(start, base - Math.floor(random() * disorder)),
    });
  }
  return out;
}
