/**
 * A deterministic synthetic clickstream for the demo and tests: Zipf-skewed
 * pages, event times spread over a few minutes with bounded disorder.
 */

/** One click event. */
export interface Click {
  readonly page: string;
  readonly user: string;
  /** Event time, epoch ms. */
  readonly ts: number;
}

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

/** A small, fast, seedable PRNG (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples ranks 0..n-1 with probability proportional to 1/(rank+1)^s. */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / Math.pow(i + 1, s);
    cdf.push(sum);
  }
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] ?? 0) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Generates `count` clicks, deterministic for a seed. */
export function generateClicks(options: ClickstreamOptions): Click[] {
  const random = mulberry32(options.seed ?? 42);
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
