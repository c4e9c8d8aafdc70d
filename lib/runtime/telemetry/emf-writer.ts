/**
 * Writes an invocation's {@link MetricFigures} as CloudWatch embedded metric
 * format (EMF) lines, serialized by Powertools for AWS Lambda's `Metrics`:
 * one line with every metric under `Operator`, then one line per
 * dead-letter reason with `RecordsDeadLettered` under `Operator` + `Reason`
 * (a separate document: the total is counted once, under `Operator` alone).
 * In Lambda the lines go to stdout and CloudWatch Logs extracts the metrics;
 * no AWS call, no permission.
 *
 *   {"_aws":{"Timestamp":…,"CloudWatchMetrics":[{"Namespace":"Weir","Dimensions":[["Operator"]],
 *     "Metrics":[{"Name":"RecordsIn","Unit":"Count"},…]}]},"Operator":"click-counter","RecordsIn":42,…}
 *   {"_aws":{…"Dimensions":[["Operator","Reason"]],"Metrics":[{"Name":"RecordsDeadLettered",…}]},
 *     "Operator":"click-counter","Reason":"decode-failed","RecordsDeadLettered":3}
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  WEIR_METRICS_NAMESPACE,
  WeirMetric,
  WeirMetricDimension,
  type WeirMetricName,
} from '../metrics-names.ts';
import type { MetricFigures } from './invocation-figures.ts';

/** Options of {@link EmfMetricsWriter}. */
export interface EmfMetricsWriterOptions {
  /** The operator (pipeline) name: the `Operator` dimension. */
  readonly operator: string;
  /** Processing time of a flush (the documents' `Timestamp`). */
  readonly now: () => number;
  /** Where each EMF line goes. @default process.stdout (CloudWatch Logs in Lambda) */
  readonly output?: (line: string) => void;
}

/**
 * Serializes figures to EMF lines.
 *
 * @example
 * const writer = new EmfMetricsWriter({ operator: 'click-counter', now: () => Date.now() });
 * writer.write(figures.take()); // once per invocation
 */
export class EmfMetricsWriter {
  readonly #operator: string;
  readonly #now: () => number;
  readonly #output: (line: string) => void;
  readonly #metrics: Metrics;

  constructor(options: EmfMetricsWriterOptions) {
    this.#operator = options.operator;
    this.#now = options.now;
    this.#output = options.output ?? ((line) => process.stdout.write(`${line}\n`));
    this.#metrics = new Metrics({ namespace: WEIR_METRICS_NAMESPACE });
    // Powertools adds a `service` default dimension; weir's metrics are read by `Operator` alone.
    this.#metrics.clearDefaultDimensions();
    this.#metrics.setDefaultDimensions({ [WeirMetricDimension.OPERATOR]: this.#operator });
  }

  /** The EMF lines of `figures` (nothing when there is no figure). */
  lines(figures: MetricFigures): string[] {
    const m = this.#metrics;
    const timestamp = this.#now();
    const out: string[] = [];
    const entries = Object.entries(figures.values) as [WeirMetricName, number][];
    if (entries.length > 0) {
      for (const [name, value] of entries) m.addMetric(name, unitOf(name), value);
      out.push(this.#serialize(timestamp));
    }
    for (const [reason, value] of Object.entries(figures.deadLettersByReason)) {
      if (value === 0) continue;
      m.addDimension(WeirMetricDimension.REASON, reason);
      m.addMetric(WeirMetric.RecordsDeadLettered.name, unitOf('RecordsDeadLettered'), value);
      out.push(this.#serialize(timestamp));
    }
    return out;
  }

  /** Writes the EMF lines of `figures` to the output. */
  write(figures: MetricFigures): void {
    for (const line of this.lines(figures)) this.#output(line);
  }

  #serialize(timestamp: number): string {
    const m = this.#metrics;
    try {
      m.setTimestamp(timestamp);
      return JSON.stringify(m.serializeMetrics());
    } finally {
      m.clearMetrics();
      m.clearDimensions();
    }
  }
}

function unitOf(name: WeirMetricName): (typeof MetricUnit)['Count' | 'Milliseconds'] {
  return WeirMetric[name].unit === 'Milliseconds' ? MetricUnit.Milliseconds : MetricUnit.Count;
}
