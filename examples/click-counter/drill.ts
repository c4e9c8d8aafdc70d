/**
 * The demo's closing recovery drill (docs/recovery.md, "Restore and replay"
 * and the runbook), on the stack the demo just ran:
 *
 *   checkpoint c0 (before any record) ─ ... ─ checkpoint c1 (before the late clicks) ─ late clicks ─ ticks ─ results R
 *   drill:      wipe the state table ─► restore c1, replay ─► ticks ─► results equal R (re-fired windows: …/g1v<n>)
 *   correction: restore c0 with a fixed pipeline (clicks of the test accounts user-0 .. user-9 no longer count), replay
 *               the whole stream in batches of the live size (250) ─► ticks ─► every window it fires replaces its result (…/g2v<n>)
 *
 * The mapping is stopped by then (the demo stops its runner after producing),
 * so the restores pause nothing (`mapping: undefined`, the CLI's --no-pause).
 */
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import {
  CheckpointTaker,
  DynamoDbStateStore,
  S3CheckpointStore,
  deleteAllItems,
  count,
  json,
  kinesisReplaySource,
  localLambdaHandlers,
  minutes,
  pipeline,
  readWindowResults,
  restoreOperator,
  seconds,
  systemClock,
  tickUntil,
  tumbling,
  type AwsClients,
  type WindowResult,
} from '../../lib/index.ts';
import { clickCounter, type Click } from '../../functions/click-counter/pipeline.ts';

/** The click counter with the "bug" fixed: clicks of the ten test accounts (user-0 .. user-9) no longer count. */
export const clickCounterFixed = pipeline('click-counter')
  .decode(json<Click>())
  .filter((c) => !/^user-\d$/.test(c.user))
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

/** Where the drill runs: the demo's stack. */
export interface DrillStack {
  readonly clients: AwsClients;
  /** The embedded AWS's variables (endpoints, credentials). */
  readonly awsEnv: Readonly<Record<string, string>>;
  /** The batch function's environment (tables, bucket, stream). */
  readonly functionEnv: Readonly<Record<string, string>>;
  readonly streamName: string;
  readonly say: (line: string) => void;
}

/** Takes checkpoints of the demo's operator. */
export async function checkpointer(s: DrillStack): Promise<() => Promise<string>> {
  const streamArn = (
    await s.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: s.streamName }))
  ).StreamDescriptionSummary?.StreamARN as string;
  const taker = new CheckpointTaker({
    state: stateStore(s),
    checkpoints: checkpointStore(s),
    clock: systemClock,
    operator: clickCounter.name,
    streamArn,
  });
  return async () => {
    const run = await taker.take();
    if (run.status !== 'complete') throw new Error('the checkpoint did not complete');
    return run.manifest.id;
  };
}

/** What the drill showed; `ok` when both parts hold. */
export interface DrillReport {
  readonly ok: boolean;
}

/**
 * Wipes the state, restores `c1` and compares with the uninterrupted
 * results; then restores `c0` with the fixed pipeline.
 */
export async function runDrill(
  s: DrillStack,
  c0: string,
  c1: string,
  needWatermark: number,
): Promise<DrillReport> {
  const table = s.functionEnv['WEIR_RESULTS_TABLE'] ?? '';
  const before = byWindow(await readWindowResults(s.clients.dynamodb, table));
  const wiped = await wipe(s);
  s.say(`drill: state table wiped (${wiped} items deleted); restoring checkpoint ${c1}`);
  const first = await restoreAndFire(s, c1, clickCounter, needWatermark);
  const after = byWindow(await readWindowResults(s.clients.dynamodb, table));
  const differ = [...new Set([...before.keys(), ...after.keys()])].filter(
    (k) => before.get(k)?.value !== after.get(k)?.value,
  ).length;
  const refired = [...after.values()].filter((r) => r.id.includes('/g1v')).length;
  const drillOk = differ === 0 && refired > 0;
  s.say(
    `drill: restored generation ${first.generation}, replayed ${first.records} records (${first.late} late again), ` +
      `${refired} windows re-fired as …/g1v<n>; ${after.size} windows, ${differ} differ from the uninterrupted run: ${drillOk ? 'OK' : 'FAILED'}`,
  );

  s.say(
    `correction: clicks of the test accounts user-0 .. user-9 no longer count; restoring checkpoint ${c0} with the fixed pipeline`,
  );
  const second = await restoreAndFire(s, c0, clickCounterFixed, needWatermark);
  const corrected = byWindow(await readWindowResults(s.clients.dynamodb, table));
  const replaced = [...corrected.values()].filter((r) => (r.generation ?? 0) === second.generation);
  const sum = replaced.reduce((t, r) => t + Number(r.value), 0);
  const sample = replaced
    .filter((r) => before.get(`${r.key}@${r.window.start}`)?.value !== r.value)
    .slice(0, 3)
    .map(
      (r) =>
        `${r.key} ${new Date(r.window.start).toISOString().slice(11, 16)}: ${JSON.stringify(before.get(`${r.key}@${r.window.start}`)?.value)} → ${JSON.stringify(r.value)} (${r.id.slice(r.id.lastIndexOf('/') + 1)})`,
    );
  // Every record the corrected run applied is in exactly one fired window, and (c0 precedes every
  // record) every window still visible is the corrected run's: the restore retracted the others,
  // and those that fired since (the watermark moved on) replaced their retraction.
  const older = corrected.size - replaced.length;
  const correctionOk = replaced.length > 0 && sum === second.inState && older === 0;
  s.say(
    `correction: generation ${second.generation}, ${second.records} records replayed, ${second.filtered} filtered out; ` +
      `${replaced.length} windows replaced, e.g. ${sample.join('; ')}; their counts sum to the ${second.inState} records applied; ` +
      `${second.retracted} windows retracted at the restore's end (not fired again by then), ${older} results of an older generation left: ${correctionOk ? 'OK' : 'FAILED'}`,
  );
  return { ok: drillOk && correctionOk };
}

interface Restored {
  readonly generation: number;
  readonly records: number;
  readonly inState: number;
  readonly late: number;
  readonly filtered: number;
  /** Windows fired before the restore that the restored run had not fired by its end: retracted. */
  readonly retracted: number;
}

async function restoreAndFire(
  s: DrillStack,
  checkpoint: string,
  definition: typeof clickCounter,
  needWatermark: number,
): Promise<Restored> {
  const handlers = localLambdaHandlers(
    definition,
    { environment: s.functionEnv },
    {
      env: s.awsEnv,
      log: () => undefined,
      metricsOutput: () => undefined,
    },
  );
  try {
    const summary = await restoreOperator({
      operator: clickCounter.name,
      state: stateStore(s),
      checkpoints: checkpointStore(s),
      checkpoint,
      mapping: undefined, // the demo's mapping is stopped
      resumeHint: 'nothing was paused',
      rerun: (id) => `restore ${id}`,
      source: (streamArn) => kinesisReplaySource({ client: s.clients.kinesis, streamArn }),
      target: handlers.runtime,
      // Defaults: shards advance together by arrival time, so lateness is judged as the live run judged it.
    });
    await tickUntil(
      handlers.ticker,
      (r) => r.watermark >= needWatermark && r.fired === 0 && r.redriven === 0,
      { timeoutMs: 60_000 },
    );
    const r = summary.replay;
    return {
      generation: summary.generation,
      records: r.records,
      inState: r.inState,
      late: r.late,
      filtered: r.received - r.inState - r.late - r.deadLettered - r.skipped,
      retracted: summary.windowsRetracted,
    };
  } finally {
    handlers.clients.destroy();
  }
}

function stateStore(s: DrillStack): DynamoDbStateStore {
  return new DynamoDbStateStore({
    client: s.clients.dynamodb,
    tableName: s.functionEnv['WEIR_STATE_TABLE'] ?? '',
  });
}

function checkpointStore(s: DrillStack): S3CheckpointStore {
  return new S3CheckpointStore({
    client: s.clients.s3,
    bucket: s.functionEnv['WEIR_CHECKPOINT_BUCKET'] ?? s.functionEnv['WEIR_OUTPUT_BUCKET'] ?? '',
    prefix: s.functionEnv['WEIR_CHECKPOINT_PREFIX'] ?? 'weir',
  });
}

const byWindow = (results: readonly WindowResult[]): Map<string, WindowResult> =>
  new Map(results.map((r) => [`${r.key}@${r.window.start}`, r]));

/** Deletes every item of the state table: the loss the drill recovers from. */
function wipe(s: DrillStack): Promise<number> {
  return deleteAllItems(s.clients.dynamodb, s.functionEnv['WEIR_STATE_TABLE'] ?? '');
}
