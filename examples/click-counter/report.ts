/**
 * The example's closing report: the busiest windows, and the reconciliation
 * that makes it a proof rather than a show: records in = applied + late +
 * dead-lettered, and every window equals an independent recount of the
 * produced clicks.
 */
import type { WindowResult } from '../../lib/index.ts';
import type { Click } from './clickstream.ts';

/** What the example measured; `ok` when everything reconciles. */
export interface DemoReport {
  readonly ok: boolean;
  readonly produced: number;
  readonly applied: number;
  readonly late: number;
  readonly deadLettered: number;
  readonly windows: number;
  readonly mismatchedWindows: number;
  /** Handler processes killed mid-batch. */
  readonly kills: number;
}

/** What {@link reconcile} compares. */
export interface Observed {
  readonly clicks: readonly Click[];
  readonly late: readonly Click[];
  /** Malformed records produced. */
  readonly bad: number;
  /** The results table (highest version of each window). */
  readonly results: readonly WindowResult[];
  /** Objects in the dead-letter output. */
  readonly deadLetters: number;
  /** The clicks inside the late output's objects. */
  readonly lateOutput: readonly Click[];
  /** Kills requested, and the crashes that happened. */
  readonly kills: number;
  readonly crashes: number;
}

const MINUTE = 60_000;

/** Prints the busiest windows and the reconciliation line through `say`, and returns the report. */
export function reconcile(say: (line: string) => void, r: Observed): DemoReport {
  // The results table keeps the highest version of each window; a count's value is its records.
  const applied = r.results.reduce((n, w) => n + Number(w.value), 0);
  const produced = r.clicks.length + r.late.length + r.bad;

  // Independent recount: every produced click per (page, minute), minus the clicks the late output holds.
  const windowOf = (c: Click): string => `${c.page}|${Math.floor(c.ts / MINUTE) * MINUTE}`;
  const expected = new Map<string, number>();
  for (const c of [...r.clicks, ...r.late])
    expected.set(windowOf(c), (expected.get(windowOf(c)) ?? 0) + 1);
  for (const c of r.lateOutput) expected.set(windowOf(c), (expected.get(windowOf(c)) ?? 0) - 1);
  let mismatched = 0;
  for (const w of r.results)
    if (expected.get(`${w.key}|${w.window.start}`) !== Number(w.value)) mismatched++;
  const expectedWindows = [...expected.values()].filter((n) => n > 0).length;
  mismatched += Math.abs(expectedWindows - r.results.length);

  say('');
  say('busiest windows (results table, highest version):');
  say('  page          window start (UTC)     clicks  version');
  for (const w of [...r.results].sort((a, b) => Number(b.value) - Number(a.value)).slice(0, 8)) {
    say(
      `  ${w.key.padEnd(13)} ${new Date(w.window.start).toISOString().padEnd(22)} ${JSON.stringify(w.value).padStart(6)}  v${w.version}`,
    );
  }
  const refired = r.results.filter((w) => w.version > 1).length;
  say(`  (${refired} window(s) re-fired after late updates within the allowed lateness)`);
  say('');
  const lateCount = r.lateOutput.length;
  // The crash must really have happened for the run to prove anything about it.
  const ok =
    produced === applied + lateCount + r.deadLetters &&
    mismatched === 0 &&
    r.deadLetters === r.bad &&
    r.crashes >= r.kills;
  say(
    `reconciliation: records in ${produced} = applied ${applied} + late ${lateCount} + dead-lettered ${r.deadLetters}; ` +
      `${r.results.length} windows, ${mismatched} differ from an independent recount: ${ok ? 'OK' : 'MISMATCH'}`,
  );
  return {
    ok,
    produced,
    applied,
    late: lateCount,
    deadLettered: r.deadLetters,
    windows: r.results.length,
    mismatchedWindows: mismatched,
    kills: r.crashes,
  };
}
