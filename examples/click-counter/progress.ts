/** The example's progress bar while producing: a bar on a TTY, periodic plain lines elsewhere (CI logs). */
import type { Writable } from 'node:stream';

/** Reports `done` of `total`; call `end()` once. */
export interface Progress {
  update(done: number): void;
  end(): void;
}

/** Creates a progress reporter writing to `out`. */
export function progressBar(
  out: Writable & { isTTY?: boolean },
  label: string,
  total: number,
): Progress {
  const tty = out.isTTY === true;
  let lastPct = -1;
  const render = (done: number): string => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} (${pct}%)`;
  };
  return {
    update(done) {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (tty) out.write(`\r${render(done)}`);
      else if (pct >= lastPct + 25 || (pct === 100 && lastPct !== 100)) {
        out.write(render(done) + '\n');
        lastPct = pct;
      }
    },
    end() {
      if (tty) out.write('\n');
    },
  };
}
