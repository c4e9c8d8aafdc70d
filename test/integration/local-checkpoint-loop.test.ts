/**
 * The local runner's checkpoints on the embedded AWS: the checkpoint function
 * of the synthesized demo template (`resources.checkpointers`), called in
 * process by a CheckpointLoop with its template configuration: the first
 * call takes a checkpoint of the state table into the template's bucket, the
 * next ones find it not due (the interval is the template's hour).
 */
import { describe, expect, it } from 'vitest';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { listCheckpoints } from '../../lib/core/checkpoint/index.ts';
import type { ScheduledCheckpointReport } from '../../lib/runtime/checkpoint/index.ts';
import { CheckpointLoop, localCheckpointer } from '../../lib/runtime/local/checkpoint-loop.ts';
import { provisionFromTemplate } from '../../lib/runtime/local/provision.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

describe('CheckpointLoop (embedded AWS, demo template)', () => {
  it('GIVEN the demo template WHEN the loop runs THEN the first call takes a checkpoint and the next find it not due', async () => {
    const stackName = uniqueName('LocalCkpt').replace(/-/g, '');
    // The embedded tier has no SQS: the on-failure destination is the S3 bucket.
    const template = await loadDemoTemplate({
      stackName,
      streamName: uniqueName('lc'),
      onFailure: 's3',
    });
    const resources = await provisionFromTemplate(template, fx.clients, { stackName });
    const def = resources.checkpointers[0]!;
    expect(resources.checkpointers).toHaveLength(1);
    expect(resources.tickers).toHaveLength(1);
    const state = new DynamoDbStateStore({
      client: fx.clients.dynamodb,
      tableName: def.environment['WEIR_STATE_TABLE']!,
    });
    await state.write(
      clickCounter.name,
      Array.from({ length: 20 }, (_, i) => [
        {
          kind: 'put' as const,
          expectedRevision: null,
          item: {
            key: `/p/${i}`,
            start: 0,
            end: 60_000,
            accumulator: i,
            absorbed: {},
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
    const cp = localCheckpointer(clickCounter, def, { env: fx.aws.env(), log: () => undefined });
    const reports: ScheduledCheckpointReport[] = [];
    let enough: () => void = () => undefined;
    const threeCalls = new Promise<void>((r) => (enough = r));
    const loop = new CheckpointLoop(() => cp.checkpointer(), {
      intervalMs: 20,
      onReport: (r) => {
        reports.push(r);
        if (reports.length === 3) enough();
      },
      onError: (e) => {
        throw e;
      },
    });
    loop.start();
    await threeCalls;
    await loop.stop();
    cp.clients.destroy();
    expect(reports[0]).toMatchObject({ action: 'took', run: { status: 'complete' } });
    expect(reports.slice(1, 3).map((r) => r.action)).toEqual(['not-due', 'not-due']);
    const listed = await listCheckpoints(cp.checkpoints, clickCounter.name);
    expect(listed.map((c) => [c.id, c.status, c.items])).toEqual([
      [reports[0]!.id, 'complete', 20],
    ]);
  }, 120_000);
});
