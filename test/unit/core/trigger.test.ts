/**
 * The trigger's decision as a value: who fires at the end of a batch
 * (docs/semantics.md, "Who fires"). firing.test.ts pins the same three
 * conditions through the operator.
 */
import { describe, expect, it } from 'vitest';
import { FiringReason, TriggerResult, onBatchEnd, onTick } from '../../../lib/core/index.ts';

const end = {
  read: 100,
  candidate: 100,
  watermark: 100,
  retry: false,
  lowestWrittenEnd: Infinity,
};

describe('trigger', () => {
  it('GIVEN a batch that raised the watermark THEN it fires and purges at the new watermark', () => {
    expect(onBatchEnd({ ...end, candidate: 150, watermark: 150 })).toEqual({
      result: TriggerResult.FIRE_AND_PURGE,
      watermark: 150,
      reason: FiringReason.RAISED_WATERMARK,
    });
  });

  it('GIVEN another shard stored a higher watermark than this batch proposed THEN it did not raise it', () => {
    expect(onBatchEnd({ ...end, candidate: 120, watermark: 150 })).toEqual({
      result: TriggerResult.CONTINUE,
    });
  });

  it('GIVEN a retry THEN it fires (the attempt that raised the watermark may have died)', () => {
    expect(onBatchEnd({ ...end, retry: true })).toMatchObject({ reason: FiringReason.RETRY });
  });

  it('GIVEN a batch that wrote a window now due THEN it fires; one not yet due, it continues', () => {
    expect(onBatchEnd({ ...end, lowestWrittenEnd: 101 })).toMatchObject({
      reason: FiringReason.WROTE_DUE_WINDOW,
    });
    expect(onBatchEnd({ ...end, lowestWrittenEnd: 102 }).result).toBe(TriggerResult.CONTINUE);
  });

  it('GIVEN no watermark yet THEN nothing fires, even on a tick', () => {
    expect(onBatchEnd({ ...end, read: -Infinity, watermark: -Infinity, retry: true })).toEqual({
      result: TriggerResult.CONTINUE,
    });
    expect(onTick(-Infinity).result).toBe(TriggerResult.CONTINUE);
    expect(onTick(5)).toEqual({
      result: TriggerResult.FIRE_AND_PURGE,
      watermark: 5,
      reason: FiringReason.TICK,
    });
  });
});
