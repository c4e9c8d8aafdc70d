import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NdjsonLineError, readNdjson, type NdjsonLine } from '../../../lib/kinesis/index.ts';
import { RecordDecodeError } from '../../../lib/index.ts';

async function collect(
  chunks: readonly (string | Uint8Array)[],
  options?: Parameters<typeof readNdjson>[1],
): Promise<NdjsonLine[]> {
  const out: NdjsonLine[] = [];
  for await (const l of readNdjson(Readable.from(chunks, { objectMode: true }), options))
    out.push(l);
  return out;
}

describe('readNdjson', () => {
  it('yields values with 1-based line numbers, skipping blank lines, across chunk borders', async () => {
    const out = await collect(['{"a":1}\n\n  \n{"b"', ':2}\r\n[3]', '\n"last"']);
    expect(out).toEqual([
      { value: { a: 1 }, line: 1, text: '{"a":1}' },
      { value: { b: 2 }, line: 4, text: '{"b":2}' },
      { value: [3], line: 5, text: '[3]' },
      { value: 'last', line: 6, text: '"last"' },
    ]);
  });

  it('keeps a multi-byte character split across chunks intact and strips a leading BOM', async () => {
    const bytes = Buffer.from('\uFEFF{"k":"é😀"}\n{"k":"ü"}\n');
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b)); // one byte per chunk
    const out = await collect(chunks);
    expect(out.map((l) => l.value)).toEqual([{ k: 'é😀' }, { k: 'ü' }]);
  });

  it('stops at a bad line with its number and a preview', async () => {
    const err = await collect(['{"ok":1}\n{"ok":2}\n{nope}\n{"ok":4}\n']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NdjsonLineError);
    expect(err).toBeInstanceOf(RecordDecodeError);
    expect((err as NdjsonLineError).line).toBe(3);
    expect((err as Error).message).toMatch(/^line 3: is not valid JSON: .*\{nope\}/);
  });

  it('skips and reports bad lines when asked', async () => {
    const bad: NdjsonLineError[] = [];
    const out = await collect(['1\n{\n3\n', Uint8Array.of(0xff, 0xfe, 0x0a), '5\n'], {
      skipInvalid: true,
      onInvalid: (e) => bad.push(e),
    });
    expect(out.map((l) => [l.line, l.value])).toEqual([
      [1, 1],
      [3, 3],
      [5, 5],
    ]);
    expect(bad.map((e) => [e.line, e.reason.split(':')[0]])).toEqual([
      [2, 'is not valid JSON'],
      [4, 'is not valid UTF-8'],
    ]);
  });

  it('refuses a line longer than maxLineBytes, even when it never ends', async () => {
    const err = await collect(['1\n', 'x'.repeat(40), 'y'.repeat(40), '\n2\n'], {
      maxLineBytes: 64,
    }).catch((e: unknown) => e);
    expect((err as NdjsonLineError).message).toBe('line 2: is longer than 64 bytes');
    const skipped: number[] = [];
    const out = await collect(['1\n', 'x'.repeat(40), 'y'.repeat(40), '\n2\n', 'z'.repeat(100)], {
      maxLineBytes: 64,
      skipInvalid: true,
      onInvalid: (e) => skipped.push(e.line),
    });
    expect(out.map((l) => l.value)).toEqual([1, 2]);
    expect(skipped).toEqual([2, 4]);
  });
});
