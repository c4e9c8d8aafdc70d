/**
 * The click-counter example (`npm start`) end to end, in-process: CDK
 * template → local resources → producer (with malformed and late records) →
 * local ESM → handler worker process (killed mid-batch once) → DynamoDB state
 * → ticker → results table → reconciliation → recovery drill (state wiped,
 * restored, replayed; then a corrected pipeline restored). Runs on LocalStack unchanged
 * when AWS_ENDPOINT_URL is set.
 */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { main } from '../../examples/click-counter/main.ts';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('click-counter example (npm start)', () => {
  it('GIVEN a fresh AWS WHEN the demo runs with a handler kill THEN records in = applied + late + dead-lettered, every window matches a recount, and it exits 0', async () => {
    const out = capture();
    const err = capture();
    const code = await main(['--events', '1500', '--shards', '3'], {
      env: process.env,
      stdout: out.stream,
      stderr: err.stream,
      signal: new AbortController().signal,
    });
    expect(out.text()).toMatch(/1 handler process\(es\) killed mid-batch/);
    expect(out.text()).toMatch(
      // How many records are late depends on machine speed (idleness, cold starts); the invariant does not.
      /reconciliation: records in 1536 = applied \d+ \+ late \d+ \+ dead-lettered 11; \d+ windows, 0 differ from an independent recount: OK/,
    );
    // The recovery drill: state wiped, restored and replayed, results equal; then a corrected pipeline.
    expect(out.text()).toMatch(
      /drill: restored generation 1, replayed \d+ records \(25 late again\), \d+ windows re-fired as …\/g1v<n>; \d+ windows, 0 differ from the uninterrupted run: OK/,
    );
    expect(out.text()).toMatch(
      /correction: generation 2, 1536 records replayed, \d+ filtered out; \d+ windows replaced, .*\(g2v\d+\).*: OK/,
    );
    // Windows the restore had not fired again by its end are retracted; no result of an older generation is left.
    expect(out.text()).toMatch(
      /\d+ windows retracted at the restore's end \(not fired again by then\), 0 results of an older generation left: OK/,
    );
    expect(code).toBe(0);
  });

  it('GIVEN an unknown flag or a value out of range WHEN run THEN it exits 2 with the usage, before starting anything', async () => {
    for (const args of [['--nope'], ['--shards', '0'], ['--events', 'many']]) {
      const out = capture();
      const err = capture();
      const code = await main(args, {
        env: process.env,
        stdout: out.stream,
        stderr: err.stream,
        signal: new AbortController().signal,
      });
      expect(code).toBe(2);
      expect(err.text()).toMatch(/Usage: npm start/);
    }
  });
});
