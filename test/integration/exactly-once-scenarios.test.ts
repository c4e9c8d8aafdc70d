/**
 * Exactly-once under real Lambda-style failures (issue 4, "Done when" item 2):
 * seeded random scenarios against the embedded AWS, through the local event
 * source mapping, with the real click-counter handler in worker processes
 * that are SIGKILLed (or SIGSTOPped into a function timeout) mid-batch, and
 * the real ticker run in-process at random moments. See
 * test/helpers/scenario-plan.ts (what a scenario does) and
 * test/helpers/scenario-runner.ts (how it runs).
 *
 * Each scenario must end with:
 *   (a) the results table's final counts = an independent recount of the
 *       produced clicks minus those the late output holds, per (page, minute);
 *   (b) records in = applied (sum of final counts) + late + dead-lettered,
 *       with exactly one dead letter per malformed record, nothing discarded
 *       by the ESM;
 *   (c) no (key, window, version) written twice with different values at the
 *       results table. Observed on the wire: handler workers and the ticker
 *       reach DynamoDB Local only through a recording proxy, which logs every
 *       write request to the results table (PutItem item, condition, and
 *       DynamoDB's answer, even when the caller was killed before it came
 *       back). Every final item must be one of those recorded writes, so the
 *       recording provably saw the writer(s) that produced the table;
 *   (d) no handler worker process alive after the invoker is closed.
 *
 * Env: SCENARIO_SEED (master seed), SCENARIOS (count, default 30),
 * SCENARIO_CONCURRENCY (default 4), SCENARIO_ONLY (comma-separated indexes).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useLocalAws } from '../helpers/local-aws.ts';
import { DynamoDbRecordingProxy, type RecordedWrite } from '../../lib/testing/index.ts';
import {
  describePlan,
  planScenario,
  planTotals,
  scenarioSeed,
  type ScenarioPlan,
} from '../helpers/scenario-plan.ts';
import { runScenario, type ScenarioObservation } from '../helpers/scenario-runner.ts';
import { DeleteTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand } from '@aws-sdk/client-kinesis';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { fromResultItem } from '../../lib/adapters/dynamodb/dynamodb-result-sink.ts';
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import { buildKinesisEvent } from '../../lib/runtime/local/esm/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { provisionFromTemplate } from '../../lib/runtime/local/index.ts';
import { encodeOffset, sequenceNumber } from '../../lib/model/position.ts';

const MINUTE = 60_000;
const DEFAULT_SEED = 20_260_411;
const MASTER_SEED = Number(process.env['SCENARIO_SEED'] ?? DEFAULT_SEED);
const COUNT = Number(process.env['SCENARIOS'] ?? 30);
const CONCURRENCY = Math.max(1, Number(process.env['SCENARIO_CONCURRENCY'] ?? 4));
/** Fail on the documented applied-and-late limit too (it is reported either way). */
// Strict by default since the core reclaims late records a window already absorbed; SCENARIO_STRICT=0 only reports.
const STRICT = process.env['SCENARIO_STRICT'] !== '0';
const ONLY = (process.env['SCENARIO_ONLY'] ?? '')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map(Number);

const plans: ScenarioPlan[] = Array.from({ length: COUNT }, (_, i) =>
  planScenario(i, scenarioSeed(MASTER_SEED, i)),
).filter((p) => ONLY.length === 0 || ONLY.includes(p.index));

const fixture = useLocalAws();
let proxy: DynamoDbRecordingProxy | undefined;
const say = console.log.bind(console);
const observations: ScenarioObservation[] = [];
/** Deliberately late clicks that did end in the late output, over all scenarios. */
let lateExercised = 0;
/** Records both applied and late, per scenario index. */
const verdicts = new Map<number, number>();
const startedAt = Date.now();

beforeAll(async () => {
  say(
    `exactly-once scenarios: SCENARIO_SEED=${MASTER_SEED} SCENARIOS=${COUNT} concurrency ${CONCURRENCY}`,
  );
  // The in-process runtime logs a JSON line per tick and batch; keep the output readable.
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('{"level":"INFO","msg":"')) return;
    say(...args);
  });
  proxy = await DynamoDbRecordingProxy.start({
    target: fixture.aws.endpoints.dynamodb,
    record: (table) => table.includes('ResultsTable'),
  });
});

afterAll(async () => {
  if (observations.length > 0) say(summary(observations, Date.now() - startedAt));
  vi.restoreAllMocks();
  await proxy?.close();
});

/** At most CONCURRENCY scenarios at once (their idle waits overlap). */
let running = 0;
const queue: Array<() => void> = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => queue.push(resolve));
  running += 1;
  try {
    return await fn();
  } finally {
    running -= 1;
    queue.shift()?.();
  }
}

describe.runIf(plans.length > 0)(`exactly-once scenarios (SCENARIO_SEED=${MASTER_SEED})`, () => {
  for (const plan of plans) {
    it.concurrent(describePlan(plan), { timeout: 420_000 }, async () => {
      const obs = await slot(() =>
        runScenario({ aws: fixture.aws, clients: fixture.clients, proxy: proxy!, log: say }, plan),
      );
      observations.push(obs);
      say(scenarioLine(obs));
      const { violations, appliedAndLate } = judge(obs);
      verdicts.set(plan.index, appliedAndLate.length);
      if (violations.length > 0 && process.env['SCENARIO_DEBUG']) say(debugDump(obs));
      if (violations.length > 0) {
        say(
          `scenario #${plan.index} (SCENARIO_SEED=${MASTER_SEED} SCENARIO_ONLY=${plan.index}) violations:\n  ${violations.join('\n  ')}`,
        );
      }
      if (appliedAndLate.length > 0) {
        say(
          `scenario #${plan.index} (SCENARIO_SEED=${MASTER_SEED} SCENARIO_ONLY=${plan.index}) KNOWN LIMIT (docs/semantics.md): ` +
            `${appliedAndLate.length} record(s) counted in a window AND in the late output:\n  ${appliedAndLate.join('\n  ')}`,
        );
      }
      expect(violations).toEqual([]);
      if (STRICT) expect(appliedAndLate).toEqual([]);
    });
  }
});

describe('after every scenario', () => {
  it('every scenario was observed, and no handler worker outlived its invoker', () => {
    expect(observations.length).toBe(plans.length);
    expect(observations.flatMap((o) => o.orphanPids)).toEqual([]);
    // The scenarios really exercised the failure paths.
    const crashes = observations.reduce((n, o) => n + o.invoker.crashes + o.invoker.timeouts, 0);
    const retries = observations.reduce((n, o) => n + o.esm.retries + o.esm.bisects, 0);
    if (plans.length >= 10) {
      expect(crashes).toBeGreaterThan(plans.length / 2);
      expect(retries).toBeGreaterThan(0);
      expect(lateExercised).toBeGreaterThan(0);
    }
  });
});

describe('the (c) check itself', () => {
  const write = (
    seq: number,
    version: number,
    value: string,
    outcome: RecordedWrite['outcome'],
  ): RecordedWrite => ({
    seq,
    table: 't',
    operation: 'PutItem',
    pk: 'click-counter#%2Fa',
    sk: 'W#0000000000060000#0000000000120000',
    version,
    value,
    conditional: true,
    item: { id: { S: `click-counter/%2Fa/60000-120000/v${version}` }, windowStart: { N: '60000' } },
    at: seq,
    outcome,
    callerGone: false,
  });
  const final = {
    operator: 'click-counter',
    key: '/a',
    window: { start: 60_000, end: 120_000 },
    value: 5,
    version: 2,
    id: 'click-counter/%2Fa/60000-120000/v2',
  };
  it('accepts re-writes of a version with the same value, and the final item among the accepted writes', () => {
    const ws = [
      write(0, 1, '3', 'written'),
      write(1, 1, '3', 'condition-failed'),
      write(2, 2, '5', 'written'),
    ];
    expect(judgeResultWrites(ws, [final])).toEqual([]);
  });
  it('catches a version written with two values, a regression, and a final item nobody was seen writing', () => {
    const twoValues = [
      write(0, 1, '3', 'written'),
      write(1, 1, '4', 'condition-failed'),
      write(2, 2, '5', 'written'),
    ];
    expect(judgeResultWrites(twoValues, [final]).join('\n')).toMatch(
      /v1 written with different values/,
    );
    const shrinking = [write(0, 1, '6', 'written'), write(1, 2, '5', 'written')];
    expect(judgeResultWrites(shrinking, [final]).join('\n')).toMatch(
      /v2 = 5 does not exceed v1 = 6/,
    );
    expect(judgeResultWrites([write(0, 1, '3', 'written')], [final]).join('\n')).toMatch(
      /never seen written through the proxy/,
    );
  });
});

describe('pinned: a retry judged after the watermark moved', () => {
  it(
    'GIVEN state written but progress not committed WHEN the retry comes after idleAdvance moved the watermark THEN the records stay in their window and none goes to the late output',
    { timeout: 60_000 },
    async () => {
      // Deterministic version of what the scenarios hit with real kills: the
      // shard's batch writes state, then fails before its progress commits (an
      // injected error on that PutItem instead of a SIGKILL); the retry comes
      // later than idleTimeout (10 s), a tick has moved the watermark by
      // idleAdvance meanwhile, and the retry judges the same records late.
      const { aws, clients } = fixture;
      const stackName = `EoPin${Date.now().toString(36).slice(-6)}`;
      const template = await loadDemoTemplate({
        stackName,
        streamName: `eo-${stackName}`,
        shardCount: 2,
        onFailure: 's3',
      });
      const resources = await provisionFromTemplate(template, clients, { stackName });
      const env = resources.mappings[0]?.environment ?? {};
      const stateTable = env['WEIR_STATE_TABLE'] ?? '';
      const resultsTable = env['WEIR_RESULTS_TABLE'] ?? '';
      const shardId = 'shardId-000000000001';
      let failCommit = true;
      const faulty = await DynamoDbRecordingProxy.start({
        target: aws.endpoints.dynamodb,
        record: () => false,
        fail: (operation, input) => {
          const item = input['Item'] as { sk?: { S?: string }; committed?: unknown } | undefined;
          return failCommit &&
            operation === 'PutItem' &&
            input['TableName'] === stateTable &&
            item?.sk?.S === `P#${shardId}` &&
            item.committed !== undefined
            ? 'ValidationException'
            : undefined;
        },
      });
      const handlers = createLambdaHandlers(
        clickCounter,
        lambdaConfigFromEnv({ ...aws.env(), ...env, AWS_ENDPOINT_URL_DYNAMODB: faulty.url }),
        // The runtime's JSON lines through console.log (the test file keeps INFO out), no EMF lines.
        { log: (entry) => console.log(JSON.stringify(entry)), metricsOutput: () => undefined },
      );
      try {
        const base = Math.floor((Date.now() - 7 * MINUTE) / MINUTE) * MINUTE;
        const batch = buildKinesisEvent(
          Array.from({ length: 3 }, (_, i) => ({
            SequenceNumber: (
              49_680_514_199_409_641_896_077_182_677_042_377_638_377_395_437_116_000_000n +
              BigInt(i)
            ).toString(),
            PartitionKey: `pin-${i}`,
            Data: new TextEncoder().encode(
              JSON.stringify({ page: '/pin', user: `pin-${i}`, ts: base + 10_000 + i }),
            ),
            ApproximateArrivalTimestamp: new Date(),
          })),
          {
            shardId,
            streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/eo-${stackName}`,
            awsRegion: 'us-east-1',
            invokeIdentityArn: 'arn:aws:iam::000000000000:role/pin',
          },
        );
        // Another shard has committed progress, so idleAdvance has a shard to be idle.
        const other = buildKinesisEvent(
          [
            {
              SequenceNumber: '49680514199409641896077182677042377638377395437116000100',
              PartitionKey: 'pin-other',
              Data: new TextEncoder().encode(
                JSON.stringify({ page: '/pin-other', user: 'pin-other', ts: base + 10_000 }),
              ),
              ApproximateArrivalTimestamp: new Date(),
            },
          ],
          {
            shardId: 'shardId-000000000000',
            streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/eo-${stackName}`,
            awsRegion: 'us-east-1',
            invokeIdentityArn: 'arn:aws:iam::000000000000:role/pin',
          },
        );
        expect((await handlers.handler(other)).batchItemFailures).toEqual([]);
        const first = await handlers.handler(batch);
        expect(first.batchItemFailures).toEqual([
          { itemIdentifier: batch.Records[0]?.kinesis.sequenceNumber },
        ]);
        failCommit = false;
        await new Promise((r) => setTimeout(r, clickCounter.time.idleTimeout! + 500));
        expect((await handlers.ticker()).watermark).toBeGreaterThan(base + 2 * MINUTE); // idleAdvance: now - 15 s
        expect((await handlers.handler(batch)).batchItemFailures).toEqual([]); // the retry
        await handlers.ticker();

        const scan = await clients.dynamodb.send(
          new ScanCommand({ TableName: resultsTable, ConsistentRead: true }),
        );
        const window0 = (scan.Items ?? [])
          .map((i) => fromResultItem(i))
          .find((r) => r.key === '/pin' && r.window.start === base);
        const bucket = env['WEIR_OUTPUT_BUCKET'] ?? '';
        const late = await clients.s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: 'weir/click-counter/late/' }),
        );
        // Exactly once: the first attempt applied them, so the retry must not also send them to the late output.
        expect({ windowCount: window0?.value, late: late.KeyCount ?? 0 }).toEqual({
          windowCount: 3,
          late: 0,
        });
      } finally {
        handlers.clients.destroy();
        await faulty.close();
        await Promise.allSettled([
          clients.kinesis.send(
            new DeleteStreamCommand({
              StreamName: `eo-${stackName}`,
              EnforceConsumerDeletion: true,
            }),
          ),
          clients.dynamodb.send(new DeleteTableCommand({ TableName: stateTable })),
          clients.dynamodb.send(new DeleteTableCommand({ TableName: resultsTable })),
        ]);
      }
    },
  );
});

// ---------------------------------------------------------------------------

const windowKey = (page: string, ts: number): string =>
  `${page}|${Math.floor(ts / MINUTE) * MINUTE}`;

/** What {@link judge} found. */
interface Verdict {
  /** Every violated invariant, as readable lines (empty: all good). */
  readonly violations: string[];
  /**
   * Records that are both in a window's state and in the late output: the
   * limit docs/semantics.md documents ("a retry that runs after another shard
   * advanced the watermark may judge a record late that the first attempt had
   * applied"). Proven per record: the late record's position is at or below
   * what its window's state item absorbed from that shard, and the watermark
   * never decreases within an attempt, so some attempt applied it.
   */
  readonly appliedAndLate: readonly string[];
}

/** Judges one scenario. */
function judge(o: ScenarioObservation): Verdict {
  const v: string[] = [];
  const byUser = new Map(o.clicks.map((c) => [c.user, c]));
  const appliedAndLate = findAppliedAndLate(o);
  const twice = new Set(appliedAndLate.map((l) => l.click.user));

  // --- the late output: real clicks, each once, judged late against its own watermark
  const lateUsers = new Set<string>();
  for (const l of o.late) {
    const c = byUser.get(l.click.user);
    if (!c)
      v.push(`late output holds a click nobody produced: ${JSON.stringify(l.click)} (${l.key})`);
    else if (c.page !== l.click.page || c.ts !== l.click.ts)
      v.push(
        `late output changed a click: ${JSON.stringify(l.click)} vs produced ${JSON.stringify(c)}`,
      );
    if (lateUsers.has(l.click.user)) v.push(`click ${l.click.user} is in the late output twice`);
    lateUsers.add(l.click.user);
    if (
      l.window === undefined ||
      l.window.start !== Math.floor(l.click.ts / MINUTE) * MINUTE ||
      l.window.end !== l.window.start + MINUTE
    ) {
      v.push(
        `late record ${l.click.user} names window ${JSON.stringify(l.window)} for ts ${l.click.ts}`,
      );
    } else if (!(l.window.end - 1 + clickCounter.allowedLateness < l.watermark)) {
      v.push(
        `late record ${l.click.user} was not late: window end ${l.window.end}, watermark ${l.watermark}`,
      );
    }
  }
  for (const c of o.clicks) {
    // A click sent late is late only if the watermark has passed its window by the time it is judged, which
    // depends on machine speed (idleness, cold starts): in state instead is correct too, and the recount (a)
    // checks it either way. Whether lateness was exercised at all is asserted across all scenarios.
    if (c.role === 'late' && lateUsers.has(c.user)) lateExercised++;
  }

  // --- (a) recount per (page, minute)
  const expected = new Map<string, number>();
  for (const c of o.clicks)
    expected.set(windowKey(c.page, c.ts), (expected.get(windowKey(c.page, c.ts)) ?? 0) + 1);
  for (const l of o.late) {
    if (twice.has(l.click.user)) continue; // in state too: counted by the window (see Verdict.appliedAndLate)
    expected.set(
      windowKey(l.click.page, l.click.ts),
      (expected.get(windowKey(l.click.page, l.click.ts)) ?? 0) - 1,
    );
  }
  const seen = new Set<string>();
  for (const r of o.results) {
    const k = `${r.key}|${r.window.start}`;
    if (seen.has(k)) v.push(`results table holds window ${k} twice`);
    seen.add(k);
    if (r.window.end !== r.window.start + MINUTE)
      v.push(`result ${r.id} is not a one-minute window`);
    if (r.operator !== clickCounter.name) v.push(`result ${r.id} has operator ${r.operator}`);
    const want = expected.get(k) ?? 0;
    if (Number(r.value) !== want) {
      const lateHere = o.late.filter((l) => windowKey(l.click.page, l.click.ts) === k);
      v.push(
        `(a) window ${k}: results table ${JSON.stringify(r.value)} (v${r.version}), recount ${want}; late output here: ` +
          lateHere
            .map((l) => {
              const hit = o.failedInvocations.find(
                (f) => f.shardId === l.shardId && inRange(l.sequenceNumber, f.first, f.last),
              );
              return (
                `${l.click.user}(${byUser.get(l.click.user)?.role}) ${l.shardId}:${l.sequenceNumber.slice(-6)} wm ${l.watermark - o.baseMs}` +
                (hit
                  ? ` [in a ${hit.outcome} batch, retry ${hit.retry}${hit.firstOfShard ? ', first of its shard' : ''}]`
                  : '')
              );
            })
            .join('; '),
      );
    }
  }
  for (const [k, n] of expected)
    if (n > 0 && !seen.has(k)) v.push(`(a) window ${k}: recount ${n}, no result`);
  for (const [k, n] of expected)
    if (n < 0) v.push(`(a) window ${k}: more late records than produced clicks (${n})`);

  // --- (b) records in = applied + late + dead-lettered
  const applied = o.results.reduce((n, r) => n + Number(r.value), 0);
  const recordsIn = o.clicks.length + o.bad;
  if (recordsIn + twice.size !== applied + o.late.length + o.deadLetters) {
    v.push(
      `(b) records in ${recordsIn} (+ ${twice.size} both applied and late) != applied ${applied} + late ${o.late.length} + dead-lettered ${o.deadLetters}`,
    );
  }
  if (o.deadLetters !== o.bad)
    v.push(
      `(b) ${o.bad} malformed records produced, ${o.deadLetters} dead letters (${JSON.stringify(o.deadLetterReasons)})`,
    );
  if (o.esm.recordsDiscarded !== 0 || o.failureObjects !== 0) {
    v.push(
      `(b) the ESM discarded ${o.esm.recordsDiscarded} records (${o.failureObjects} on-failure objects)`,
    );
  }

  // --- (c) the results table's writes, as recorded on the wire
  v.push(...judgeResultWrites(o.resultWrites, o.results));

  // --- (d) and the run itself
  if (o.orphanPids.length > 0)
    v.push(`(d) worker processes alive after close: ${o.orphanPids.join(', ')}`);
  if (!o.finalTick || o.finalTick.watermark < o.neededWatermark) {
    v.push(
      `the ticker never closed every window: watermark ${o.finalTick?.watermark}, needed ${o.neededWatermark}`,
    );
  }
  // A tick that failed on an injected DynamoDB error is retried by the next tick, as EventBridge would.
  const tickErrors = o.tickErrors.filter((e) => !e.includes('injected by the recording proxy'));
  if (tickErrors.length > 0)
    v.push(`ticker failed ${tickErrors.length}x: ${tickErrors.slice(0, 3).join(' | ')}`);
  return {
    violations: v,
    appliedAndLate: appliedAndLate.map((l) => {
      const hit = o.failedInvocations.find(
        (f) => f.shardId === l.shardId && inRange(l.sequenceNumber, f.first, f.last),
      );
      return (
        `${l.click.user} (${byUser.get(l.click.user)?.role ?? '?'}, window ${windowKey(l.click.page, l.click.ts)}, ${l.shardId}) ` +
        `judged late at watermark ${new Date(l.watermark).toISOString()}` +
        (hit
          ? `; its shard's ${hit.firstOfShard ? 'first ' : ''}batch had a ${hit.outcome} (retry ${hit.retry})`
          : '')
      );
    }),
  };
}

/** Late-output records whose window's state item absorbed them too (see {@link Verdict.appliedAndLate}). */
function findAppliedAndLate(o: ScenarioObservation): ScenarioObservation['late'] {
  const absorbed = new Map<string, Record<string, string>>();
  for (const item of o.stateItems) {
    const key = item['key']?.S;
    const start = item['start']?.N;
    const m = item['absorbed']?.M;
    if (key === undefined || start === undefined || m === undefined) continue;
    const shards: Record<string, string> = {};
    for (const [shard, at] of Object.entries(m)) if (at.S !== undefined) shards[shard] = at.S;
    absorbed.set(`${key}|${start}`, shards);
  }
  return o.late.filter((l) => {
    const at = absorbed.get(windowKey(l.click.page, l.click.ts))?.[l.shardId];
    return (
      at !== undefined &&
      encodeOffset({
        sequenceNumber: sequenceNumber(l.sequenceNumber),
        subSequenceNumber: l.subSequenceNumber,
      }) <= at
    );
  });
}

/** (c): per (key, window, version) one value; every final item is a recorded write of its highest version. */
function judgeResultWrites(
  writes: readonly RecordedWrite[],
  results: ScenarioObservation['results'],
): string[] {
  const v: string[] = [];
  const byVersion = new Map<string, RecordedWrite[]>();
  const byWindow = new Map<string, RecordedWrite[]>();
  for (const w of writes) {
    if (w.operation !== 'PutItem' || !w.conditional) {
      v.push(
        `(c) results table written by ${w.operation}${w.conditional ? '' : ' without a condition'} (${w.pk} ${w.sk})`,
      );
      continue;
    }
    const k = `${w.pk}|${w.sk}|v${w.version}`;
    byVersion.set(k, [...(byVersion.get(k) ?? []), w]);
    byWindow.set(`${w.pk}|${w.sk}`, [...(byWindow.get(`${w.pk}|${w.sk}`) ?? []), w]);
  }
  for (const [k, ws] of byVersion) {
    const values = new Set(ws.map((w) => w.value));
    const ids = new Set(ws.map((w) => w.item?.['id']?.S));
    if (values.size > 1 || ids.size > 1) {
      v.push(
        `(c) ${k} written with different values: ${ws.map((w) => `${w.value} [${w.outcome}${w.callerGone ? ', caller gone' : ''}]`).join(', ')}`,
      );
    }
    const written = ws.filter((w) => w.outcome === 'written').length;
    if (written > 1) v.push(`(c) ${k} accepted ${written} times by DynamoDB`);
  }
  for (const [k, ws] of byWindow) {
    // One value per version, and a later version counts strictly more (it fired because records were added).
    const perVersion = [
      ...new Map(ws.map((w) => [w.version ?? 0, Number(w.value)])).entries(),
    ].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < perVersion.length; i++) {
      const [pv, pval] = perVersion[i - 1] as [number, number];
      const [cv, cval] = perVersion[i] as [number, number];
      if (!(cval > pval)) v.push(`(c) ${k}: v${cv} = ${cval} does not exceed v${pv} = ${pval}`);
    }
  }
  for (const r of results) {
    const pk = `${encodeURIComponent(r.operator)}#${encodeURIComponent(r.key)}`;
    const ws = writes.filter(
      (w) =>
        w.pk === pk &&
        w.outcome === 'written' &&
        w.version !== undefined &&
        w.item?.['windowStart']?.N === String(r.window.start),
    );
    const top = Math.max(...ws.map((w) => w.version as number));
    const mine = ws.find(
      (w) =>
        w.version === r.version &&
        w.value === JSON.stringify(r.value) &&
        w.item?.['id']?.S === r.id,
    );
    if (!mine)
      v.push(
        `(c) final item ${r.id} = ${JSON.stringify(r.value)} was never seen written through the proxy`,
      );
    else if (top !== r.version)
      v.push(`(c) final item ${r.id} is v${r.version} but v${top} was accepted`);
  }
  return v;
}

function scenarioLine(o: ScenarioObservation): string {
  const w = o.resultWrites;
  const refired = o.results.filter((r) => r.version > 1).length;
  return (
    `#${o.plan.index} ${((o.timingsMs['read-back'] ?? 0) / 1000).toFixed(1)} s${o.reshardDone ? ` [${o.reshardDone}]` : ''}: ` +
    `in ${o.clicks.length + o.bad} = applied ${o.results.reduce((n, r) => n + Number(r.value), 0)} + late ${o.late.length} + dead ${o.deadLetters}; ` +
    `${o.results.length} windows (${refired} re-fired); ` +
    `workers: ${o.invoker.coldStarts} cold starts, ${o.invoker.crashes} crashes, ${o.invoker.timeouts} timeouts; ` +
    `ESM: ${o.esm.invocations} invocations, ${o.esm.retries} retries, ${o.esm.bisects} bisects; ` +
    `handler: ${o.handlerLog.batches} batches, ${o.handlerLog.skippedCommitted} skipped committed, ${o.handlerLog.alreadyApplied} already applied, ${o.handlerLog.batchFailed} failed; ` +
    `results writes ${w.length} (${w.filter((x) => x.outcome === 'written').length} accepted, ${w.filter((x) => x.outcome === 'condition-failed').length} already present/superseded, ${w.filter((x) => x.callerGone).length} caller gone); ` +
    `${o.ticks} ticks; invoke ms p50 ${pct(o.invokeMs, 0.5)} p90 ${pct(o.invokeMs, 0.9)}; ` +
    `timings ${Object.entries(o.timingsMs)
      .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)}`)
      .join(', ')}`
  );
}

function debugDump(o: ScenarioObservation): string {
  const lines: string[] = ['failed invocations:'];
  for (const f of o.failedInvocations) lines.push(`  ${JSON.stringify(f)}`);
  lines.push('handler batches:');
  for (const b of o.batchLog) lines.push(`  ${JSON.stringify(b)}`);
  lines.push('late output:');
  for (const l of o.late)
    lines.push(
      `  ${l.click.user} ${l.click.page} dt=${l.click.ts - o.baseMs} ${l.shardId}:${l.sequenceNumber} wm=${l.watermark - o.baseMs} ${l.reason}`,
    );
  lines.push('state items:');
  for (const it of o.stateItems) lines.push(`  ${JSON.stringify(it)}`);
  lines.push('clicks:');
  for (const c of o.clicks)
    lines.push(`  ${c.user} ${c.page} dt=${c.ts - o.baseMs} ${c.role}${c.inKpl ? ' kpl' : ''}`);
  return lines.join('\n');
}

function inRange(seq: string, first: string, last: string): boolean {
  try {
    return BigInt(first) <= BigInt(seq) && BigInt(seq) <= BigInt(last);
  } catch {
    return false;
  }
}

function pct(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

function summary(obs: readonly ScenarioObservation[], ms: number): string {
  const sum = (f: (o: ScenarioObservation) => number): number => obs.reduce((n, o) => n + f(o), 0);
  const planned = sum((o) => o.plan.faults.filter((f) => f.signal === 'SIGKILL').length);
  const hangs = sum((o) => o.plan.faults.filter((f) => f.signal === 'SIGSTOP').length);
  const dims = {
    shards: [...new Set(obs.map((o) => o.plan.shardCount))].sort().join('/'),
    splits: obs.filter((o) => o.plan.reshard?.kind === 'split').length,
    merges: obs.filter((o) => o.plan.reshard?.kind === 'merge').length,
  };
  return [
    `exactly-once scenarios: ${obs.length} in ${(ms / 1000).toFixed(0)} s (SCENARIO_SEED=${MASTER_SEED})`,
    `  shards ${dims.shards}, ${dims.splits} with SplitShard, ${dims.merges} with MergeShards; ` +
      `${sum((o) => planTotals(o.plan).clicks)} clicks (${sum((o) => planTotals(o.plan).kpl)} KPL aggregates), ${sum((o) => o.bad)} malformed`,
    `  DynamoDB errors injected by the proxy: ${proxy?.stats().injectedFaults ?? 0} (planned ${sum((o) => o.plan.dynamoFaults.reduce((n, f) => n + f.count, 0))}); ` +
      `ticks failed on them and retried by the next tick: ${sum((o) => o.tickErrors.length)}`,
    `  faults armed: ${planned} SIGKILL, ${hangs} SIGSTOP (function timeout); observed ${sum((o) => o.invoker.crashes)} crashes, ${sum((o) => o.invoker.timeouts)} timeouts, ${sum((o) => o.invoker.coldStarts)} cold starts`,
    `  ESM: ${sum((o) => o.esm.invocations)} invocations, ${sum((o) => o.esm.retries)} retries, ${sum((o) => o.esm.bisects)} bisects, ${sum((o) => o.esm.recordsDiscarded)} discarded`,
    `  handler: ${sum((o) => o.handlerLog.batches)} batches, ${sum((o) => o.handlerLog.skippedCommitted)} records skipped as committed, ${sum((o) => o.handlerLog.alreadyApplied)} already applied by a state item, ${sum((o) => o.handlerLog.batchFailed)} partial failures`,
    `  results table: ${sum((o) => o.resultWrites.length)} conditional writes seen, ${sum((o) => o.resultWrites.filter((w) => w.outcome === 'condition-failed').length)} already present/superseded, ${sum((o) => o.resultWrites.filter((w) => w.callerGone).length)} whose caller died; ${sum((o) => o.results.filter((r) => r.version > 1).length)} windows re-fired (v2+)`,
    `  late output ${sum((o) => o.late.length)}, dead letters ${sum((o) => o.deadLetters)}, ticks ${sum((o) => o.ticks)}`,
    `  KNOWN LIMIT (applied and late): ${[...verdicts.values()].reduce((a, b) => a + b, 0)} record(s) in ${[...verdicts.values()].filter((n) => n > 0).length} scenario(s)` +
      ` [${[...verdicts.entries()]
        .filter(([, n]) => n > 0)
        .map(([i, n]) => `#${i}: ${n}`)
        .join(', ')}]`,
  ].join('\n');
}
