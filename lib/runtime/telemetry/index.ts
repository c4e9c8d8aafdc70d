/**
 * weir's telemetry: the runtime's reports as metrics (CloudWatch embedded
 * metric format through Powertools `Metrics`), its log lines through
 * Powertools `Logger`, and a collector that reads EMF lines back. Metric
 * names: ../metrics-names.ts. What each metric means: docs/operations.md.
 */
export {
  deadLetterMetricReason,
  deadLettersByReason,
  type RuntimeTelemetry,
} from './runtime-telemetry.ts';
export {
  COUNTS_OF,
  InvocationFigures,
  type MetricFigures,
  type WeirFunctionRole,
} from './invocation-figures.ts';
export {
  countStateWrites,
  type CountedStateStore,
  type StateWriteCounts,
} from './state-write-counter.ts';
export { EmfMetricsWriter, type EmfMetricsWriterOptions } from './emf-writer.ts';
export {
  EmfCollector,
  emfData,
  parseEmfLine,
  type EmfDatum,
  type EmfDimensions,
  type EmfDirective,
  type EmfDocument,
} from './emf-collector.ts';
export { WeirLogFormatter, operatorLogger, runtimeLogOf } from './lambda-log.ts';
