/**
 * The demo (`npm start`) end to end, in-process: CDK template → local
 * resources → producer → local ESM → handler worker process → DynamoDB →
 * reconciliation. Runs on LocalStack unchanged when AWS_ENDPOINT_URL is set.
 */
import { describe, expect, it } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../lib/cli/main.ts';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('weir demo', () => {
  it('GIVEN a fresh AWS WHEN the demo runs THEN every produced record is reconciled and it exits 0', async () => {
    const out = capture();
    const err = capture();
    const code = await main(['demo', '--events', '1500', '--shards', '3'], {
      env: process.env,
      stdin: Readable.from([]),
      stdout: out.stream,
      stderr: err.stream,
      cwd: process.cwd(),
      signal: new AbortController().signal,
    });
    expect(out.text()).toMatch(/reconciliation: produced 1500 = processed 1500 .*: OK/);
    expect(out.text()).toMatch(/busiest \(page, minute\) windows/);
    expect(code).toBe(0);
  });
});
