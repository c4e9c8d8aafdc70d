/**
 * Renders an {@link OperatorStatus}: a table for people, one JSON line for
 * scripts. Pure: the look's own `at` is "now", so the same status always
 * renders the same text.
 */
import type { OperatorStatus, ShardBehind, ShardStatus } from './status-model.ts';

/** The status as one line of JSON (the shape of docs/status.md). */
export function formatStatusJson(status: OperatorStatus): string {
  return JSON.stringify(status);
}

/** A duration for people: `850 ms`, `12.3 s`, `4.5 min`, `2.0 h`, `3.1 d`. */
export function formatDuration(ms: number): string {
  const a = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)} s`;
  if (a < 3_600_000) return `${sign}${(a / 60_000).toFixed(1)} min`;
  if (a < 86_400_000) return `${sign}${(a / 3_600_000).toFixed(1)} h`;
  return `${sign}${(a / 86_400_000).toFixed(1)} d`;
}

/** An event or processing time with its distance from `now`. */
function formatTime(t: number | null, now: number, suffix: string): string {
  if (t === null) return '-';
  const iso = Number.isFinite(t) ? new Date(t).toISOString() : String(t);
  return `${iso} (${formatDuration(now - t)} ${suffix})`;
}

/** The tail of a sequence number (they run to 56 digits); the JSON has it whole. */
export function shortSequence(seq: string, sub: number, width = 12): string {
  const tail = seq.length > width ? `…${seq.slice(-width)}` : seq;
  return sub === 0 ? tail : `${tail}/${sub}`;
}

function formatBehind(b: ShardBehind | null, s: ShardStatus): string {
  if (b === null) return s.error !== null ? 'unknown (see below)' : '-';
  const n = `${b.exact ? '' : '>= '}${b.records} record${b.records === 1 ? '' : 's'}`;
  return b.records === 0 ? n : `${n}, ${formatDuration(b.millis)}`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The status as a table: the operator's watermark and windows, then one row
 * per shard (state, committed position, lag, watermark, last batch), then
 * the ranges `weir redrive` applied, when there are any.
 */
export function formatStatusTable(status: OperatorStatus): string {
  const now = status.at;
  const w = status.windows;
  const lines = [
    `operator ${status.operator}   stream ${status.stream}   table ${status.table}`,
    `at        ${new Date(now).toISOString()}`,
    `watermark ${formatTime(status.watermark, now, 'behind now')}`,
    w === null
      ? 'windows   unknown (see below)'
      : `windows   ${w.open} open, ${w.pending} pending (${w.due} due), outbox ${w.outbox}` +
        (w.exact ? '' : ' (lower bounds: counting stopped at its bound)'),
    '',
    table([
      ['SHARD', 'STATE', 'COMMITTED', 'BEHIND TIP', 'WATERMARK', 'LAST BATCH'],
      ...status.shards.map((s) => [
        s.shardId + (s.registered ? '' : ' *'),
        s.state,
        s.committed === null
          ? '-'
          : shortSequence(s.committed.sequenceNumber, s.committed.subSequenceNumber),
        formatBehind(s.behind, s),
        s.watermark === null ? '-' : new Date(s.watermark).toISOString(),
        s.lastActivity === null ? '-' : `${formatDuration(now - s.lastActivity)} ago`,
      ]),
    ]),
  ];
  if (status.shards.length === 0)
    lines.push('(no shards: the stream lists none and no progress is stored)');
  if (status.shards.some((s) => !s.registered))
    lines.push('* not registered yet: no batch and no tick has seen it');
  if (status.redriven.length > 0)
    lines.push(
      '',
      'redriven ranges (weir redrive):',
      table([
        ['SOURCE', 'COMMITTED THROUGH', 'DONE', 'AT'],
        ...status.redriven.map((r) => [
          `${r.shardId} from ${shortSequence(r.startSequenceNumber, 0)}`,
          r.committed === null
            ? '-'
            : shortSequence(r.committed.sequenceNumber, r.committed.subSequenceNumber),
          r.done ? 'yes' : 'no',
          `${formatDuration(now - r.at)} ago`,
        ]),
      ]),
    );
  const problems = [
    ...status.errors,
    ...status.shards.filter((s) => s.error !== null).map((s) => `${s.shardId}: ${s.error}`),
  ];
  if (problems.length > 0) lines.push('', 'errors:', ...problems.map((p) => `  ${p}`));
  return lines.join('\n');
}
