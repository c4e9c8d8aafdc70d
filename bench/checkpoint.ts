/**
 * Bench section `checkpoint`: a checkpoint of a 100,000-item state table and
 * its restore, on the embedded AWS (DynamoDB Local, the S3 emulator).
 *
 * The table is the operator's DynamoDB layout (the demo template's state
 * table), bulk-loaded with BatchWriteItem in the item format
 * DynamoDbStateStore writes (`windowItemToAttributes`, `progressToAttributes`):
 * click-counter items of operator `click-counter`, 20,000 pages x 5 one-minute
 * tumbling count windows. Per page, the three oldest windows are tombstones
 * (fired and purged), the fourth is fired and not yet purged, the fifth is
 * open and pending; counts 1..200; every item's absorbed map holds 2..4 of
 * the 4 shards' positions (encodeOffset, the stored 139-character form). Four
 * progress items and the watermark complete the operator's state.
 *
 * Measured with the code the CLI runs:
 * - the checkpoint: `CheckpointTaker.take()` as `weir checkpoint` builds it
 *   (`openOperatorCheckpoints`, S3CheckpointStore, 4 scan segments);
 * - the restore: `restoreState` of that checkpoint into the same table
 *   (verify every part, raise the generation, clear the 100,000 old items,
 *   load the 100,000 checkpoint items, reset progress), the state half of
 *   `weir restore`.
 *
 * Figures:
 * - `checkpoint_seconds_100k_items`: `take()` from call to stored manifest
 * - `checkpoint_bytes_100k_items`: the checkpoint's objects in S3 (gzip parts + manifest)
 * - `restore_seconds_100k_items`: `restoreState` from call to reset progress
 * - `restore_clear_seconds_100k_items`: of which the clear step (`clearState`: the
 *   Scan of the operator's items and one conditional DeleteItem per old item)
 *
 * The load is not a figure (it is the bench's own BatchWriteItem, printed);
 * the restore is checked: 100,000 loaded, 100,004 cleared, every 500th item
 * read back through the store under the new generation.
 * `BENCH_DEBUG=1` prints the load's and the restore's progress.
 */
import {
  BatchWriteItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { endpointsFromEnv } from '../lib/adapters/aws-clients.ts';
import { DynamoDbStateStore } from '../lib/adapters/dynamodb/dynamodb-state-store.ts';
import {
  progressToAttributes,
  windowItemToAttributes,
  WATERMARK_SORT_KEY,
} from '../lib/adapters/dynamodb/state-codec.ts';
import { CheckpointTaker } from '../lib/core/checkpoint/take-checkpoint.ts';
import { restoreState } from '../lib/core/checkpoint/restore-state.ts';
import { localAwsFromEnv } from '../lib/local-aws/index.ts';
import {
  encodeOffset,
  sequenceNumber,
  shardId,
  type SequenceNumber,
} from '../lib/model/position.ts';
import { systemClock } from '../lib/ports/clock.ts';
import type { WindowItem } from '../lib/ports/state-store.ts';
import { openOperatorCheckpoints } from '../lib/runtime/checkpoint/operator-checkpoints.ts';
import { credentialsFromEnv } from '../lib/runtime/lambda/config.ts';
import { provisionTablesFromTemplate } from '../lib/runtime/local/index.ts';
import { seededRandom } from '../lib/testing/random.ts';
import { loadDemoTemplate } from '../cdk/synth.ts';
import { mapSettled } from '../lib/util/map-settled.ts';
import type { BenchSection } from './section.ts';

const OPERATOR = 'click-counter';
const PAGES = 20_000;
const WINDOWS_PER_PAGE = 5;
const SHARDS = 4;
const MINUTE = 60_000;
const ALLOWED_LATENESS = 30_000;
/** BatchWriteItem requests in flight while loading the table. */
const LOAD_IN_FLIGHT = 16;
const BUCKET = 'bench-checkpoints';
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/bench-checkpoint';

export const checkpointSection: BenchSection = {
  name: 'checkpoint',
  async run() {
    const aws = await localAwsFromEnv(process.env);
    const clients = aws.clients();
    const env = aws.env();
    try {
      const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), clients.dynamodb, {
        stackName: `BenchCheckpoint${Date.now().toString(36)}`,
      });
      const stateTable = tables.find((t) => t.globalSecondaryIndexes.includes('due'))?.name;
      if (stateTable === undefined) throw new Error('the demo template lacks the state table');
      await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

      const items = benchStateItems(Date.UTC(2026, 11, 1, 6, 0, 0));
      const loadStarted = performance.now();
      await bulkLoad(clients.dynamodb, stateTable, stateAttributes(items));
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      console.log(`  (loaded ${items.length} window items in ${loadSeconds.toFixed(1)} s)`);

      const credentials = credentialsFromEnv(env);
      const op = openOperatorCheckpoints({
        operator: OPERATOR,
        region: aws.region,
        endpoints: endpointsFromEnv(env),
        ...(credentials ? { credentials } : {}),
        checkpointBucket: BUCKET,
        checkpointPrefix: 'weir',
        stateTable,
        stream: STREAM_ARN,
      });
      try {
        const state = op.state;
        if (state === undefined) throw new Error('no state store');
        const taker = new CheckpointTaker({
          state,
          checkpoints: op.checkpoints,
          clock: systemClock,
          operator: OPERATOR,
          streamArn: await op.streamArn(),
        });
        const takeStarted = performance.now();
        const run = await taker.take();
        const takeSeconds = (performance.now() - takeStarted) / 1000;
        if (run.status !== 'complete') throw new Error('the checkpoint did not complete');
        const manifest = run.manifest;
        if (manifest.items !== items.length)
          throw new Error(`the checkpoint holds ${manifest.items} of ${items.length} items`);
        const bytes = await storedBytes(
          clients.s3,
          `weir/${OPERATOR}/checkpoints/${manifest.id}/`,
          manifest.parts.length,
        );

        // The store `weir restore` builds (openOperatorCheckpoints), timing its clear step.
        const restoreStore = new TimedClearStore({
          client: op.clients.dynamodb,
          tableName: stateTable,
        });
        const restoreStarted = performance.now();
        const restored = await restoreState({
          state: restoreStore,
          checkpoints: op.checkpoints,
          operator: OPERATOR,
          checkpoint: manifest.id,
          onItems: (loaded) => {
            if (process.env['BENCH_DEBUG'] && loaded % 10_000 === 0)
              console.error(
                `${((performance.now() - restoreStarted) / 1000).toFixed(1)} s: ${loaded} loaded`,
              );
          },
        });
        const restoreSeconds = (performance.now() - restoreStarted) / 1000;
        // Every old item was replaced: the windows and the progress items cleared, the checkpoint's loaded.
        if (restored.windows !== items.length || restored.cleared !== items.length + SHARDS)
          throw new Error(`restore: ${restored.windows} loaded, ${restored.cleared} cleared`);
        await checkSample(restoreStore, items, restored.generation);
        console.log(
          `  (checkpoint ${manifest.id}: ${manifest.parts.length} parts, ${manifest.bytes} part bytes; restored generation ${restored.generation})`,
        );
        return {
          checkpoint_seconds_100k_items: round2(takeSeconds),
          checkpoint_bytes_100k_items: bytes,
          restore_seconds_100k_items: round2(restoreSeconds),
          restore_clear_seconds_100k_items: round2(restoreStore.clearSeconds),
        };
      } finally {
        op.clients.destroy();
      }
    } finally {
      clients.destroy();
      await aws.stop();
    }
  },
};

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** A Kinesis-like sequence number (56 digits), increasing with `n`. */
function kinesisSequence(shard: number, n: number): SequenceNumber {
  return sequenceNumber(`4959${String(shard).padStart(4, '0')}${String(n).padStart(48, '0')}`);
}

/** The state store `weir restore` uses, remembering how long its clear step took. */
class TimedClearStore extends DynamoDbStateStore {
  clearSeconds = 0;
  override async clearState(operator: string, generation: number): Promise<number> {
    const started = performance.now();
    try {
      return await super.clearState(operator, generation);
    } finally {
      this.clearSeconds = (performance.now() - started) / 1000;
    }
  }
}

/** Reads back every 500th item through the store: the checkpoint's content, under the new generation. */
async function checkSample(
  store: DynamoDbStateStore,
  items: readonly WindowItem[],
  generation: number,
): Promise<void> {
  const sample = items.filter((_, i) => i % 500 === 0);
  const read = await store.getWindows(
    OPERATOR,
    sample.map((i) => ({ key: i.key, start: i.start, end: i.end })),
    generation,
  );
  for (const [i, item] of sample.entries()) {
    const got = read[i];
    if (
      got === undefined ||
      sorted(got.absorbed) !== sorted(item.absorbed) ||
      got.accumulator !== item.accumulator ||
      got.purged !== item.purged
    )
      throw new Error(`restore: ${item.key}@${item.start} reads back as ${JSON.stringify(got)}`);
  }
}

/** An absorbed map as a string, independent of key order (DynamoDB returns a map's keys in its own order). */
const sorted = (m: Readonly<Record<string, string>>): string =>
  JSON.stringify(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));

/** The click counter's window items: {@link PAGES} pages x {@link WINDOWS_PER_PAGE} minutes. */
export function benchStateItems(start: number): WindowItem[] {
  const random = seededRandom(7);
  const items: WindowItem[] = [];
  for (let p = 0; p < PAGES; p++) {
    const key = `/page/${p}`;
    for (let w = 0; w < WINDOWS_PER_PAGE; w++) {
      const windowStart = start + w * MINUTE;
      const end = windowStart + MINUTE;
      const n = 1 + Math.floor(random() * 200);
      const shards = Math.min(SHARDS, 2 + Math.floor(random() * 3));
      const absorbed: Record<string, string> = {};
      for (let s = 0; s < shards; s++) {
        const shard = (p + s) % SHARDS;
        absorbed[shardId(`shardId-${String(shard).padStart(12, '0')}`)] = encodeOffset({
          sequenceNumber: kinesisSequence(shard, (w * PAGES + p) * 10 + s),
          subSequenceNumber: 0,
        });
      }
      const purged = w < WINDOWS_PER_PAGE - 2;
      const open = w === WINDOWS_PER_PAGE - 1;
      items.push({
        key,
        start: windowStart,
        end,
        accumulator: purged ? null : n,
        absorbed,
        firedVersion: open ? 0 : 1,
        pending: open,
        cleanupAt: end - 1 + ALLOWED_LATENESS,
        revision: purged ? 3 : open ? 1 : 2,
        purged,
        supersedes: [],
        outbox: null,
      });
    }
  }
  return items;
}

/** The table's items: the windows, each shard's progress and the operator watermark. */
function stateAttributes(items: readonly WindowItem[]): Record<string, AttributeValue>[] {
  const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
  const out = items.map((item) =>
    windowItemToAttributes(item, {
      operator: OPERATOR,
      buckets: 8, // DynamoDbStateStore's default dueBuckets
      tombstoneExpiresAt: expiresAt,
    }),
  );
  const lastStart = Math.max(...items.map((i) => i.start));
  for (let s = 0; s < SHARDS; s++)
    out.push(
      progressToAttributes(OPERATOR, {
        shardId: shardId(`shardId-${String(s).padStart(12, '0')}`),
        committed: encodeOffset({
          sequenceNumber: kinesisSequence(s, WINDOWS_PER_PAGE * PAGES * 10),
          subSequenceNumber: 0,
        }),
        watermark: lastStart + 30_000,
        lastActivity: Date.now(),
        closed: false,
      }),
    );
  out.push({
    pk: { S: OPERATOR },
    sk: { S: WATERMARK_SORT_KEY },
    watermark: { N: String(lastStart + 30_000) },
  });
  return out;
}

/** BatchWriteItem of 25 puts, {@link LOAD_IN_FLIGHT} in flight, unprocessed items sent again. */
async function bulkLoad(
  client: DynamoDBClient,
  table: string,
  items: readonly Record<string, AttributeValue>[],
): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += 25)
    batches.push(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
  let done = 0;
  const settled = await mapSettled(batches, LOAD_IN_FLIGHT, async (batch) => {
    let pending = batch;
    while (pending.length > 0) {
      const out = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
      );
      pending = out.UnprocessedItems?.[table] ?? [];
    }
    done += batch.length;
    if (process.env['BENCH_DEBUG'] && done % 10_000 < 25)
      console.error(`${new Date().toISOString()} loaded ${done}`);
  });
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** Bytes of the objects under a checkpoint's folder: its parts and manifest, nothing else. */
async function storedBytes(s3: S3Client, prefix: string, parts: number): Promise<number> {
  let bytes = 0;
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      bytes += o.Size ?? 0;
      names.push((o.Key ?? '').slice(prefix.length));
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  const manifest = names.filter((n) => n === 'manifest.json').length;
  if (manifest !== 1 || names.length !== parts + 1)
    throw new Error(
      `the checkpoint folder holds ${names.join(', ')}: expected ${parts} parts and the manifest`,
    );
  return bytes;
}
