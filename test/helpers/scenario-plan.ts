/**
 * Seeded random plans for the exactly-once scenarios
 * (test/integration/exactly-once-scenarios.test.ts). A plan is pure data: the
 * same seed always gives the same plan; only wall-clock timing (batch
 * boundaries, which batch a kill lands in, when the ticker runs) varies
 * between runs.
 *
 * Event time of a plan is relative (`dt`, ms after the scenario's base
 * minute); the runner anchors it a few minutes in the past so processing-time
 * idleness (idleAdvance) can close every window at the end.
 *
 *   main phase: chunks 0..K-1, nominal time n rising over [0, span]
 *     on-time        ts = n - U[0, 4 s]          (inside maxOutOfOrderness 5 s)
 *     in-lateness    ts = n - U[8 s, 30 s]        (behind the watermark, never beyond
 *                                                  lateness: may re-fire a window, v2+)
 *     boundary       ts = a minute's first or last millisecond, at most n
 *     KPL aggregate  2..5 on-time clicks in one Kinesis record (sub-sequence numbers)
 *     malformed      dead-letter kinds (not JSON, bad UTF-8, bad timestamp, key too large, broken KPL, ...)
 *     anchors        one on-time click pinned to every open shard at the end of each chunk
 *   [reshard]        SplitShard or MergeShards before a chunk (K >= 2)
 *   late phase: after the main phase is applied and a tick closed consumed parents,
 *     clicks in the first minute (window end + lateness far behind every shard's watermark)
 */

import { seededRandom } from '../../lib/testing/random.ts';

/** A mulberry32 PRNG: small, fast, seedable (the project's one implementation). */
export const rng = seededRandom;

/** The seed of scenario `index` under a master seed (stable, well mixed). */
export function scenarioSeed(master: number, index: number): number {
  let h = (master ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A click with relative event time. `user` is unique in the scenario: it identifies the click. */
export interface PlannedClick {
  readonly page: string;
  readonly user: string;
  /** Event time, ms after the scenario's base minute. */
  readonly dt: number;
  readonly role: 'on-time' | 'in-lateness' | 'boundary' | 'late' | 'anchor';
}

/** Malformed kinds the runner knows how to build; each must end as exactly one dead letter. */
export const BAD_KINDS = [
  'not JSON',
  'truncated JSON',
  'invalid UTF-8',
  'missing timestamp',
  'timestamp of the wrong type',
  'absurd timestamp',
  'missing key field',
  'key of the wrong type',
  'key too large (2 KB page)',
  'broken KPL aggregate (bad MD5)',
  'JSON null',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/** One entry of a chunk, in production order. */
export type PlannedRecord =
  | { readonly kind: 'click'; readonly click: PlannedClick }
  | { readonly kind: 'kpl'; readonly clicks: readonly PlannedClick[] }
  | { readonly kind: 'bad'; readonly bad: BadKind; readonly id: string }
  /** One on-time click per open shard (pinned by explicit hash key), resolved by the runner. */
  | {
      readonly kind: 'anchors';
      readonly page: string;
      readonly dt: number;
      readonly userPrefix: string;
    };

/** A fault to arm on the invoker before a chunk. */
export interface PlannedFault {
  /** Armed just before producing this chunk (the chunk index; `chunks.length` = the late phase). */
  readonly beforeChunk: number;
  /** Delay after the event reaches the worker. */
  readonly afterMs: number;
  /** SIGKILL: a crash; SIGSTOP: the worker hangs until the function timeout kills it. */
  readonly signal: 'SIGKILL' | 'SIGSTOP';
}

/** DynamoDB errors to inject (through the proxy) before a chunk: the next `count` writes to that table fail. */
export interface PlannedDynamoFault {
  readonly beforeChunk: number;
  /** `state`: a batch fails mid-write (partial batch response, retry); `results`: emission fails (outbox, re-drive). */
  readonly table: 'state' | 'results';
  readonly count: number;
}

/** Everything one scenario does. */
export interface ScenarioPlan {
  readonly index: number;
  readonly seed: number;
  readonly shardCount: number;
  /** ESM batch size (written into the CDK template). */
  readonly batchSize: number;
  /** Function timeout the local ESM enforces (short when a SIGSTOP fault is planned). */
  readonly functionTimeoutMs: number;
  readonly reshard:
    | { readonly kind: 'split' | 'merge'; readonly beforeChunk: number; readonly pick: number }
    | undefined;
  readonly faults: readonly PlannedFault[];
  readonly dynamoFaults: readonly PlannedDynamoFault[];
  readonly chunks: readonly (readonly PlannedRecord[])[];
  /** Pause after each main chunk is produced (ms). */
  readonly pausesMs: readonly number[];
  readonly late: readonly PlannedRecord[];
  /** Bounds of the random gap between two background ticks (ms). */
  readonly tickGapMs: readonly [number, number];
  /** Span of nominal event time of the main phase (ms). */
  readonly spanMs: number;
}

/** Counts of a plan (for logs and the reconciliation). */
export function planTotals(plan: ScenarioPlan): {
  clicks: number;
  bad: number;
  kpl: number;
  lateClicks: number;
} {
  let clicks = 0;
  let bad = 0;
  let kpl = 0;
  let lateClicks = 0;
  for (const r of [...plan.chunks.flat(), ...plan.late]) {
    if (r.kind === 'click') {
      clicks++;
      if (r.click.role === 'late') lateClicks++;
    } else if (r.kind === 'kpl') {
      kpl++;
      clicks += r.clicks.length;
    } else if (r.kind === 'bad') bad++;
  }
  return { clicks, bad, kpl, lateClicks };
}

const MINUTE = 60_000;

/** Builds the plan of scenario `index` from its seed. At most ~300 Kinesis records. */
export function planScenario(index: number, seed: number): ScenarioPlan {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

  const shardCount = int(2, 4);
  const batchSize = pick([10, 15, 20, 25, 30, 40, 50]);
  const chunkCount = int(2, 4);
  const spanMs = int(180, 240) * 1000;
  const pages = Array.from({ length: int(3, 8) }, (_, i) => `/p${i}`);
  // Skewed page popularity: page i has weight 1/(i+1).
  const weights = pages.map((_, i) => 1 / (i + 1));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const page = (): string => {
    let x = r() * wsum;
    for (let i = 0; i < pages.length; i++) {
      x -= weights[i] as number;
      if (x <= 0) return pages[i] as string;
    }
    return pages[pages.length - 1] as string;
  };
  let nextUser = 0;
  const user = (): string => `u${index}-${nextUser++}`;

  const mainClicks = int(120, 230);
  const inLatenessShare = r() * 0.12;
  const boundaryShare = r() * 0.06;
  const kplShare = r() < 0.6 ? r() * 0.3 : 0;
  const badCount = int(0, 6);

  // Nominal times, sorted; chunk c covers a contiguous slice.
  const nominal = Array.from({ length: mainClicks }, () => Math.floor(r() * spanMs)).sort(
    (a, b) => a - b,
  );
  const cuts = [0];
  for (let c = 1; c < chunkCount; c++)
    cuts.push(
      Math.floor((mainClicks * c) / chunkCount + (r() - 0.5) * (mainClicks / chunkCount / 2)),
    );
  cuts.push(mainClicks);

  const chunks: PlannedRecord[][] = [];
  for (let c = 0; c < chunkCount; c++) {
    const slice = nominal.slice(cuts[c], cuts[c + 1]);
    const out: PlannedRecord[] = [];
    let i = 0;
    while (i < slice.length) {
      const n = slice[i] as number;
      if (r() < kplShare && i + 1 < slice.length) {
        const size = Math.min(int(2, 5), slice.length - i);
        const clicks: PlannedClick[] = [];
        for (let k = 0; k < size; k++) {
          const nk = slice[i + k] as number;
          clicks.push({
            page: page(),
            user: user(),
            dt: Math.max(0, nk - int(0, 4000)),
            role: 'on-time',
          });
        }
        out.push({ kind: 'kpl', clicks });
        i += size;
        continue;
      }
      const x = r();
      let click: PlannedClick;
      if (x < inLatenessShare) {
        click = {
          page: page(),
          user: user(),
          dt: Math.max(0, n - int(8000, 30_000)),
          role: 'in-lateness',
        };
      } else if (x < inLatenessShare + boundaryShare) {
        const minuteStart = Math.floor(n / MINUTE) * MINUTE;
        const dt = r() < 0.5 ? minuteStart : Math.max(0, minuteStart - 1);
        click = { page: page(), user: user(), dt, role: 'boundary' };
      } else {
        click = { page: page(), user: user(), dt: Math.max(0, n - int(0, 4000)), role: 'on-time' };
      }
      out.push({ kind: 'click', click });
      i++;
    }
    const chunkEnd =
      slice.length > 0
        ? (slice[slice.length - 1] as number)
        : Math.floor((spanMs * (c + 1)) / chunkCount);
    // The last chunk's anchors sit at the end of the span: every shard's watermark passes the first window's lateness.
    out.push({
      kind: 'anchors',
      page: page(),
      dt: c === chunkCount - 1 ? spanMs : chunkEnd,
      userPrefix: `u${index}-a${c}-`,
    });
    chunks.push(out);
  }
  // Malformed records anywhere in the main phase.
  for (let b = 0; b < badCount; b++) {
    const chunk = chunks[int(0, chunkCount - 1)] as PlannedRecord[];
    chunk.splice(int(0, chunk.length - 1), 0, {
      kind: 'bad',
      bad: pick(BAD_KINDS),
      id: `bad-${index}-${b}`,
    });
  }

  // Late phase: the first minute is long closed (and purged) by then.
  const late: PlannedRecord[] = [];
  const lateCount = int(3, 20);
  for (let l = 0; l < lateCount; l++) {
    late.push({
      kind: 'click',
      click: { page: page(), user: user(), dt: int(0, MINUTE - 1), role: 'late' },
    });
  }

  const reshardRoll = r();
  const reshard =
    reshardRoll < 0.25
      ? { kind: 'split' as const, beforeChunk: int(1, chunkCount - 1), pick: r() }
      : reshardRoll < 0.4 && shardCount >= 3
        ? { kind: 'merge' as const, beforeChunk: int(1, chunkCount - 1), pick: r() }
        : undefined;

  const faults: PlannedFault[] = [];
  const killCount = int(1, 3);
  for (let k = 0; k < killCount; k++)
    faults.push({ beforeChunk: int(0, chunkCount), afterMs: int(0, 600), signal: 'SIGKILL' });
  const hang = r() < 0.25;
  if (hang)
    faults.push({ beforeChunk: int(0, chunkCount - 1), afterMs: int(0, 150), signal: 'SIGSTOP' });
  faults.sort((a, b) => a.beforeChunk - b.beforeChunk);
  // Injected DynamoDB errors, at most 2 per table: a batch can never exhaust its 3 retries on them alone.
  const dynamoFaults: PlannedDynamoFault[] = [];
  if (r() < 0.5)
    dynamoFaults.push({ beforeChunk: int(0, chunkCount), table: 'state', count: int(1, 2) });
  if (r() < 0.4)
    dynamoFaults.push({ beforeChunk: int(0, chunkCount), table: 'results', count: int(1, 2) });

  return {
    index,
    seed,
    shardCount,
    batchSize,
    functionTimeoutMs: hang ? 8000 : 60_000,
    reshard,
    faults,
    dynamoFaults,
    chunks,
    pausesMs: chunks.map(() => int(0, 1500)),
    late,
    tickGapMs: [int(200, 800), int(1000, 3000)],
    spanMs,
  };
}

/** A one-line description of a plan's dimensions. */
export function describePlan(plan: ScenarioPlan): string {
  const t = planTotals(plan);
  const kills = plan.faults.filter((f) => f.signal === 'SIGKILL').length;
  const hangs = plan.faults.length - kills;
  return (
    `#${plan.index} seed=${plan.seed} shards=${plan.shardCount} batch=${plan.batchSize} chunks=${plan.chunks.length} ` +
    `${plan.reshard ? `${plan.reshard.kind}@${plan.reshard.beforeChunk} ` : ''}` +
    `clicks=${t.clicks} (kpl aggregates ${t.kpl}, late ${t.lateClicks}) bad=${t.bad} kills=${kills}${hangs ? ` hang(timeout ${plan.functionTimeoutMs} ms)=${hangs}` : ''}` +
    plan.dynamoFaults.map((f) => ` ddb-errors(${f.table})=${f.count}`).join('')
  );
}
