/**
 * Malformed inputs the example and the bad-input tests send: each must end in
 * the dead-letter output with a reason, and none may block its shard.
 */
import { aggregate } from '../../lib/index.ts';

/** One kind of malformed record, with the bytes to put on the stream. */
export interface BadRecord {
  readonly kind: string;
  readonly data: Uint8Array;
  readonly partitionKey: string;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Malformed records that can travel through Kinesis (a Kinesis record is
 * bytes, so "bad base64" can only occur in a hand-built Lambda event; the
 * runtime tests cover that one separately).
 */
export function badRecords(now: number): BadRecord[] {
  const brokenKpl = aggregate([
    { data: enc(JSON.stringify({ page: '/kpl', user: 'u', ts: now })), partitionKey: 'kpl-a' },
    { data: enc(JSON.stringify({ page: '/kpl', user: 'u', ts: now })), partitionKey: 'kpl-b' },
  ]);
  const corrupted = new Uint8Array(brokenKpl.data);
  corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] ?? 0) ^ 0xff; // MD5 trailer no longer matches
  return [
    { kind: 'not JSON', data: enc('this is not json'), partitionKey: 'bad-1' },
    { kind: 'truncated JSON', data: enc('{"page":"/a","ts":'), partitionKey: 'bad-2' },
    {
      kind: 'invalid UTF-8',
      data: new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
      partitionKey: 'bad-3',
    },
    {
      kind: 'missing timestamp',
      data: enc(JSON.stringify({ page: '/a', user: 'u' })),
      partitionKey: 'bad-4',
    },
    {
      kind: 'timestamp of the wrong type',
      data: enc(JSON.stringify({ page: '/a', user: 'u', ts: 'yesterday' })),
      partitionKey: 'bad-5',
    },
    {
      kind: 'absurd timestamp',
      data: enc(JSON.stringify({ page: '/a', user: 'u', ts: 1e300 })),
      partitionKey: 'bad-6',
    },
    {
      kind: 'missing key field',
      data: enc(JSON.stringify({ user: 'u', ts: now })),
      partitionKey: 'bad-7',
    },
    {
      kind: 'key of the wrong type',
      data: enc(JSON.stringify({ page: { nested: true }, user: 'u', ts: now })),
      partitionKey: 'bad-8',
    },
    {
      kind: 'oversized key (900 KB value)',
      data: enc(JSON.stringify({ page: 'x'.repeat(900_000), user: 'u', ts: now })),
      partitionKey: 'bad-9',
    },
    { kind: 'broken KPL aggregate (bad MD5)', data: corrupted, partitionKey: 'bad-10' },
    { kind: 'JSON null', data: enc('null'), partitionKey: 'bad-11' },
  ];
}
