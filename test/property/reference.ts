/**
 * An independent, deliberately simple reference for the window operator.
 *
 * It shares no code with lib/core: it replays the whole delivery schedule
 * record by record, keeps every accepted record in a list per window (no
 * accumulators, no state store, no pre-aggregation, no guards other than
 * "have I seen this position before"), and at the end recomputes every
 * window's value from its full list. Its watermark logic is written out
 * again from docs/semantics.md.
 */

export interface RefConfig {
  readonly kind: 'tumbling' | 'sliding' | 'session';
  readonly size: number;
  readonly slide: number;
  readonly offset: number;
  readonly gap: number;
  readonly ooo: number;
  readonly lateness: number;
  readonly idleTimeout: number | undefined;
  readonly idleAdvance: boolean;
}

export type RefStep =
  | {
      readonly kind: 'batch';
      readonly shard: number;
      readonly from: number;
      readonly to: number;
      readonly now: number;
      /** Skip the watermark advance at the end of the step (a runtime publishes it separately, as a `tick`). */
      readonly noAdvance?: boolean;
    }
  | { readonly kind: 'tick'; readonly now: number }
  | {
      /**
       * An attempt of `shard` is about to deliver late output for its records
       * up to index `upTo`, judged against the view at this step: from now on
       * those records are judged against at least this view (the published
       * watermark and the lowest watermark of the other active shards).
       */
      readonly kind: 'judged';
      readonly shard: number;
      readonly upTo: number;
      readonly now: number;
    }
  | {
      readonly kind: 'close';
      readonly shard: number;
      readonly now: number;
      readonly noAdvance?: boolean;
    };

export interface RefOutput {
  /** `key|start|end` -> sum of v, for every window that has fired by the end. */
  readonly results: Map<string, number>;
  /** `shard:index` -> late windows as `start-end,start-end` (ascending start). */
  readonly late: Map<string, string>;
  /** `shard:index` of dead-lettered records. */
  readonly dead: Set<string>;
  readonly watermark: number;
}

interface ShardState {
  seen: number;
  maxT: number;
  lastActivity: number;
  closed: boolean;
  /** The highest view an attempt judged records up to `upTo` against (see the `judged` step). */
  floor: { upTo: number; W: number; others: number } | undefined;
}

export function runReference(
  config: RefConfig,
  shards: readonly (readonly string[])[],
  steps: readonly RefStep[],
): RefOutput {
  const state = new Map<number, ShardState>();
  let W = -Infinity;
  const accepted = new Map<string, number[]>(); // tumbling/sliding: key|start|end -> values
  const sessionRecords = new Map<string, { t: number; v: number }[]>();
  const late = new Map<string, string>();
  const dead = new Set<string>();

  const active = (s: ShardState, now: number): boolean =>
    !s.closed && (config.idleTimeout === undefined || now - s.lastActivity < config.idleTimeout);

  const advance = (now: number): void => {
    let any = false;
    let low = Infinity;
    for (const s of state.values()) {
      if (!active(s, now)) continue;
      any = true;
      low = Math.min(low, s.maxT - config.ooo);
    }
    let candidate = -Infinity;
    if (any) candidate = low;
    else if (config.idleAdvance && config.idleTimeout !== undefined && state.size > 0)
      candidate = now - config.idleTimeout - config.ooo;
    if (candidate > W) W = candidate;
  };

  const windowsOf = (t: number): [number, number][] => {
    if (config.kind === 'tumbling') {
      const start = Math.floor((t - config.offset) / config.size) * config.size + config.offset;
      return [[start, start + config.size]];
    }
    const out: [number, number][] = [];
    const lo = Math.ceil((t - config.size + 1 - config.offset) / config.slide);
    const hi = Math.floor((t - config.offset) / config.slide);
    for (let j = hi; j >= lo; j--) {
      const start = j * config.slide + config.offset;
      out.push([start, start + config.size]);
    }
    return out;
  };

  const othersOf = (shard: number, now: number): number => {
    let others = Infinity;
    for (const [id, o] of state)
      if (id !== shard && active(o, now)) others = Math.min(others, o.maxT - config.ooo);
    return others;
  };

  for (const step of steps) {
    if (step.kind === 'tick') {
      advance(step.now);
      continue;
    }
    if (step.kind === 'judged') {
      const s = state.get(step.shard);
      if (s === undefined)
        throw new Error(`judged step for shard ${step.shard} before any progress of it`);
      const others = othersOf(step.shard, step.now);
      const f = s.floor;
      s.floor =
        config.kind === 'session' && f !== undefined
          ? // Sessions: every attempt judges against exactly the first recorded view.
            { ...f, upTo: Math.max(f.upTo, step.upTo) }
          : {
              upTo: Math.max(f?.upTo ?? -1, step.upTo),
              W: Math.max(f?.W ?? -Infinity, W),
              others: Math.max(f?.others ?? -Infinity, others),
            };
      continue;
    }
    if (step.kind === 'close') {
      const s = state.get(step.shard) ?? {
        seen: -1,
        maxT: -Infinity,
        lastActivity: step.now,
        closed: false,
        floor: undefined,
      };
      s.closed = true;
      state.set(step.shard, s);
      if (step.noAdvance !== true) advance(step.now);
      continue;
    }
    const s = state.get(step.shard) ?? {
      seen: -1,
      maxT: -Infinity,
      lastActivity: step.now,
      closed: false,
      floor: undefined,
    };
    const others = othersOf(step.shard, step.now);
    const data = shards[step.shard] ?? [];
    for (let i = step.from; i < step.to; i++) {
      if (i <= s.seen) continue;
      s.seen = i;
      const id = `${step.shard}:${i}`;
      let e: { k?: unknown; t?: unknown; v?: unknown };
      try {
        e = JSON.parse(data[i] ?? '') as typeof e;
      } catch {
        dead.add(id);
        continue;
      }
      if (e === null || typeof e !== 'object') {
        dead.add(id);
        continue;
      }
      const key =
        typeof e.k === 'string' && e.k !== ''
          ? e.k
          : typeof e.k === 'number' && Number.isFinite(e.k)
            ? String(e.k)
            : undefined;
      if (key === undefined) {
        dead.add(id);
        continue;
      }
      const t = e.t;
      if (typeof t !== 'number' || !Number.isSafeInteger(t)) {
        dead.add(id);
        continue;
      }
      const f = s.floor !== undefined && i <= s.floor.upTo ? s.floor : undefined;
      const w =
        f !== undefined && config.kind === 'session'
          ? Math.max(f.W, Math.min(s.maxT - config.ooo, f.others))
          : Math.max(
              f === undefined ? W : Math.max(W, f.W),
              Math.min(s.maxT - config.ooo, f === undefined ? others : Math.max(others, f.others)),
            );
      s.maxT = Math.max(s.maxT, t);
      const v = e.v as number;
      if (config.kind === 'session') {
        if (t + config.lateness <= w) {
          late.set(id, `${t}-${t + config.gap}`);
          continue;
        }
        const list = sessionRecords.get(key) ?? [];
        list.push({ t, v });
        sessionRecords.set(key, list);
        continue;
      }
      const lateWindows: string[] = [];
      for (const [start, end] of windowsOf(t)) {
        if (end - 1 + config.lateness < w) {
          lateWindows.push(`${start}-${end}`);
          continue;
        }
        const k = `${key}|${start}|${end}`;
        const list = accepted.get(k) ?? [];
        list.push(v);
        accepted.set(k, list);
      }
      if (lateWindows.length > 0) late.set(id, lateWindows.join(','));
    }
    s.lastActivity = step.now;
    // Committed past the view: no record it covers is ever judged again.
    if (s.floor !== undefined && s.seen >= s.floor.upTo) s.floor = undefined;
    state.set(step.shard, s);
    if (step.noAdvance !== true) advance(step.now);
  }

  const results = new Map<string, number>();
  if (config.kind === 'session') {
    for (const [key, recs] of sessionRecords) {
      const sorted = [...recs].sort((a, b) => a.t - b.t);
      let start = NaN;
      let end = NaN;
      let total = 0;
      const emit = (): void => {
        if (!Number.isNaN(start) && end - 1 <= W) results.set(`${key}|${start}|${end}`, total);
      };
      for (const r of sorted) {
        if (Number.isNaN(start) || r.t > end) {
          emit();
          start = r.t;
          end = r.t + config.gap;
          total = r.v;
        } else {
          end = Math.max(end, r.t + config.gap);
          total += r.v;
        }
      }
      emit();
    }
  } else {
    for (const [k, values] of accepted) {
      const end = Number(k.split('|')[2]);
      if (end - 1 <= W)
        results.set(
          k,
          values.reduce((a, b) => a + b, 0),
        );
    }
  }
  return { results, late, dead, watermark: W };
}
