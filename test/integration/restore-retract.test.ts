/**
 * Corrections that change which windows exist, on the embedded AWS: the
 * state in DynamoDB Local (`DynamoDbStateStore`, the demo template's state
 * table) and the results in a DynamoDB results table (`DynamoDbResultSink`).
 * Pipeline A runs, a checkpoint is taken, A goes on, then `restoreOperator`
 * restores with pipeline B (a filter dropping tagged records): the results
 * table must show exactly what a clean run of B shows, the stale windows
 * held as retraction items (docs/recovery.md "Corrections", docs/sinks.md
 * "Retractions"). The same scenarios run in memory in
 * test/unit/runtime/restore-retract.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoDbResultSink,
  fromResultItem,
  isRetractedItem,
} from '../../lib/adapters/dynamodb/dynamodb-result-sink.ts';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { session, tumbling } from '../../lib/core/index.ts';
import type { WindowResult } from '../../lib/model/records.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/index.ts';
import { readWindowResults } from '../../lib/runtime/local/read-outputs.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { correctOn, view, type CorrectionPorts, type Ev } from '../helpers/restore-correction.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

const byWindow = (a: WindowResult, b: WindowResult): number =>
  (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
  a.window.start - b.window.start ||
  a.window.end - b.window.end;

/** A fresh state table and results table from the demo's template. */
async function dynamoPorts(): Promise<CorrectionPorts & { retractions(): Promise<string[]> }> {
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), fx.clients.dynamodb, {
    stackName: uniqueName('Retract'),
  });
  const state = tables.find((t) => t.globalSecondaryIndexes.includes('due'));
  const results = tables.find((t) => t !== state);
  if (state === undefined || results === undefined)
    throw new Error('the demo template has no state or results table');
  return {
    state: new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName: state.name }),
    results: new DynamoDbResultSink({ client: fx.clients.dynamodb, tableName: results.name }),
    visible: async () =>
      (await readWindowResults(fx.clients.dynamodb, results.name)).sort(byWindow),
    retractions: async () => {
      const page = await fx.clients.dynamodb.send(
        new ScanCommand({ TableName: results.name, ConsistentRead: true }),
      );
      return view(
        (page.Items ?? []).filter(isRetractedItem).map(fromResultItem).sort(byWindow),
      ).map((line) => line.replace(' = null', ' retracted'));
    },
  };
}

describe('a restore with a corrected pipeline on DynamoDB retracts what the correction no longer fires', () => {
  it('GIVEN sessions that A merged through records B filters out WHEN restored with B THEN the results table equals a clean run of B', async () => {
    const events: Ev[] = [
      { k: 'c', t: 0, v: 1 },
      { k: 'a', t: 300, v: 1 },
      { k: 'a', t: 350, v: 1 }, // c [0,100) fires before the checkpoint
      { k: 'c', t: 95, v: 1, x: true }, // A: merges c [0,100) into [0,195), masking it
      { k: 'a', t: 420, v: 1, x: true }, // A: a bridges to [300,520)
      { k: 'b', t: 600, v: 1 },
      { k: 'b', t: 690, v: 5, x: true }, // A: b bridges to [600,880)
      { k: 'b', t: 780, v: 1 },
      { k: 'a', t: 900, v: 1 },
      { k: 'd', t: 5000, v: 1 },
    ];
    const { w, summary, beforeRestore, reference } = await correctOn(
      dynamoPorts,
      session(100),
      1000,
      events,
      3,
    );
    expect(beforeRestore).toEqual([
      'a [300,520) = 3',
      'a [900,1000) = 1',
      'b [600,880) = 7',
      'c [0,195) = 2',
    ]);
    expect(view(await w.ports.visible())).toEqual(reference);
    expect(await w.ports.retractions()).toEqual([
      'a [300,520) retracted',
      'b [600,880) retracted',
      'c [0,195) retracted',
    ]);
    expect(summary.windowsRetracted).toBe(3);
  }, 120_000);

  it('GIVEN tumbling windows of which B filters out every record WHEN restored with B THEN they are retracted and a late update B drops is undone', async () => {
    const events: Ev[] = [
      { k: 'a', t: 10, v: 1 },
      { k: 'a', t: 150, v: 1 }, // a [0,100) fires 1 before the checkpoint
      { k: 'a', t: 250, v: 2, x: true },
      { k: 'b', t: 260, v: 1, x: true },
      { k: 'a', t: 60, v: 4, x: true }, // A: a late update, a [0,100) fires 5
      { k: 'a', t: 420, v: 1 },
      { k: 'd', t: 5000, v: 1 },
    ];
    const { w, summary, reference } = await correctOn(dynamoPorts, tumbling(100), 1000, events, 2);
    expect(reference).toEqual(['a [0,100) = 1', 'a [100,200) = 1', 'a [400,500) = 1']);
    expect(view(await w.ports.visible())).toEqual(reference);
    expect(await w.ports.retractions()).toEqual(['a [200,300) retracted', 'b [200,300) retracted']);
    expect(summary.windowsRetracted).toBe(2);
  }, 120_000);
});
