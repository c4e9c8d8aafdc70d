/**
 * The EMF metrics of a run on the embedded AWS equal its batch accounting.
 * The real click-counter handler runs in worker processes behind the local
 * event source mapping; the ticker runs in this process; both write their
 * metrics as EMF lines, which the local runner keeps:
 *
 *   wave 1: clicks over three minutes + every kind of bad record + a click 5 min on
 *   wave 2: clicks for the first minute, long closed ─► late
 *   ticks (clock 5 min ahead: the shard is idle) ─► every window fires
 *
 *   runner.metrics (handler workers' stdout)  ┐
 *   ticker metricsOutput (in-process)         ┴─► sums per metric, as CloudWatch would
 *
 * and compares them with what was produced, the `batch` log lines, the
 * dead-letter objects in S3 and the results table.
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { badRecords } from '../../examples/click-counter/bad-records.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import type { DeadLetterDocument } from '../../lib/adapters/documents.ts';
import { putRecords, type ProducerRecord } from '../../lib/kinesis/index.ts';
import type { Clock } from '../../lib/ports/clock.ts';
import {
  LocalMappingRunner,
  localLambdaHandlers,
  provisionFromTemplate,
  readWindowResults,
  tickUntil,
} from '../../lib/runtime/local/index.ts';
import { EmfCollector } from '../../lib/runtime/telemetry/index.ts';
import { WEIR_METRICS_NAMESPACE, type WeirMetricName } from '../../lib/runtime/metrics-names.ts';
import { useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();
const MINUTE = 60_000;
const OP = { Operator: 'click-counter' };
const PAGES = ['/home', '/cart', '/pay'];

const click = (page: string, ts: number, i: number): ProducerRecord => ({
  data: JSON.stringify({ page, user: `u${i}`, ts }),
  partitionKey: `pk-${i}`,
});

describe('EMF metrics on the embedded AWS', () => {
  it('GIVEN good, late and bad records through the local ESM and the ticker WHEN the run is idle THEN the EMF sums equal the batch accounting, the dead letters by reason and the results written', async () => {
    const stackName = `Emf${Date.now().toString(36).slice(-6)}`;
    const template = await loadDemoTemplate({
      stackName,
      streamName: `emf-${stackName}`,
      shardCount: 1,
      onFailure: 's3',
    });
    const resources = await provisionFromTemplate(template, fx.clients, { stackName });
    const mapping = resources.mappings[0];
    const tickerFn = resources.tickers[0];
    if (!mapping || !tickerFn) throw new Error('the demo stack has one mapping and one ticker');
    const env = mapping.environment;

    const batchLines: Record<string, unknown>[] = [];
    const runner = new LocalMappingRunner({
      mapping,
      clients: fx.clients,
      env: fx.aws.env(),
      pollIntervalMs: 100,
      onLog: (line) => {
        if (!line.includes('"msg":"batch"')) return;
        batchLines.push(JSON.parse(line) as Record<string, unknown>);
      },
    });
    // The ticker's clock is 5 minutes ahead: the shard is idle at once and the watermark passes every window.
    const ahead: Clock = { now: () => Date.now() + 5 * MINUTE };
    const tickerEmf = new EmfCollector();
    const ticker = localLambdaHandlers(clickCounter, tickerFn, {
      env: fx.aws.env(),
      clock: ahead,
      metricsOutput: tickerEmf.collect,
      log: () => undefined,
    });
    try {
      const base = Math.floor(Date.now() / MINUTE) * MINUTE - 20 * MINUTE;
      const good: ProducerRecord[] = [];
      for (let i = 0; i < 30; i++) good.push(click(PAGES[i % 3] ?? '/', base + i * 5_000, i));
      const pusher = click('/home', base + 5 * MINUTE, 100); // moves the watermark past the first three minutes
      const bad = badRecords(base);
      const late = [1, 2, 3].map((i) => click('/late', base + i * 1000, 200 + i));

      await runner.start();
      await putRecords(fx.clients.kinesis, mapping.streamName, [
        ...good,
        ...bad.map((b) => ({ data: b.data, partitionKey: b.partitionKey })),
        pusher,
      ]);
      await runner.waitUntilIdle({ timeoutMs: 60_000 });
      await putRecords(fx.clients.kinesis, mapping.streamName, late);
      await runner.waitUntilIdle({ timeoutMs: 60_000 });
      const last = await tickUntil(
        ticker.ticker,
        (r) => r.watermark >= base + 7 * MINUTE && r.fired === 0,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(last?.watermark).toBeGreaterThanOrEqual(base + 7 * MINUTE);

      const h = runner.metrics;
      // The workers' stdout and their IPC replies are separate pipes: let the last EMF lines arrive.
      await until(() => h.values('RecordsIn', OP).length >= runner.esm.stats().invocations, 10_000);
      const sum = (name: WeirMetricName) => h.sum(name, OP);
      const produced = good.length + bad.length + 1 + late.length;

      // Reconciliation, from the EMF lines alone.
      expect(sum('RecordsIn')).toBe(
        sum('RecordsApplied') +
          sum('RecordsLate') +
          sum('RecordsDeadLettered') +
          sum('RecordsFiltered') +
          sum('RecordsSkippedCommitted'),
      );
      // Against what was produced: every Kinesis record once (a retried batch would count again, as skipped).
      expect(sum('RecordsIn') - sum('RecordsSkippedCommitted')).toBe(produced);
      expect(sum('RecordsApplied')).toBe(good.length + 1);
      expect(sum('RecordsLate')).toBe(late.length);
      expect(sum('RecordsDeadLettered')).toBe(bad.length);
      expect(sum('RecordsFiltered')).toBe(0);

      // Against the handler's own `batch` log lines: the same figures, batch by batch summed.
      const fromLog = (f: (e: BatchLine) => number) =>
        batchLines.reduce((a, e) => a + f(e as unknown as BatchLine), 0);
      expect(batchLines.length).toBeGreaterThan(0);
      expect(sum('RecordsIn')).toBe(fromLog((e) => e.counts.received + e.kplDeadLettered));
      expect(sum('RecordsApplied')).toBe(fromLog((e) => e.counts.inState));
      expect(sum('RecordsLate')).toBe(fromLog((e) => e.counts.late));
      expect(sum('RecordsDeadLettered')).toBe(
        fromLog((e) => e.counts.deadLettered + e.kplDeadLettered),
      );
      expect(sum('RecordsSkippedCommitted')).toBe(fromLog((e) => e.counts.skippedCommitted));
      expect(sum('StateWrites')).toBeGreaterThan(0);

      // The log lines carry the operator, the shard, the request id and the cold-start flag.
      for (const e of batchLines)
        expect(e).toMatchObject({
          level: 'INFO',
          operator: 'click-counter',
          shardId: 'shardId-000000000000',
          function_request_id: expect.any(String) as unknown,
          cold_start: expect.any(Boolean) as unknown,
        });
      expect(batchLines[0]?.['cold_start']).toBe(true);

      // Dead letters by Reason equal the dead-letter objects in S3, and add up to the total.
      const byReason = h.deadLettersByReason('click-counter');
      expect(Object.values(byReason).reduce((a, b) => a + b, 0)).toBe(sum('RecordsDeadLettered'));
      expect(byReason).toEqual(await deadLetterReasonsInS3(env['WEIR_OUTPUT_BUCKET'] ?? ''));
      expect(Object.keys(byReason).length).toBeGreaterThanOrEqual(5);

      // Windows fired (by batches and by ticks) equal the results written, one version each.
      const results = await readWindowResults(fx.clients.dynamodb, env['WEIR_RESULTS_TABLE'] ?? '');
      const windows = new Set(
        [...good, pusher].map((r) => {
          const c = JSON.parse(String(r.data)) as { page: string; ts: number };
          return `${c.page}@${Math.floor(c.ts / MINUTE) * MINUTE}`;
        }),
      );
      expect(results).toHaveLength(windows.size);
      expect(results.every((r) => r.version === 1)).toBe(true);
      expect(sum('WindowsFired') + tickerEmf.sum('WindowsFired', OP)).toBe(results.length);
      expect(tickerEmf.sum('OutboxBacklog', OP)).toBe(0);

      // Failures: none. Watermark lag: processing time (the ticker's) minus the watermark.
      for (const c of [h, tickerEmf]) {
        expect(c.sum('AccessDenied', OP)).toBe(0);
        expect(
          c.documents().every((d) => d.directives[0]?.Namespace === WEIR_METRICS_NAMESPACE),
        ).toBe(true);
      }
      expect(sum('BatchFailures')).toBe(0);
      expect(sum('ShardRegistrationFailures')).toBe(0);
      expect(tickerEmf.sum('ShardDirectoryFailures', OP)).toBe(0);
      const lag = tickerEmf.max('WatermarkLagMs', OP) ?? -1;
      expect(lag).toBeGreaterThan(0);
      expect(lag).toBeLessThanOrEqual(ahead.now() - (last?.watermark ?? 0) + 60_000);
      // One flush per invocation: each invocation's main document carries every handler count once.
      expect(h.values('RecordsIn', OP).length).toBe(runner.esm.stats().invocations);
    } finally {
      await runner.stop();
      ticker.clients.destroy();
    }
  });
});

/** The fields of a `batch` log line the test sums. */
interface BatchLine {
  readonly counts: {
    readonly received: number;
    readonly inState: number;
    readonly late: number;
    readonly deadLettered: number;
    readonly skippedCommitted: number;
  };
  readonly kplDeadLettered: number;
}

/** Dead-letter objects by reason: the code their reason text starts with, or the kind for records rejected before the operator. */
async function deadLetterReasonsInS3(bucket: string): Promise<Record<string, number>> {
  const listed = await fx.clients.s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: 'weir/click-counter/dead-letter/' }),
  );
  const out: Record<string, number> = {};
  for (const c of listed.Contents ?? []) {
    const o = await fx.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: c.Key }));
    const doc = JSON.parse(await (o.Body?.transformToString() ?? '{}')) as DeadLetterDocument;
    const reason =
      doc.kind === 'kpl'
        ? 'kpl-aggregate-broken'
        : (/^([a-z-]+):/.exec(doc.reason)?.[1] ?? doc.kind);
    out[reason] = (out[reason] ?? 0) + 1;
  }
  return out;
}

/** Waits (bounded) until `done()`; a check, not a timed assertion: the test asserts afterwards. */
async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
