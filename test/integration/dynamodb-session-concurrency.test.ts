/**
 * Sessions of one key written by concurrent batches of two shards, against
 * DynamoDbStateStore on the embedded AWS: both batches read the key's
 * sessions, then both write. The session head (a transaction with the
 * session writes) lets only one create its session; the other re-reads and
 * merges into it (docs/semantics.md, "Sessions under concurrent shards").
 * The same scenario on InMemoryStateStore: test/unit/core/session-concurrency.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { json, pipeline, session, sum } from '../../lib/core/index.ts';
import type { WindowWrite } from '../../lib/ports/state-store.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { WindowOperatorHarness } from '../../lib/testing/index.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();
let tableName = '';

beforeAll(async () => {
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), fx.clients.dynamodb, {
    stackName: uniqueName('SessionHeads'),
  });
  const state = tables.find((t) => t.globalSecondaryIndexes.includes('due'));
  if (state === undefined) throw new Error('the demo template has no state table');
  tableName = state.name;
});

/** Once armed for `n`, holds the next `n` writes until all `n` arrived. */
class BarrierStore extends DynamoDbStateStore {
  private waiting: (() => void)[] = [];
  private armed = 0;
  /** Groups that lost a race (a condition failed). */
  lost = 0;

  arm(n: number): void {
    this.armed = n;
    this.waiting = [];
  }

  override async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    if (this.armed > 0) {
      this.armed--;
      const arrived = new Promise<void>((resolve) => this.waiting.push(resolve));
      if (this.armed === 0) for (const release of this.waiting) release();
      await arrived;
    }
    const ok = await super.write(operator, groups, generation);
    this.lost += ok.filter((x) => !x).length;
    return ok;
  }
}

interface Ev {
  k: string;
  t: number;
}

describe('DynamoDbStateStore: sessions of one key from concurrent shards', () => {
  it('GIVEN two shards opening overlapping sessions of one key against the same read WHEN both write THEN one session holds both records and fires once', async () => {
    const store = new BarrierStore({ client: fx.clients.dynamodb, tableName });
    const op = `sess${Math.random().toString(36).slice(2, 8)}`;
    const d = pipeline(op)
      .decode(json<Ev>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t)
      .window(session(10))
      .aggregate(sum(() => 1));
    const h = new WindowOperatorHarness(d, { startTime: 0, store });
    store.arm(2);
    await Promise.all([h.send(0, [{ k: 'a', t: 0 }]), h.send(1, [{ k: 'a', t: 5 }])]);
    expect(store.lost).toBe(1);
    const items = (await store.listKeyWindows(op, ['a'], 0)).get('a') ?? [];
    expect(items.map((i) => [i.start, i.end, i.accumulator])).toEqual([[0, 15, 2]]);
    expect(await store.readSessionHeads(op, ['a'], 0)).toEqual([2]);
    await h.send(0, [{ k: 'z', t: 100 }]);
    await h.send(1, [{ k: 'z', t: 100 }]);
    expect(h.results.map((r) => `${r.key}[${r.window.start},${r.window.end})=${r.value}`)).toEqual([
      'a[0,15)=2',
    ]);
  });
});
