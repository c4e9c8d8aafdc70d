/**
 * Reads EMF lines back: the local runner keeps every EMF document its
 * handlers write (worker stdout, in-process handlers) so that tests and
 * tools can ask what a run measured, as CloudWatch would aggregate it.
 *
 *   worker stdout / metrics output ──line──► EmfCollector.collect ──► documents()
 *                                                                     sum('RecordsIn')
 *                                                                     sum('RecordsDeadLettered', { Reason: 'decode-failed' })
 */
import { WEIR_METRICS_NAMESPACE, type WeirMetricName } from '../metrics-names.ts';

/** One metric directive of an EMF document. */
export interface EmfDirective {
  readonly Namespace: string;
  readonly Dimensions: readonly (readonly string[])[];
  readonly Metrics: readonly { readonly Name: string; readonly Unit?: string }[];
}

/** One parsed EMF document: its directives, timestamp and root members (dimension values and metric values). */
export interface EmfDocument {
  readonly timestamp: number;
  readonly directives: readonly EmfDirective[];
  readonly members: Readonly<Record<string, unknown>>;
}

/**
 * Parses one log line as an EMF document; `undefined` for any other line
 * (plain logs, JSON without `_aws.CloudWatchMetrics`).
 *
 * @example
 * parseEmfLine('{"level":"INFO","msg":"batch"}'); // undefined
 */
export function parseEmfLine(line: string): EmfDocument | undefined {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { _aws: aws, ...members } = parsed as Record<string, unknown>;
  if (typeof aws !== 'object' || aws === null) return undefined;
  const { Timestamp, CloudWatchMetrics } = aws as Record<string, unknown>;
  if (typeof Timestamp !== 'number' || !Array.isArray(CloudWatchMetrics)) return undefined;
  return { timestamp: Timestamp, directives: CloudWatchMetrics as EmfDirective[], members };
}

/**
 * One CloudWatch datapoint set of a document: a metric under one dimension
 * set, with the values (an EMF member may be a number or a list).
 */
export interface EmfDatum {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string | undefined;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
}

/** The datapoints of a document, one per (directive, dimension set, metric), as CloudWatch extracts them. */
export function emfData(doc: EmfDocument): EmfDatum[] {
  const out: EmfDatum[] = [];
  for (const d of doc.directives) {
    for (const set of d.Dimensions) {
      const dimensions: Record<string, string> = {};
      for (const name of set) dimensions[name] = String(doc.members[name]);
      for (const m of d.Metrics) {
        const raw = doc.members[m.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter(
          (v): v is number => typeof v === 'number',
        );
        out.push({ namespace: d.Namespace, name: m.Name, unit: m.Unit, dimensions, values });
      }
    }
  }
  return out;
}

/** Which datapoints a query reads: exactly this dimension set (as a CloudWatch metric does). */
export type EmfDimensions = Readonly<Record<string, string>>;

/**
 * Keeps the EMF documents of the lines it is given, and answers as a
 * CloudWatch metric would over them (namespace `Weir` by default).
 *
 * @example
 * const emf = new EmfCollector();
 * // new LocalMappingRunner({ ... }) collects its workers' lines into runner.metrics
 * emf.sum('RecordsIn', { Operator: 'click-counter' });
 */
export class EmfCollector {
  readonly #docs: EmfDocument[] = [];

  /** Keeps `line` if it is an EMF document; returns whether it was. Bound: pass it as a callback. */
  readonly collect = (line: string): boolean => {
    const doc = parseEmfLine(line);
    if (doc !== undefined) this.#docs.push(doc);
    return doc !== undefined;
  };

  /** Every document kept, in arrival order. */
  documents(): readonly EmfDocument[] {
    return [...this.#docs];
  }

  /** Every datapoint of `name` under exactly `dimensions` (CloudWatch treats each dimension set as its own metric). */
  values(
    name: WeirMetricName,
    dimensions: EmfDimensions,
    namespace = WEIR_METRICS_NAMESPACE,
  ): number[] {
    const wanted = Object.entries(dimensions);
    const out: number[] = [];
    for (const doc of this.#docs) {
      for (const d of emfData(doc)) {
        if (d.namespace !== namespace || d.name !== name) continue;
        const keys = Object.keys(d.dimensions);
        if (keys.length !== wanted.length) continue;
        if (wanted.every(([k, v]) => d.dimensions[k] === v)) out.push(...d.values);
      }
    }
    return out;
  }

  /** The `Sum` statistic of `name` under `dimensions` over every document (0 when none). */
  sum(name: WeirMetricName, dimensions: EmfDimensions): number {
    return this.values(name, dimensions).reduce((a, b) => a + b, 0);
  }

  /** The `Maximum` statistic, or undefined without a datapoint. */
  max(name: WeirMetricName, dimensions: EmfDimensions): number | undefined {
    const v = this.values(name, dimensions);
    return v.length === 0 ? undefined : Math.max(...v);
  }

  /** The `Reason` values `RecordsDeadLettered` was written with, summed per reason. */
  deadLettersByReason(operator: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const doc of this.#docs) {
      for (const d of emfData(doc)) {
        if (d.name !== 'RecordsDeadLettered' || d.dimensions['Operator'] !== operator) continue;
        const reason = d.dimensions['Reason'];
        if (reason === undefined || Object.keys(d.dimensions).length !== 2) continue;
        out[reason] = (out[reason] ?? 0) + d.values.reduce((a, b) => a + b, 0);
      }
    }
    return out;
  }

  /** Forgets every document. */
  clear(): void {
    this.#docs.length = 0;
  }
}
