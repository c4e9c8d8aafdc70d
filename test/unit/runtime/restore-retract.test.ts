/**
 * Corrections that change which windows exist (issue 9, "Corrections";
 * docs/recovery.md): an operator runs pipeline A, a checkpoint is taken, A
 * goes on firing, then `restoreOperator` restores the checkpoint with a
 * corrected pipeline B (a filter that drops records tagged `x`). The result
 * sink must end up holding exactly what a clean run of B shows:
 *
 * - windows A fired after the checkpoint that B never fires (a session
 *   whose bounds B does not produce, a tumbling window all of whose records
 *   B filters out) are retracted;
 * - a window the checkpoint holds as fired, that A then fired again (a late
 *   update) or merged away (a superseded session), fires again under the
 *   new generation, so the restored result replaces A's later one (or its
 *   superseded-session mask).
 *
 * All on the in-memory ports, time supplied by a manual clock.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryCheckpointStore } from '../../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import { CheckpointTaker } from '../../../lib/core/checkpoint/index.ts';
import { session, tumbling } from '../../../lib/core/index.ts';
import { isRetraction } from '../../../lib/model/retraction.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { restoreOperator, retractStaleResults } from '../../../lib/runtime/restore/index.ts';
import {
  OP,
  correct,
  definition,
  inMemoryPorts,
  replaySource,
  view,
  world,
  type Ev,
} from '../../helpers/restore-correction.ts';

describe('a restore with a corrected pipeline retracts what the correction no longer fires', () => {
  it('GIVEN sessions that A merged through records B filters out WHEN restored with B THEN the sink equals a clean run of B', async () => {
    const events: Ev[] = [
      { k: 'c', t: 0, v: 1 },
      { k: 'a', t: 300, v: 1 },
      { k: 'a', t: 350, v: 1 }, // watermark 350: c [0,100) fires before the checkpoint
      // checkpoint
      { k: 'c', t: 95, v: 1, x: true }, // A: merges c [0,100) into [0,195), masking it
      { k: 'a', t: 420, v: 1, x: true }, // A: a bridges to [300,520)
      { k: 'b', t: 600, v: 1 },
      { k: 'b', t: 690, v: 5, x: true }, // A: b bridges to [600,880)
      { k: 'b', t: 780, v: 1 },
      { k: 'a', t: 900, v: 1 },
      { k: 'd', t: 5000, v: 1 }, // fires everything
    ];
    const { w, summary, beforeRestore, reference } = await correct(session(100), 1000, events, 3);
    expect(beforeRestore).toEqual([
      'a [300,520) = 3',
      'a [900,1000) = 1',
      'b [600,880) = 7',
      'c [0,195) = 2',
    ]);
    expect(reference).toEqual([
      'a [300,450) = 2',
      'a [900,1000) = 1',
      'b [600,700) = 1',
      'b [780,880) = 1',
      'c [0,100) = 1',
    ]);
    expect(view(w.results.results())).toEqual(reference);
    expect(view(w.results.retractions())).toEqual([
      'a [300,520) = null',
      'b [600,880) = null',
      'c [0,195) = null',
    ]);
    expect(w.results.retractions().every((r) => isRetraction(r) && r.generation === 1)).toBe(true);
    expect(summary.windowsRetracted).toBe(3);
    // c [0,100) fired again under the new generation: above A's mask of it.
    expect(w.results.get(OP, 'c', { start: 0, end: 100 })).toMatchObject({
      generation: 1,
      version: 2,
      value: 1,
    });
  });

  it('GIVEN tumbling windows of which B filters out every record WHEN restored with B THEN they are retracted and a late update B drops is undone', async () => {
    const events: Ev[] = [
      { k: 'a', t: 10, v: 1 },
      { k: 'a', t: 150, v: 1 }, // watermark 150: a [0,100) fires 1 before the checkpoint
      // checkpoint
      { k: 'a', t: 250, v: 2, x: true }, // only x records in a [200,300)
      { k: 'b', t: 260, v: 1, x: true }, // and in b [200,300)
      { k: 'a', t: 60, v: 4, x: true }, // A: a late update, a [0,100) fires 5
      { k: 'a', t: 420, v: 1 },
      { k: 'd', t: 5000, v: 1 },
    ];
    const { w, summary, beforeRestore, reference } = await correct(tumbling(100), 1000, events, 2);
    expect(beforeRestore).toEqual([
      'a [0,100) = 5',
      'a [100,200) = 1',
      'a [200,300) = 2',
      'a [400,500) = 1',
      'b [200,300) = 1',
    ]);
    expect(reference).toEqual(['a [0,100) = 1', 'a [100,200) = 1', 'a [400,500) = 1']);
    expect(view(w.results.results())).toEqual(reference);
    expect(view(w.results.retractions())).toEqual(['a [200,300) = null', 'b [200,300) = null']);
    expect(summary.windowsRetracted).toBe(2);
  });

  it('GIVEN the same pipeline (nothing corrected) WHEN restored THEN nothing is retracted and the results are unchanged', async () => {
    const events: Ev[] = [
      { k: 'a', t: 10, v: 1 },
      { k: 'a', t: 150, v: 1 },
      { k: 'a', t: 250, v: 2 },
      { k: 'a', t: 60, v: 4 },
      { k: 'd', t: 5000, v: 1 },
    ];
    const w = world(events, inMemoryPorts());
    const d = definition(tumbling(100), false, 1000);
    await w.run(w.runtime(d), 0, 2);
    const checkpoints = new InMemoryCheckpointStore();
    const taken = await new CheckpointTaker({
      state: w.state,
      checkpoints,
      clock: w.clock,
      operator: OP,
      streamArn: w.kinesis.streamArn,
    }).take();
    if (taken.status !== 'complete') throw new Error('expected a complete checkpoint');
    await w.run(w.runtime(d), 2, events.length);
    const before = view(w.results.results());
    const summary = await restoreOperator({
      operator: OP,
      state: w.state,
      checkpoints,
      checkpoint: taken.manifest.id,
      mapping: undefined,
      resumeHint: '',
      rerun: (id) => id,
      source: () => replaySource(w.kinesis, w.shard),
      target: w.runtime(d),
      now: () => w.clock.now(),
    });
    expect(summary.windowsRetracted).toBe(0);
    expect(w.results.retractions()).toEqual([]);
    expect(view(w.results.results())).toEqual(before);
  });

  it('GIVEN a target without retract() WHEN there is something to retract THEN ConfigError says what it must have; with nothing to retract THEN 0', async () => {
    const state = inMemoryPorts().state;
    const restored = {
      generation: await state.raiseGeneration(OP),
      firedAfterCheckpoint: [{ key: 'a', start: 0, end: 100, firedVersion: 1 }],
    };
    const e: unknown = await retractStaleResults({
      operator: OP,
      state,
      restored,
      target: {},
      now: () => 0,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toMatch(/must have retract\(\) .* to retract 1 window/);
    expect(
      await retractStaleResults({
        operator: OP,
        state,
        restored: { generation: 1, firedAfterCheckpoint: [] },
        target: {},
        now: () => 0,
      }),
    ).toBe(0);
  });
});
