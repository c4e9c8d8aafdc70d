/**
 * `weir checkpoint` and `weir checkpoints` on the embedded AWS (or
 * LocalStack when AWS_ENDPOINT_URL is set), in process through `main`: the
 * state table of the demo template with a few hundred window items, a
 * checkpoint taken with its progress line and id, the listing in text and
 * JSON, a damaged part found by `--verify` (exit 3), retention by `--retain`,
 * and the usage errors.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { isCheckpointId } from '../../lib/model/checkpoint-id.ts';
import { shardId } from '../../lib/model/position.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/provision.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { runWeir, type WeirRun } from '../helpers/run-weir.ts';

const fx = useLocalAws();
const OP = 'cli-clicks';
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/cli-clicks';
const ITEMS = 300;

let env: Record<string, string> = {};
let bucket = '';

/** Runs `weir <args>` in process with the suite's `env`. */
function weir(...args: string[]): Promise<WeirRun> {
  return runWeir(env, args);
}

beforeAll(async () => {
  bucket = uniqueName('cli-ckpt').toLowerCase();
  await fx.clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), fx.clients.dynamodb, {
    stackName: uniqueName('CliCheckpoint'),
  });
  const table = tables.find((t) => t.globalSecondaryIndexes.includes('due'))!.name;
  const state = new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName: table });
  const offset = (n: number) => `${String(n).padStart(128, '0')}.${'0'.repeat(10)}`;
  await state.write(
    OP,
    Array.from({ length: ITEMS }, (_, i) => [
      {
        kind: 'put' as const,
        expectedRevision: null,
        item: {
          key: `/page/${i}`,
          start: 0,
          end: 60_000,
          accumulator: i,
          absorbed: { 'shardId-000000000000': offset(i + 1) },
          firedVersion: 0,
          pending: true,
          cleanupAt: 59_999,
          revision: 1,
          purged: false,
          supersedes: [],
          outbox: null,
        },
      },
    ]),
    0,
  );
  await state.writeShardProgress(
    OP,
    {
      shardId: shardId('shardId-000000000000'),
      committed: offset(ITEMS),
      watermark: 1_000,
      lastActivity: 1_000,
      closed: false,
    },
    0,
  );
  env = {
    ...fx.aws.env(),
    WEIR_STATE_TABLE: table,
    WEIR_CHECKPOINT_BUCKET: bucket,
    WEIR_STREAM_ARN: STREAM_ARN,
  };
}, 120_000);

describe('weir checkpoint / weir checkpoints (embedded AWS)', () => {
  let first = '';

  it('GIVEN an operator with state WHEN `weir checkpoint` runs THEN it prints a progress line and the id, and the checkpoint holds every item', async () => {
    const r = await weir('checkpoint', '--operator', OP, '--segments', '3');
    expect(r.err).toMatch(/checkpoint \d{16}-[0-9a-f]{8}: complete, \d+ parts, 300 items/);
    expect(r.code).toBe(0);
    first = r.out.trim();
    expect(isCheckpointId(first)).toBe(true);
  });

  it('GIVEN that checkpoint WHEN `weir checkpoints --json` runs THEN it is listed complete with its items and bytes', async () => {
    const r = await weir('checkpoints', '--operator', OP, '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as {
      checkpoints: { id: string; status: string; items: number; bytes: number }[];
    };
    expect(doc.checkpoints).toHaveLength(1);
    expect(doc.checkpoints[0]).toMatchObject({ id: first, status: 'complete', items: ITEMS });
    expect(doc.checkpoints[0]!.bytes).toBeGreaterThan(0);
  });

  it('GIVEN a second checkpoint with --json and --retain 1 WHEN taken THEN the first is deleted and the text listing shows one row', async () => {
    const r = await weir('checkpoint', '--operator', OP, '--json', '--retain', '1');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out) as {
      id: string;
      items: number;
      previousId: string;
      deleted: string[];
    };
    expect(summary).toMatchObject({ items: ITEMS, previousId: first, deleted: [first] });
    const list = await weir('checkpoints', '--operator', OP);
    expect(list.code).toBe(0);
    const lines = list.out.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+AGE\s+ITEMS\s+BYTES\s+STATUS$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      new RegExp(`^${summary.id}\\s+\\S+.*\\s${ITEMS}\\s+\\d+\\s+complete$`),
    );
  });

  it('GIVEN a damaged part WHEN `weir checkpoints --verify` runs THEN the checkpoint is corrupt, the problem is named, and the exit code is 3', async () => {
    const listed = JSON.parse((await weir('checkpoints', '--operator', OP, '--json')).out) as {
      checkpoints: { id: string }[];
    };
    const id = listed.checkpoints[0]!.id;
    await fx.clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `weir/${OP}/checkpoints/${id}/part-00000.ndjson.gz`,
        Body: 'not gzip',
      }),
    );
    const plain = await weir('checkpoints', '--operator', OP);
    expect(plain.code).toBe(0);
    const r = await weir('checkpoints', '--operator', OP, '--verify');
    expect(r.code).toBe(3);
    expect(r.out).toMatch(new RegExp(`${id}.*corrupt`));
    expect(r.err).toContain('part-00000.ndjson.gz');
  });

  it.each([
    [['checkpoint', '--operator', OP, '--bogus']],
    [['checkpoints', '--operator', OP, '--nope']],
    [['checkpoints']],
    [['checkpoint', '--operator', OP, '--segments', 'zero']],
  ])('GIVEN %j WHEN run THEN exit 2 with the usage', async (args) => {
    const r = await weir(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Usage: weir checkpoints? --operator NAME/);
  });

  it.each([['checkpoint'], ['checkpoints']])(
    'GIVEN `weir %s --help` WHEN run THEN exit 0 with the usage and exit codes',
    async (cmd) => {
      const r = await weir(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: weir ${cmd} --operator NAME`);
      expect(r.out).toContain('Exit codes:');
    },
  );
});
