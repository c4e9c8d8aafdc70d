/**
 * `weir restore` on the embedded AWS, in process through `main`, with
 * `--no-pause` (the embedded tier has no Lambda; the operator here has no
 * running mapping): the demo template's tables, the click-counter pipeline
 * module, a checkpoint taken by `weir checkpoint`, a restore that replays
 * the stream into the state (exit 0, JSON summary), a damaged part (exit 3,
 * the part and the previous checkpoint named, the state untouched), and
 * usage errors (exit 2).
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/provision.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { createStream, put } from '../fixtures/handlers/esm-kit.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { runWeir, type WeirRun } from '../helpers/run-weir.ts';

const fx = useLocalAws();
const OP = 'click-counter';
const PIPELINE = 'functions/click-counter/pipeline.ts';

function weir(env: Record<string, string>, ...args: string[]): Promise<WeirRun> {
  return runWeir(env, args);
}

describe('weir restore (embedded AWS)', () => {
  it('GIVEN a checkpoint and a stream WHEN `weir restore --no-pause` runs THEN it replays into the state (exit 0); a damaged part exits 3 naming it and the previous checkpoint, the state untouched', async () => {
    const { kinesis, s3, dynamodb } = fx.clients;
    const stream = uniqueName('restore-cli');
    await createStream(kinesis, stream, 1);
    const arn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream })))
      .StreamDescriptionSummary?.StreamARN as string;
    const bucket = uniqueName('restore-cli').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), dynamodb, {
      stackName: uniqueName('RestoreCli'),
    });
    const state = tables.find((t) => t.globalSecondaryIndexes.includes('due'))!;
    const results = tables.find((t) => t !== state)!;
    const env = {
      ...fx.aws.env(),
      WEIR_STATE_TABLE: state.name,
      WEIR_RESULTS_TABLE: results.name,
      WEIR_CHECKPOINT_BUCKET: bucket,
      WEIR_STREAM_ARN: arn,
    };
    const clicks = Array.from({ length: 6 }, (_, i) => ({
      page: `/p${i % 2}`,
      user: 'u',
      ts: 60_000 + i,
    }));
    await put(
      kinesis,
      stream,
      clicks.map((c) => JSON.stringify(c)),
    );

    // A checkpoint of the operator before it read anything; the restore replays the whole shard.
    const first = await weir(env, 'checkpoint', '--operator', OP);
    expect(first.code).toBe(0);
    const args = ['restore', '--operator', OP, '--pipeline', PIPELINE, '--no-pause'];
    const ok = await weir(env, ...args, '--json');
    expect(ok.err).toContain('restore: replaying');
    expect(ok.code).toBe(0);
    const summary = JSON.parse(ok.out) as {
      checkpointId: string;
      generation: number;
      paused: boolean;
      windowsRetracted: number;
      replay: { records: number; inState: number; shards: number };
    };
    expect(summary).toMatchObject({
      checkpointId: first.out.trim(),
      generation: 1,
      paused: false,
      windowsRetracted: 0,
      replay: { records: 6, inState: 6, shards: 1 },
    });
    const store = new DynamoDbStateStore({ client: dynamodb, tableName: state.name });
    const windows = await store.listKeyWindows(OP, ['/p0', '/p1'], 1);
    expect([...windows.values()].flat().map((w) => w.accumulator)).toEqual([3, 3]);

    // A second checkpoint (it holds those windows), its part damaged: exit 3, nothing changed.
    await new Promise((r) => setTimeout(r, 5)); // a later id than the first
    const second = await weir(env, 'checkpoint', '--operator', OP);
    expect(second.code).toBe(0);
    const id = second.out.trim();
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `weir/${OP}/checkpoints/${id}/part-00000.ndjson.gz`,
        Body: 'not gzip',
      }),
    );
    const before = await store.readProgress(OP);
    const bad = await weir(env, ...args);
    expect(bad.code).toBe(3);
    expect(bad.err).toContain(`checkpoint ${id} of operator ${OP}, part-00000.ndjson.gz`);
    expect(bad.err).toContain(`The previous checkpoint is ${summary.checkpointId}`);
    expect(bad.err).toContain(`--checkpoint ${summary.checkpointId} --no-pause`);
    expect(bad.err).toContain('the state is untouched');
    expect(await store.readProgress(OP)).toEqual(before);

    // Text output: the closing summary.
    const text = await weir(env, ...args, '--checkpoint', summary.checkpointId);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(
      /replayed 6 records from 1 shards: 6 in state, 0 late, 0 dead letters/,
    );
    expect(text.out).toMatch(/windows re-fired: \d+; windows retracted: 0 \(/);
    expect(text.out).toMatch(/[\d.]+ s, \d+ records\/s replayed/);
  }, 120_000);

  it.each([
    [['restore', '--operator', OP, '--pipeline', PIPELINE], /exactly one of --function-name/],
    [['restore', '--pipeline', PIPELINE, '--no-pause'], /--operator is required/],
    [['restore', '--operator', OP, '--no-pause', '--bogus'], /unknown option --bogus/],
    [
      ['restore', '--operator', OP, '--pipeline', PIPELINE, '--no-pause', '--slice-ms', '0'],
      /--slice-ms must be an integer 1\.\.3600000 \(given 0\)/,
    ],
  ])('GIVEN %j WHEN run THEN exit 2 with the usage', async (argv, message) => {
    const r = await weir({ WEIR_CHECKPOINT_BUCKET: 'b' }, ...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).toContain('Usage: weir restore');
  });

  it('GIVEN --help WHEN run THEN exit 0 with the usage and the exit codes', async () => {
    const r = await weir({}, 'restore', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Exit codes: 0 restored');
    expect(r.out).toContain('--slice-ms N');
  });
});
