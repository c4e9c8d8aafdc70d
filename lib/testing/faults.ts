/**
 * Fault injection for the ports: wrappers around a StateStore, a Sink, a
 * DeadLetter and a ShardDirectory that crash on a seeded plan, and a
 * StateStore wrapper that crashes exactly where a test says
 * ({@link CrashingStateStore}). The adapters themselves hold no test hooks.
 *
 * At every call a {@link FaultPlan} decides whether the call crashes, and
 * where:
 *
 *   before  the call is not made (nothing applied); the caller sees a crash
 *   after   the call is made (applied), but the caller sees a crash
 *   during  only a prefix of a multi-item call is applied (write groups,
 *           outbox acks, sink items, dead letters), then the caller sees a crash
 *
 * A crash is either a transient error the handler can see and report, or the
 * death of the process (a Lambda timeout, an out-of-memory kill): then every
 * later call of that process crashes too, until the test "cold starts" a new
 * runtime with {@link FaultPlan.revive}.
 *
 * Deterministic: the same seed and the same call sequence give the same
 * crashes. Calls and crashes are counted per method, so a suite can show
 * that every kind of call was crash-tested.
 */
import { WeirError } from '../errors.ts';
import { seededRandom } from './random.ts';
import type { DeadLetter } from '../model/records.ts';
import type { DeadLetterOutput } from '../ports/dead-letter-output.ts';
import type { ShardDirectory, ShardInfo } from '../ports/shard-directory.ts';
import type { Sink, SinkWriteReport } from '../ports/sink.ts';
import type { ShardProgress } from '../model/progress.ts';
import type {
  OutboxAck,
  StateStore,
  StoredProgress,
  WindowItem,
  WindowRef,
  WindowWrite,
} from '../ports/state-store.ts';

/** Where a crash happens relative to the call. */
export type CrashPoint = 'before' | 'after' | 'during';

/** A crash injected by a {@link FaultPlan}. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
  constructor(
    readonly method: string,
    readonly point: CrashPoint | 'dead',
  ) {
    super(`simulated crash ${point} ${method}`);
  }
}

/** Options of {@link FaultPlan}. */
export interface FaultPlanOptions {
  readonly seed: number;
  /** Probability that a call crashes. @default 0.05 */
  readonly rate?: number;
  /** Probability that a crash kills the process (every later call crashes until `revive`). @default 0.5 */
  readonly deathRate?: number;
  /** At most this many crashes in all; later calls never crash. @default 50 */
  readonly maxCrashes?: number;
  /** Per-method rate overrides (method names as `<port>.<method>`, e.g. `store.write`). */
  readonly rates?: Readonly<Record<string, number>>;
}

/** Per-method counters. */
export interface MethodStats {
  calls: number;
  before: number;
  after: number;
  during: number;
}

/**
 * Decides, per call, whether and where to crash. One plan is shared by the
 * faulty wrappers of one simulated process, so a death stops all of them.
 *
 * @example
 * const plan = new FaultPlan({ seed: 42, rate: 0.1, rates: { 'store.write': 0.3 } });
 * const store = faultyStateStore(new InMemoryStateStore(), plan);
 * // ... run batches; a crashed call throws SimulatedCrash, before or after the real call
 * plan.enabled = false; // quiesce, then check that nothing was lost or counted twice
 */
export class FaultPlan {
  /** Crashes are injected only while enabled. */
  enabled = true;
  /** The process died: every call crashes until {@link revive}. */
  dead = false;
  readonly stats = new Map<string, MethodStats>();
  crashes = 0;
  private readonly random: () => number;
  private readonly rate: number;
  private readonly deathRate: number;
  private readonly maxCrashes: number;
  private readonly rates: Readonly<Record<string, number>>;

  constructor(options: FaultPlanOptions) {
    this.random = seededRandom(options.seed);
    this.rate = options.rate ?? 0.05;
    this.deathRate = options.deathRate ?? 0.5;
    this.maxCrashes = options.maxCrashes ?? 50;
    this.rates = options.rates ?? {};
  }

  /** A cold start: the new process makes calls again. */
  revive(): void {
    this.dead = false;
  }

  /** Counts the call and decides; throws right away when the process is dead. */
  decide(method: string, splittable: boolean): CrashPoint | undefined {
    const s = this.statsOf(method);
    s.calls++;
    if (this.dead) throw new SimulatedCrash(method, 'dead');
    if (!this.enabled || this.crashes >= this.maxCrashes) return undefined;
    const rate = this.rates[method] ?? this.rate;
    if (!(this.random() < rate)) return undefined;
    const r = this.random();
    const point: CrashPoint = splittable && r < 0.3 ? 'during' : r < 0.65 ? 'before' : 'after';
    this.crashes++;
    s[point]++;
    return point;
  }

  /** Where a `during` crash cuts a call of `n` items: 1..n-1 applied (0 when n < 2). */
  cut(n: number): number {
    return n < 2 ? 0 : 1 + Math.floor(this.random() * (n - 1));
  }

  /** The crash to throw; marks the process dead with probability `deathRate`. */
  crash(method: string, point: CrashPoint): SimulatedCrash {
    if (this.random() < this.deathRate) this.dead = true;
    return new SimulatedCrash(method, point);
  }

  private statsOf(method: string): MethodStats {
    let s = this.stats.get(method);
    if (s === undefined) this.stats.set(method, (s = { calls: 0, before: 0, after: 0, during: 0 }));
    return s;
  }
}

/** Adds `from`'s counters into `into` (to aggregate over many scenarios). */
export function addFaultStats(
  into: Map<string, MethodStats>,
  from: ReadonlyMap<string, MethodStats>,
): void {
  for (const [m, s] of from) {
    const t = into.get(m) ?? { calls: 0, before: 0, after: 0, during: 0 };
    t.calls += s.calls;
    t.before += s.before;
    t.after += s.after;
    t.during += s.during;
    into.set(m, t);
  }
}

/**
 * Runs one port call under the plan. `partial(k)` applies only the first `k`
 * items of a multi-item call (for `during` crashes).
 */
async function guarded<R>(
  plan: FaultPlan,
  method: string,
  n: number,
  run: () => Promise<R>,
  partial?: (k: number) => Promise<unknown>,
): Promise<R> {
  let point = plan.decide(method, partial !== undefined && n >= 2);
  if (point === undefined) return run();
  if (point === 'during' && partial !== undefined) {
    await partial(plan.cut(n));
    throw plan.crash(method, point);
  }
  if (point === 'during') point = 'before';
  if (point === 'before') throw plan.crash(method, point);
  await run();
  throw plan.crash(method, point);
}

/** A StateStore whose every call may crash before, after or (multi-group writes, acks) during. */
export function faultyStateStore(inner: StateStore, plan: FaultPlan, name = 'store'): StateStore {
  const m = (method: string): string => `${name}.${method}`;
  return {
    readProgress: (op) => guarded(plan, m('readProgress'), 1, () => inner.readProgress(op)),
    writeShardProgress: (op, p, g) =>
      guarded(plan, m('writeShardProgress'), 1, () => inner.writeShardProgress(op, p, g)),
    advanceWatermark: (op, w, g) =>
      guarded(plan, m('advanceWatermark'), 1, () => inner.advanceWatermark(op, w, g)),
    getWindows: (op, refs, g) =>
      guarded(plan, m('getWindows'), 1, () => inner.getWindows(op, refs, g)),
    readSessionHeads: (op, keys, g) =>
      guarded(plan, m('readSessionHeads'), 1, () => inner.readSessionHeads(op, keys, g)),
    listKeyWindows: (op, keys, g) =>
      guarded(plan, m('listKeyWindows'), 1, () => inner.listKeyWindows(op, keys, g)),
    write: (op, groups, g) =>
      guarded(
        plan,
        m('write'),
        groups.length,
        () => inner.write(op, groups, g),
        (k) => inner.write(op, groups.slice(0, k), g),
      ),
    listDue: (op, w, limit, g) =>
      guarded(plan, m('listDue'), 1, () => inner.listDue(op, w, limit, g)),
    listExpired: (op, w, limit, g) =>
      guarded(plan, m('listExpired'), 1, () => inner.listExpired(op, w, limit, g)),
    listOutbox: (op, limit, g) =>
      guarded(plan, m('listOutbox'), 1, () => inner.listOutbox(op, limit, g)),
    ackOutbox: (op, acks, g) =>
      guarded(
        plan,
        m('ackOutbox'),
        acks.length,
        () => inner.ackOutbox(op, acks, g),
        (k) => inner.ackOutbox(op, acks.slice(0, k), g),
      ),
  };
}

/** A Sink whose writes may crash before, after or during (a prefix of the items written). */
export function faultySink<T>(inner: Sink<T>, plan: FaultPlan, name = 'sink'): Sink<T> {
  return {
    write: (items: readonly T[]): Promise<SinkWriteReport> =>
      guarded(
        plan,
        `${name}.write`,
        items.length,
        () => inner.write(items),
        (k) => inner.write(items.slice(0, k)),
      ),
  };
}

/** A DeadLetterOutput whose sends may crash before, after or during (a prefix of the entries stored). */
export function faultyDeadLetter(
  inner: DeadLetterOutput,
  plan: FaultPlan,
  name = 'deadLetter',
): DeadLetterOutput {
  return {
    send: (entries: readonly DeadLetter[]): Promise<void> =>
      guarded(
        plan,
        `${name}.send`,
        entries.length,
        () => inner.send(entries),
        (k) => inner.send(entries.slice(0, k)),
      ),
  };
}

/** A ShardDirectory whose calls may crash. */
export function faultyShardDirectory(
  inner: ShardDirectory,
  plan: FaultPlan,
  name = 'shards',
): ShardDirectory {
  return {
    listShards: (): Promise<readonly ShardInfo[]> =>
      guarded(plan, `${name}.listShards`, 1, () => inner.listShards()),
    isConsumed: (shardId, committed) =>
      guarded(plan, `${name}.isConsumed`, 1, () => inner.isConsumed(shardId, committed)),
    hasRecordsAfter: (shardId, committed) =>
      guarded(plan, `${name}.hasRecordsAfter`, 1, () => inner.hasRecordsAfter(shardId, committed)),
  };
}

/** A crash a test armed on a {@link CrashingStateStore}. */
export class InjectedCrashError extends WeirError {}

/**
 * A StateStore that crashes where the test says, once: in the middle of the
 * next write of window content, or instead of a coming progress write.
 * Everything else goes to `inner` unchanged. Where {@link faultyStateStore}
 * draws crashes from a seeded plan, this one scripts a single crash point.
 *
 * @example
 * const store = new InMemoryStateStore();
 * const crashing = new CrashingStateStore(store);
 * const h = new WindowOperatorHarness(definition, { store: crashing });
 * crashing.crashDuringNextStateUpdate(2); // two groups applied, then the crash
 * await expect(h.deliver(0, batch)).rejects.toThrow(InjectedCrashError);
 */
export class CrashingStateStore implements StateStore {
  #crashAfterGroups: number | undefined;
  /** Progress writes to let through before the injected crash; `undefined`: none armed. */
  #crashOnProgress: number | undefined;

  constructor(readonly inner: StateStore) {}

  /**
   * The next `write` call that updates window content (a put with `pending`
   * set, as opposed to a firing or a purge) applies its first `groups`
   * groups, then throws {@link InjectedCrashError}. A call with no more than
   * `groups` groups applies them all and does not crash (the crash is used up).
   */
  crashDuringNextStateUpdate(groups: number): void {
    this.#crashAfterGroups = groups;
  }

  /**
   * A coming `writeShardProgress` throws {@link InjectedCrashError} without
   * writing: the next one, or the one after `skip` more progress writes (a
   * session batch first records its judged view, then commits).
   */
  crashOnNextProgressWrite(skip = 0): void {
    this.#crashOnProgress = skip;
  }

  /** Cancels an injected crash that has not happened yet. */
  disarm(): void {
    this.#crashAfterGroups = undefined;
    this.#crashOnProgress = undefined;
  }

  readProgress(operator: string): Promise<StoredProgress> {
    return this.inner.readProgress(operator);
  }

  writeShardProgress(
    operator: string,
    progress: ShardProgress,
    generation: number,
  ): Promise<boolean> {
    if (this.#crashOnProgress !== undefined && this.#crashOnProgress-- === 0) {
      this.#crashOnProgress = undefined;
      return Promise.reject(new InjectedCrashError('injected crash before the progress write'));
    }
    return this.inner.writeShardProgress(operator, progress, generation);
  }

  advanceWatermark(operator: string, watermark: number, generation: number): Promise<number> {
    return this.inner.advanceWatermark(operator, watermark, generation);
  }

  getWindows(
    operator: string,
    refs: readonly WindowRef[],
    generation: number,
  ): Promise<readonly (WindowItem | undefined)[]> {
    return this.inner.getWindows(operator, refs, generation);
  }

  readSessionHeads(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<readonly number[]> {
    return this.inner.readSessionHeads(operator, keys, generation);
  }

  listKeyWindows(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    return this.inner.listKeyWindows(operator, keys, generation);
  }

  write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    const after = this.#crashAfterGroups;
    if (
      after === undefined ||
      !groups.some((g) => g.some((w) => w.kind === 'put' && w.item.pending))
    )
      return this.inner.write(operator, groups, generation);
    this.#crashAfterGroups = undefined;
    if (after >= groups.length) return this.inner.write(operator, groups, generation);
    return this.inner.write(operator, groups.slice(0, Math.max(0, after)), generation).then(() => {
      throw new InjectedCrashError('injected crash in the middle of a state write');
    });
  }

  listDue(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]> {
    return this.inner.listDue(operator, watermark, limit, generation);
  }

  listExpired(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]> {
    return this.inner.listExpired(operator, watermark, limit, generation);
  }

  listOutbox(operator: string, limit: number, generation: number): Promise<readonly WindowItem[]> {
    return this.inner.listOutbox(operator, limit, generation);
  }

  ackOutbox(
    operator: string,
    acks: readonly OutboxAck[],
    generation: number,
  ): Promise<readonly boolean[]> {
    return this.inner.ackOutbox(operator, acks, generation);
  }
}
