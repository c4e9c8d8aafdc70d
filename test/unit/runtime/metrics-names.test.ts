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

describe('weir metric names', () => {
  it('GIVEN the list WHEN read THEN every entry is named as its key, in namespace Weir, with the Operator dimension', () => {
    expect(WEIR_METRICS_NAMESPACE).toBe('Weir');
    for (const [key, m] of Object.entries(WeirMetric)) {
      expect(m.name).toBe(key);
      expect(m.dimensionSets[0]).toEqual([WeirMetricDimension.OPERATOR]);
    }
  });

  it('GIVEN the list WHEN read THEN dead letters are also split by Reason and only the lag is a maximum in ms', () => {
    expect(WeirMetric.RecordsDeadLettered.dimensionSets).toEqual([
      ['Operator'],
      ['Operator', 'Reason'],
    ]);
    const maxima = Object.values(WeirMetric).filter((m) => m.statistic === 'Maximum');
    expect(maxima.map((m) => [m.name, m.unit])).toEqual([['WatermarkLagMs', 'Milliseconds']]);
  });
});
