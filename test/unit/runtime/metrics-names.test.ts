/**
 * The one list of weir's CloudWatch metric names that the construct (alarms,
 * dashboard, metricXxx) and the runtime (EMF lines) both read.
 */
import { describe, expect, it } from 'vitest';
import {
  WEIR_METRICS_NAMESPACE,
  WeirMetric,
  WeirMetricDimension,
} from '../../../lib/runtime/metrics-names.ts';
import type { CheckpointRun } from '../../../lib/core/checkpoint/take-checkpoint.ts';
import { newCheckpointId } from '../../../lib/model/checkpoint-id.ts';
import { checkpointFigures } from '../../../lib/runtime/lambda/checkpointer.ts';

describe('weir metric names', () => {
  it('GIVEN the list WHEN read THEN every entry is named as its key, in namespace Weir, with the Operator dimension', () => {
    expect(WEIR_METRICS_NAMESPACE).toBe('Weir');
    for (const [key, m] of Object.entries(WeirMetric)) {
      expect(m.name).toBe(key);
      expect(m.dimensionSets[0]).toEqual([WeirMetricDimension.OPERATOR]);
    }
  });

  it('GIVEN the list WHEN read THEN dead letters are also split by Reason and only the lags are maxima in ms', () => {
    expect(WeirMetric.RecordsDeadLettered.dimensionSets).toEqual([
      ['Operator'],
      ['Operator', 'Reason'],
    ]);
    const maxima = Object.values(WeirMetric).filter((m) => m.statistic === 'Maximum');
    expect(maxima.map((m) => [m.name, m.unit])).toEqual([
      ['WatermarkLagMs', 'Milliseconds'],
      ['CheckpointAgeMs', 'Milliseconds'],
    ]);
  });

  it('GIVEN checkpoint function calls WHEN turned into figures THEN a completed one counts 1 with age from its id, otherwise 0 with the age of the previous one (none before the first)', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    const id = newCheckpointId(now - 90_000, () => 0.5);
    const complete = { status: 'complete' } as CheckpointRun;
    const pending = { status: 'in-progress' } as CheckpointRun;
    expect(checkpointFigures({ action: 'took', id, run: complete }, now)).toEqual({
      CheckpointsCompleted: 1,
      CheckpointAgeMs: 90_000,
    });
    expect(
      checkpointFigures({ action: 'took', id, run: pending, previousAt: now - 3_600_000 }, now),
    ).toEqual({ CheckpointsCompleted: 0, CheckpointAgeMs: 3_600_000 });
    expect(checkpointFigures({ action: 'not-due', previousAt: now - 60_000 }, now)).toEqual({
      CheckpointsCompleted: 0,
      CheckpointAgeMs: 60_000,
    });
    expect(checkpointFigures({ action: 'not-due' }, now)).toEqual({ CheckpointsCompleted: 0 });
  });
});
