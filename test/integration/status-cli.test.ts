/**
 * `weir status` on the embedded AWS (or LocalStack when AWS_ENDPOINT_URL is
 * set): records go through the local event source mapping into a real
 * OperatorRuntime (DynamoDB state table from the demo template), the ticker
 * fires, then the command is run in-process and its table and JSON are
 * checked value by value. A split afterwards shows closing, unregistered and
 * closed shards.
 *
 *   shard A (low hash keys):  a@T+1s  a@T+2s  b@T+70s          W(A) = T+65s
 *   shard B (high hash keys): a@T+61s c@T+130s                 W(B) = T+125s
 *   tick: operator W = T+65s; [T, T+60s) of a fires (2); left pending:
 *         a@[T+60s,T+120s), b@[T+60s,T+120s), c@[T+120s,T+180s); a@[T,T+60s)
 *         is kept for 30 s of lateness: 4 open windows, 3 pending, 0 due, outbox 0
 *   then 2 records on B with the mapping stopped: B is 2 records behind
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { KinesisShardDirectory } from '../../lib/adapters/kinesis/kinesis-shard-directory.ts';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../lib/adapters/memory/in-memory-sinks.ts';
import { createStatusCommand } from '../../lib/cli/status.ts';
import { main } from '../../lib/cli/main.ts';
import { count, json, minutes, pipeline, seconds, tumbling } from '../../lib/core/index.ts';
import { splitShard } from '../../lib/kinesis/index.ts';
import { encodeOffset, position, shardId } from '../../lib/model/position.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
} from '../../lib/runtime/local/esm/index.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/index.ts';
import type { OperatorStatus } from '../../lib/runtime/status/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { createStream, openShards, put } from '../fixtures/handlers/esm-kit.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { capturedContext } from '../unit/cli/cli-context.ts';

const fx = useLocalAws();
const T = Date.UTC(2026, 0, 1, 0, 0, 0);
const RUN_AT = T + 10 * 60_000;
const OPERATOR = 'status-it';

interface Click {
  readonly page: string;
  readonly ts: number;
}
const definition = pipeline(OPERATOR)
  .decode(json<Click>())
  .keyBy((c) => c.page)
  .eventTime((c) => c.ts, { maxOutOfOrderness: seconds(5) })
  .window(tumbling(minutes(1)))
  .allowedLateness(seconds(30))
  .sideOutputLateData('late')
  .aggregate(count());

let table = '';
beforeAll(async () => {
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), fx.clients.dynamodb, {
    stackName: uniqueName('Status'),
  });
  table = tables.find((t) => t.globalSecondaryIndexes.includes('due'))?.name ?? '';
  expect(table).not.toBe('');
});

const mappings: LocalEventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(mappings.splice(0).map((m) => m.stop()));
});

const clicks = (cs: readonly Click[]): string[] => cs.map((c) => JSON.stringify(c));

async function runStatus(
  args: readonly string[],
  at: number,
): Promise<{ code: number; out: string; err: string }> {
  const ctx = capturedContext(fx.aws.env(), new AbortController().signal);
  const command = createStatusCommand({ clock: new ManualClock(at), maxWatchIterations: 2 });
  const code = await command.run(args, ctx);
  return { code, out: ctx.out(), err: ctx.err() };
}

describe('weir status on the embedded AWS', () => {
  it('GIVEN records processed through the local ESM and a tick WHEN weir status runs THEN table and JSON show positions, lag, watermarks and windows', async () => {
    const kinesis = fx.clients.kinesis;
    const stream = uniqueName('status');
    await createStream(kinesis, stream, 2);
    const [shardA, shardB] = await openShards(kinesis, stream);
    if (!shardA || !shardB) throw new Error('two shards expected');

    const clock = new ManualClock(RUN_AT);
    const results = new InMemoryResultSink();
    const runtime = new OperatorRuntime({
      definition,
      store: new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName: table, clock }),
      clock,
      results,
      lateOutputs: { late: new InMemoryLateRecordSink() },
      deadLetter: new InMemoryDeadLetterOutput(),
      shards: new KinesisShardDirectory({ client: kinesis, streamName: stream }),
      log: () => undefined,
    });
    const seqA = await put(
      kinesis,
      stream,
      clicks([
        { page: 'a', ts: T + 1_000 },
        { page: 'a', ts: T + 2_000 },
        { page: 'b', ts: T + 70_000 },
      ]),
      shardA.start,
    );
    const seqB = await put(
      kinesis,
      stream,
      clicks([
        { page: 'a', ts: T + 61_000 },
        { page: 'c', ts: T + 130_000 },
      ]),
      shardB.start,
    );
    const esm = new LocalEventSourceMapping({
      kinesis,
      streamName: stream,
      invoker: new InProcessHandlerInvoker((e: KinesisStreamEvent) => runtime.handle(e)),
      settings: { startingPosition: 'TRIM_HORIZON', batchSize: 100 },
      pollIntervalMs: 50,
      shardDiscoveryIntervalMs: 100,
      retryDelayMs: 0,
    });
    mappings.push(esm);
    await esm.start();
    await esm.waitUntilIdle({ timeoutMs: 20_000 });
    await esm.stop();
    const tick = await runtime.tick();
    expect(tick.watermark).toBe(T + 65_000);
    expect(results.results().map((r) => [r.key, r.window.start, r.value])).toEqual([['a', T, 2]]);
    // Two more records on B, which nothing consumes now.
    await put(
      kinesis,
      stream,
      clicks([
        { page: 'c', ts: T + 140_000 },
        { page: 'c', ts: T + 150_000 },
      ]),
      shardB.start,
    );

    const base = ['--operator', OPERATOR, '--stream', stream, '--table', table];
    const js = await runStatus([...base, '--json'], RUN_AT + 20_000);
    expect(js.err).toBe('');
    expect(js.code).toBe(0);
    const status = JSON.parse(js.out) as OperatorStatus;
    expect(status).toMatchObject({
      schema: 'weir.status/1',
      at: RUN_AT + 20_000,
      operator: OPERATOR,
      stream,
      table,
      idleTimeoutMs: 60_000,
      watermark: T + 65_000,
      windows: { open: 4, pending: 3, due: 0, outbox: 0, exact: true },
      errors: [],
    });
    expect(status.shards.map((s) => s.shardId)).toEqual([shardA.id, shardB.id]);
    const [a, b] = status.shards;
    expect(a).toEqual({
      shardId: shardA.id,
      state: 'open',
      registered: true,
      inStream: true,
      parentShardId: null,
      adjacentParentShardId: null,
      committed: { sequenceNumber: seqA[2], subSequenceNumber: 0 },
      watermark: T + 65_000,
      lastActivity: RUN_AT,
      behind: { records: 0, exact: true, millis: 0 },
      error: null,
    });
    expect(b).toMatchObject({
      state: 'open',
      committed: { sequenceNumber: seqB[1], subSequenceNumber: 0 },
      watermark: T + 125_000,
      lastActivity: RUN_AT,
      behind: { records: 2, exact: true },
    });

    // The table, with the pipeline's idle timeout: 20 s without a batch is idle at 10 s.
    const tab = await runStatus([...base, '--idle-timeout', '10'], RUN_AT + 20_000);
    expect(tab.code).toBe(0);
    const lines = tab.out.split('\n');
    expect(lines[0]).toBe(`operator ${OPERATOR}   stream ${stream}   table ${table}`);
    expect(lines).toContain('watermark 2026-01-01T00:01:05.000Z (9.3 min behind now)');
    expect(lines).toContain('windows   4 open, 3 pending (0 due), outbox 0');
    const row = (id: string): string => lines.find((l) => l.startsWith(id)) ?? '';
    expect(row(shardA.id)).toMatch(
      new RegExp(
        `^${shardA.id} +idle +…${seqA[2]?.slice(-12)} +0 records +2026-01-01T00:01:05.000Z +20.0 s ago$`,
      ),
    );
    expect(row(shardB.id)).toMatch(
      new RegExp(
        `^${shardB.id} +idle +…${seqB[1]?.slice(-12)} +2 records, .+ +2026-01-01T00:02:05.000Z +20.0 s ago$`,
      ),
    );

    // A split: the parent is closing (not retired), its children not registered yet.
    const { children } = await splitShard(kinesis, stream, shardA.id);
    const split = JSON.parse(
      (await runStatus([...base, '--json'], RUN_AT + 20_000)).out,
    ) as OperatorStatus;
    const state = (id: string) => split.shards.find((s) => s.shardId === id);
    expect(state(shardA.id)).toMatchObject({
      state: 'closing',
      behind: { records: 0, exact: true },
    });
    for (const c of children)
      expect(state(c)).toMatchObject({
        state: 'open',
        registered: false,
        committed: null,
        parentShardId: shardA.id,
        behind: { records: 0, exact: true, millis: 0 },
      });
    // A tick registers the children and retires the parent: its end-of-shard check reads on
    // past the first empty answer (kinesalite shows the end only on the second read when the
    // split came after the last record).
    clock.advance(1_000);
    expect((await runtime.tick()).closedShards).toEqual([shardId(shardA.id)]);
    const after = JSON.parse(
      (await runStatus([...base, '--json'], RUN_AT + 21_000)).out,
    ) as OperatorStatus;
    expect(after.shards.find((s) => s.shardId === shardA.id)).toMatchObject({
      state: 'closed',
      behind: null,
    });
    for (const c of children)
      expect(after.shards.find((s) => s.shardId === c)).toMatchObject({
        state: 'open',
        registered: true,
      });
    const table2 = (await runStatus(base, RUN_AT + 21_000)).out;
    expect(table2.split('\n').find((l) => l.startsWith(shardA.id))).toMatch(
      new RegExp(`^${shardA.id} +closed +…${seqA[2]?.slice(-12)} +- +`),
    );

    // A range weir redrive applied (its progress record, as the redrive writes it once done):
    // listed apart, never as a shard.
    const store = new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName: table, clock });
    const source = `redrive:${shardA.id}:${seqA[0]}`;
    await store.writeShardProgress(
      OPERATOR,
      {
        shardId: shardId(source),
        committed: encodeOffset(position(shardA.id, seqA[1] ?? '', 0)),
        watermark: null,
        lastActivity: RUN_AT + 20_000,
        closed: true,
      },
      (await store.readProgress(OPERATOR)).generation,
    );
    const withRedrive = JSON.parse(
      (await runStatus([...base, '--json'], RUN_AT + 22_000)).out,
    ) as OperatorStatus;
    expect(withRedrive.shards.map((s) => s.shardId)).not.toContain(source);
    expect(withRedrive.redriven).toEqual([
      {
        source,
        shardId: shardA.id,
        startSequenceNumber: seqA[0],
        committed: { sequenceNumber: seqA[1], subSequenceNumber: 0 },
        done: true,
        at: RUN_AT + 20_000,
      },
    ]);
    const table3 = (await runStatus(base, RUN_AT + 22_000)).out.trimEnd().split('\n');
    expect(table3.slice(-2)).toEqual([
      expect.stringMatching(/^SOURCE +COMMITTED THROUGH +DONE +AT$/),
      expect.stringMatching(
        new RegExp(
          `^${shardA.id} from …${seqA[0]?.slice(-12)} +…${seqA[1]?.slice(-12)} +yes +2\\.0 s ago$`,
        ),
      ),
    ]);
  });

  it('--watch looks again (bounded by the injected limit), one JSON line per look', async () => {
    const kinesis = fx.clients.kinesis;
    const stream = uniqueName('status-watch');
    await createStream(kinesis, stream, 1);
    const r = await runStatus(
      ['--operator', 'nobody', '--stream', stream, '--table', table, '--json', '--watch', '0.1'],
      RUN_AT,
    );
    expect(r.code).toBe(0);
    const looks = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as OperatorStatus);
    expect(looks).toHaveLength(2);
    for (const look of looks) {
      expect(look.watermark).toBeNull();
      expect(look.windows).toEqual({ open: 0, pending: 0, due: 0, outbox: 0, exact: true });
      expect(look.shards).toMatchObject([{ state: 'open', registered: false }]);
    }
  });

  it('names come from WEIR_OPERATOR / WEIR_STREAM_NAME / WEIR_STATE_TABLE; a missing table exits 1', async () => {
    const stream = uniqueName('status-env');
    await createStream(fx.clients.kinesis, stream, 1);
    const env = {
      ...fx.aws.env(),
      WEIR_OPERATOR: 'nobody',
      WEIR_STREAM_NAME: stream,
      WEIR_STATE_TABLE: table,
    };
    const ok = capturedContext(env, new AbortController().signal);
    expect(await main(['status', '--json'], ok)).toBe(0);
    expect(JSON.parse(ok.out())).toMatchObject({ operator: 'nobody', stream, table });
    const missing = capturedContext(
      { ...env, WEIR_STATE_TABLE: 'no-such-table' },
      new AbortController().signal,
    );
    expect(await main(['status'], missing)).toBe(1);
    expect(missing.err()).toMatch(
      /weir status: cannot read operator nobody \(table no-such-table.*ResourceNotFoundException/,
    );
  });

  it('usage errors exit 2 with the usage: unknown flag, missing names, bad --watch', async () => {
    for (const args of [
      ['--operator', 'x', '--stream', 's', '--table', 't', '--bogus'],
      ['--stream', 's', '--table', 't'],
      ['--operator', 'x', '--stream', 's', '--table', 't', '--watch', 'soon'],
    ]) {
      const ctx = capturedContext({}, new AbortController().signal);
      expect(await main(['status', ...args], ctx)).toBe(2);
      expect(ctx.err()).toContain('Usage: weir status');
    }
    const ctx = capturedContext({}, new AbortController().signal);
    await main(['status', '--stream', 's', '--table', 't'], ctx);
    expect(ctx.err()).toContain('--operator is required (or set WEIR_OPERATOR)');
  });
});
