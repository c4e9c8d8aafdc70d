/**
 * Building a sink's report, for the sink adapters (and for sinks users
 * write themselves).
 */
import { SinkOutcome, type SinkItemReport, type SinkWriteReport } from '../ports/sink.ts';

/** Builds a {@link SinkWriteReport} from per-item outcomes (sorted by index). */
export function sinkWriteReport(items: readonly SinkItemReport[]): SinkWriteReport {
  const sorted = [...items].sort((a, b) => a.index - b.index);
  let written = 0;
  let alreadyPresent = 0;
  let superseded = 0;
  for (const i of sorted) {
    if (i.outcome === SinkOutcome.Written) written += 1;
    else if (i.outcome === SinkOutcome.AlreadyPresent) alreadyPresent += 1;
    else superseded += 1;
  }
  return { items: sorted, written, alreadyPresent, superseded };
}
