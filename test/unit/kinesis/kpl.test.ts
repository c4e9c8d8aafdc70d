import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { aggregate, deaggregate, KplDecodeError, RecordDecodeError } from '../../../lib/index.ts';
import {
  KplAggregateBuilder,
  KPL_MAGIC,
  type KplUserRecordInput,
  type DeaggregatedRecord,
} from '../../../lib/kinesis/index.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const SEQ = '49590338271490256608559692538361571095921575989136588898';

/** magic + protobuf + MD5 (the MD5s below were computed independently, with Python's hashlib). */
function frame(pbHex: string, md5Hex?: string): Uint8Array {
  const pb = hex(pbHex);
  const md5 = md5Hex === undefined ? createHash('md5').update(pb).digest() : hex(md5Hex);
  return Uint8Array.from([...KPL_MAGIC, ...pb, ...md5]);
}

// Two user records, partition keys "a" and "b", data "x" and "yz", written by
// hand from aggregation-format.md:
//   0A 01 61              partition_key_table[0] = "a"
//   0A 01 62              partition_key_table[1] = "b"
//   1A 05 08 00 1A 01 78  records[0] = { partition_key_index 0, data "x" }
//   1A 06 08 01 1A 02 79 7A  records[1] = { partition_key_index 1, data "yz" }
const GOLDEN_PB = '0A0161 0A0162 1A05 0800 1A0178 1A06 0801 1A02797A';
const GOLDEN_MD5 = '6fe1bc1407aabc41e3e0c88f3f668baf';
const GOLDEN = frame(GOLDEN_PB, GOLDEN_MD5);

// One record with an explicit hash key "123" and empty data.
const GOLDEN_EHK_PB = '0A016B 1203313233 1A06 0800 1000 1A00';
const GOLDEN_EHK_MD5 = '6fc2cbdb2539e1b684c37cdce5bf9173';

describe('KPL aggregate format: goldens', () => {
  it('GIVEN two user records WHEN aggregated THEN the bytes equal the hand-built golden', () => {
    const agg = aggregate([
      { data: 'x', partitionKey: 'a' },
      { data: 'yz', partitionKey: 'b' },
    ]);
    expect(Buffer.from(agg.data).toString('hex')).toBe(Buffer.from(GOLDEN).toString('hex'));
    expect(agg.partitionKey).toBe('a');
    expect(agg.count).toBe(2);
    expect(agg.explicitHashKey).toBeUndefined();
  });

  it('GIVEN the golden WHEN deaggregated THEN user records, keys and sub-sequence numbers come back', () => {
    const out = deaggregate({
      data: GOLDEN,
      partitionKey: 'a',
      sequenceNumber: SEQ,
      shardId: 'shardId-000000000001',
    });
    expect(out).toHaveLength(2);
    expect(
      out.map((r) => [
        Buffer.from(r.data).toString(),
        r.partitionKey,
        r.subSequenceNumber,
        r.aggregated,
      ]),
    ).toEqual([
      ['x', 'a', 0, true],
      ['yz', 'b', 1, true],
    ]);
    // Other fields of the Kinesis record are kept.
    expect(out[1]?.sequenceNumber).toBe(SEQ);
    expect(out[1]?.shardId).toBe('shardId-000000000001');
    expect(out[0] && 'explicitHashKey' in out[0]).toBe(false);
  });

  it('GIVEN an explicit hash key WHEN aggregated THEN it goes to the table and comes back', () => {
    const agg = aggregate([{ data: new Uint8Array(0), partitionKey: 'k', explicitHashKey: '123' }]);
    expect(Buffer.from(agg.data).toString('hex')).toBe(
      Buffer.from(frame(GOLDEN_EHK_PB, GOLDEN_EHK_MD5)).toString('hex'),
    );
    expect(agg.explicitHashKey).toBe('123');
    const [r] = deaggregate({ data: agg.data, partitionKey: 'k', sequenceNumber: SEQ });
    expect(r?.explicitHashKey).toBe('123');
    expect(r?.data).toEqual(new Uint8Array(0));
  });

  it('de-duplicates keys into the tables', () => {
    const agg = aggregate([
      { data: '1', partitionKey: 'same' },
      { data: '2', partitionKey: 'same' },
      { data: '3', partitionKey: 'same' },
    ]);
    // "same" appears once: 4 magic + (2 + 4) table + 3 * (2 + 5) records + 16 MD5
    expect(agg.data.length).toBe(4 + 6 + 21 + 16);
  });

  it('GIVEN tables after records, tags and unknown fields of every wire type THEN decoding skips them', () => {
    const pb =
      '1A0D 0801 1A0171 2206 0A0174 120176' + // records[0]: pk 1, data "q", tag {key "t", value "v"}
      '48 AC02' + // field 9 varint 300
      '51 0102030405060708' + // field 10 fixed64
      '5D 01020304' + // field 11 fixed32
      '63 0801 6B 08FF01 6C 64' + // field 12 group containing a varint and a nested group 13
      '6A03616263' + // field 13 LEN "abc"
      '0A017A 0A0177'; // partition_key_table = ["z", "w"]
    const out = deaggregate({ data: frame(pb), partitionKey: 'p', sequenceNumber: SEQ });
    expect(out.map((r) => [Buffer.from(r.data).toString(), r.partitionKey])).toEqual([['q', 'w']]);
  });

  it('accepts a 64-bit index varint and reports it out of range precisely', () => {
    const pb = '0A0161 1A0E 08FFFFFFFFFFFFFFFFFF01 1A0178'; // partition_key_index = 2^64 - 1
    const err = catchKpl(() =>
      deaggregate({ data: frame(pb), partitionKey: 'a', sequenceNumber: SEQ }),
    );
    expect(err.reason).toBe('index-out-of-range');
    expect(err.message).toContain(
      'partition_key_index 18446744073709551615 is outside the partition key table (1 entries)',
    );
  });

  it('passes a record without the magic through as one plain user record', () => {
    const data = utf8('{"plain":true}');
    const out = deaggregate({ data, partitionKey: 'pk', sequenceNumber: SEQ });
    expect(out).toEqual([
      { data, partitionKey: 'pk', sequenceNumber: SEQ, subSequenceNumber: 0, aggregated: false },
    ]);
  });
});

function catchKpl(fn: () => unknown): KplDecodeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KplDecodeError);
    expect(err).toBeInstanceOf(RecordDecodeError);
    return err as KplDecodeError;
  }
  throw new Error('expected a KplDecodeError');
}

describe('KPL: broken aggregates are KplDecodeError with a precise reason', () => {
  const decode = (data: Uint8Array): unknown =>
    deaggregate({ data, partitionKey: 'a', sequenceNumber: SEQ });

  it('magic only: truncated', () => {
    const err = catchKpl(() => decode(Uint8Array.from([...KPL_MAGIC, 1, 2, 3])));
    expect(err.reason).toBe('truncated');
    expect(err.sequenceNumber).toBe(SEQ);
  });

  it('a flipped data byte: bad MD5', () => {
    const bad = GOLDEN.slice();
    bad[12] = (bad[12] as number) ^ 0x01;
    const err = catchKpl(() => decode(bad));
    expect(err.reason).toBe('bad-md5');
    expect(err.message).toMatch(/MD5 trailer [0-9a-f]{32} does not match/);
  });

  it('a record cut short (MD5 recomputed): bad protobuf at the offset of the length', () => {
    const err = catchKpl(() => decode(frame('0A0161 1A09 0800 1A0178')));
    expect(err.reason).toBe('bad-protobuf');
    // 4 bytes of magic + 3 of the table + 1 tag byte: the length varint is at offset 8
    expect(err.offset).toBe(8);
    expect(err.message).toContain('length 9 runs past the end of the message');
  });

  it('wrong wire type for a known field', () => {
    const err = catchKpl(() => decode(frame('0861')));
    expect(err.reason).toBe('bad-protobuf');
    expect(err.message).toContain('partition_key_table has wire type 0, expected 2');
  });

  it('missing data field', () => {
    expect(catchKpl(() => decode(frame('0A0161 1A02 0800'))).reason).toBe('missing-field');
  });

  it('explicit hash key index out of range', () => {
    const err = catchKpl(() => decode(frame('0A0161 1A07 0800 1000 1A0178')));
    expect(err.reason).toBe('index-out-of-range');
    expect(err.message).toContain(
      'explicit_hash_key_index 0 is outside the explicit hash key table (0 entries)',
    );
  });

  it('a partition key that is not UTF-8', () => {
    expect(catchKpl(() => decode(frame('0A01FF 1A05 0800 1A0178'))).reason).toBe('bad-utf8');
  });

  it('an aggregate with no records', () => {
    expect(catchKpl(() => decode(frame('0A0161'))).reason).toBe('empty');
  });

  it('an unterminated varint and an over-long varint', () => {
    expect(catchKpl(() => decode(frame('0A0161 1A02 08FF'))).message).toContain('truncated varint');
    expect(catchKpl(() => decode(frame('48 FFFFFFFFFFFFFFFFFFFF01'))).message).toContain(
      'varint longer than 10 bytes',
    );
  });

  it('a mismatched group end', () => {
    expect(catchKpl(() => decode(frame('63 0801 74'))).message).toContain(
      'group end for field 14 closes group 12',
    );
  });
});

const userRecord: fc.Arbitrary<KplUserRecordInput> = fc.record(
  {
    data: fc.uint8Array({ maxLength: 300 }),
    partitionKey: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
    explicitHashKey: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map(String),
  },
  { requiredKeys: ['data', 'partitionKey'] },
);

function expectSame(
  out: readonly DeaggregatedRecord[],
  input: readonly KplUserRecordInput[],
): void {
  expect(out).toHaveLength(input.length);
  out.forEach((r, i) => {
    const x = input[i] as KplUserRecordInput;
    expect(r.data).toEqual(x.data);
    expect(r.partitionKey).toBe(x.partitionKey);
    expect(r.explicitHashKey).toBe(x.explicitHashKey);
    expect(r.subSequenceNumber).toBe(i);
    expect(r.aggregated).toBe(true);
  });
}

describe('KPL: properties', () => {
  it('aggregate -> deaggregate is the identity, and the builder predicts the size exactly', () => {
    fc.assert(
      fc.property(fc.array(userRecord, { minLength: 1, maxLength: 30 }), (records) => {
        const b = new KplAggregateBuilder();
        let predicted = 0;
        for (const r of records) {
          predicted = b.sizeWith(r);
          b.add(r);
        }
        const agg = b.build();
        expect(agg.data.length + new TextEncoder().encode(agg.partitionKey).length).toBe(predicted);
        expectSame(
          deaggregate({ data: agg.data, partitionKey: agg.partitionKey, sequenceNumber: SEQ }),
          records,
        );
      }),
      { numRuns: 300 },
    );
  });

  const mutation = fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
  function mutate(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
    let b = Array.from(bytes);
    for (const m of ms) {
      if (b.length === 0) break;
      const at = m.at % b.length;
      if (m.kind === 'flip') b[at] = (b[at] as number) ^ (1 << m.bit);
      else if (m.kind === 'truncate') b = b.slice(0, at);
      else if (m.kind === 'insert') b.splice(at, 0, m.byte);
      else b[at] = m.byte;
    }
    return Uint8Array.from(b);
  }

  it('random corruption of the record: KplDecodeError, a plain pass-through, or the exact original; never wrong data', () => {
    fc.assert(
      fc.property(
        fc.array(userRecord, { minLength: 1, maxLength: 8 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (records, ms) => {
          const agg = aggregate(records);
          const bad = mutate(agg.data, ms);
          let out;
          try {
            out = deaggregate({ data: bad, partitionKey: agg.partitionKey, sequenceNumber: SEQ });
          } catch (err) {
            expect(err).toBeInstanceOf(KplDecodeError);
            return;
          }
          if (out[0]?.aggregated === false) {
            // The magic itself was destroyed: a plain record, bytes untouched.
            expect(out).toHaveLength(1);
            expect(out[0].data).toEqual(bad);
            return;
          }
          // Only a mutation that cancelled itself can get here.
          expect(Buffer.from(bad).equals(Buffer.from(agg.data))).toBe(true);
          expectSame(out, records);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('random corruption of the protobuf with a recomputed MD5: only KplDecodeError ever escapes the decoder', () => {
    fc.assert(
      fc.property(
        fc.array(userRecord, { minLength: 1, maxLength: 8 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (records, ms) => {
          const agg = aggregate(records);
          const pb = mutate(agg.data.subarray(4, agg.data.length - 16), ms);
          const data = Uint8Array.from([
            ...KPL_MAGIC,
            ...pb,
            ...createHash('md5').update(pb).digest(),
          ]);
          try {
            const out = deaggregate({ data, partitionKey: agg.partitionKey, sequenceNumber: SEQ });
            // Valid protobuf after all: every record has data and an in-range key.
            for (const r of out) expect(typeof r.partitionKey).toBe('string');
          } catch (err) {
            expect(err).toBeInstanceOf(KplDecodeError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bytes after the magic never throw anything but KplDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (tail, fixMd5) => {
        const data = fixMd5
          ? Uint8Array.from([...KPL_MAGIC, ...tail, ...createHash('md5').update(tail).digest()])
          : Uint8Array.from([...KPL_MAGIC, ...tail]);
        try {
          deaggregate({ data, partitionKey: 'p', sequenceNumber: SEQ });
        } catch (err) {
          expect(err).toBeInstanceOf(KplDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
