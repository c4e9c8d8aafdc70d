/**
 * `npm run bench`: runs every benchmark section and merges their figures into
 * bench/results.json (one flat object of named figures; see
 * docs/benchmarks.md). To add a section, export a {@link BenchSection}
 * (bench/section.ts) and append it to `sections`. `BENCH_ONLY=core,other`
 * runs a subset.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { coreSection } from './core.ts';
import { stateSection } from './state.ts';
import { e2eSection } from './e2e.ts';
import { checkpointSection } from './checkpoint.ts';
import type { BenchSection } from './section.ts';

const sections: BenchSection[] = [coreSection, stateSection, e2eSection, checkpointSection];

const resultsFile = new URL('./results.json', import.meta.url);
const only = process.env['BENCH_ONLY']?.split(',');

function previousResults(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}
const results = previousResults();

for (const section of sections) {
  if (only !== undefined && !only.includes(section.name)) continue;
  const started = performance.now();
  console.log(`== ${section.name}`);
  const figures = await section.run();
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(48)} ${v}`);
  Object.assign(results, figures);
  console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

const sorted = Object.fromEntries(Object.entries(results).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(resultsFile, JSON.stringify(sorted, null, 2) + '\n');
console.log(`wrote ${resultsFile.pathname}`);
