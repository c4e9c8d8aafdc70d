/**
 * CPU seconds by process of a bench run (Linux /proc), for the e2e section's
 * `BENCH_DEBUG` profile: this process, and every process it started
 * (DynamoDB Local, kinesalite, the S3 emulator, handler workers), grouped by
 * what they run. Descendants that have exited are not counted.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** CPU seconds per group. */
export type CpuSample = Readonly<Record<string, number>>;

const TICKS_PER_SECOND = 100;

function stat(pid: string): { ppid: string; seconds: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state ppid ... utime(14) stime(15).
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: rest[1] ?? '',
      seconds: (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

function group(pid: string): string {
  if (pid === String(process.pid)) return 'bench';
  let cmd: string;
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'other';
  }
  if (cmd.includes('DynamoDBLocal')) return 'dynamodb';
  if (cmd.includes('kinesalite')) return 'kinesis';
  if (cmd.includes('s3rver') || cmd.includes('s3-server')) return 's3';
  if (cmd.includes('esbuild')) return 'esbuild';
  return 'workers';
}

/** CPU seconds so far of this process and its live descendants, by group. */
export function cpuSample(): CpuSample {
  const all = new Map<string, { ppid: string; seconds: number }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const s = stat(pid);
    if (s !== undefined) all.set(pid, s);
  }
  const mine = new Set([String(process.pid)]);
  let grown = true;
  while (grown) {
    grown = false;
    for (const [pid, s] of all)
      if (!mine.has(pid) && mine.has(s.ppid)) {
        mine.add(pid);
        grown = true;
      }
  }
  const out: Record<string, number> = {};
  for (const pid of mine) {
    const g = group(pid);
    out[g] = (out[g] ?? 0) + (all.get(pid)?.seconds ?? 0);
  }
  return out;
}

/** `after - before` per group, as a one-line summary. */
export function cpuDelta(before: CpuSample, after: CpuSample): string {
  return Object.keys(after)
    .sort()
    .map((g) => `${g} ${((after[g] ?? 0) - (before[g] ?? 0)).toFixed(1)} s`)
    .join(', ');
}
