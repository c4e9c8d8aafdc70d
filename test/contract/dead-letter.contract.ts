/**
 * Contract of a `DeadLetterOutput`: raw bytes survive byte-for-byte (invalid UTF-8,
 * empty, 1 MiB), every field survives, and (for idempotent destinations) a
 * retried send does not duplicate.
 */
import { describe, expect, it } from 'vitest';
import { deadLetterId } from '../../lib/model/ids.ts';
import { position } from '../../lib/model/position.ts';
import { DeadLetterKind, type DeadLetter } from '../../lib/model/records.ts';
import type { DeadLetterOutput } from '../../lib/ports/dead-letter-output.ts';

export interface DeadLetterSubject {
  readonly deadLetter: DeadLetterOutput;
  /** Every stored dead letter of one operator (duplicates included, if the destination keeps them). */
  readAll(operator: string): Promise<DeadLetter[]>;
  /** A retried send replaces rather than adds (S3, memory; not SQS standard queues). */
  readonly idempotent: boolean;
  /** Largest raw payload the destination takes. @default 1 MiB */
  readonly maxRawBytes?: number;
}

let counter = 0;
const operatorName = (): string => `dl-${process.pid}-${Date.now().toString(36)}-${++counter}`;
// A realistic 56-digit Kinesis sequence number.
const SEQ = '49590338271490256608559692538361571095921575989136588898';

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i += 1) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function entry(
  operator: string,
  seqSuffix: number,
  raw: Uint8Array,
  overrides: Partial<DeadLetter> = {},
): DeadLetter {
  return {
    operator,
    position: position(
      'shardId-000000000001',
      `${SEQ.slice(0, -3)}${String(seqSuffix).padStart(3, '0')}`,
      0,
    ),
    data: raw,
    reason: 'could not decode JSON: Unexpected token',
    kind: DeadLetterKind.Decode,
    at: 1_700_000_000_123,
    ...overrides,
  };
}

const sortById = (es: DeadLetter[]): DeadLetter[] =>
  [...es].sort((a, b) => (deadLetterId(a) < deadLetterId(b) ? -1 : 1));

export function describeDeadLetterContract(
  name: string,
  makeSubject: () => DeadLetterSubject | Promise<DeadLetterSubject>,
): void {
  describe(`DeadLetterOutput contract: ${name}`, () => {
    let cached: Promise<DeadLetterSubject> | undefined;
    const subject = (): Promise<DeadLetterSubject> => (cached ??= Promise.resolve(makeSubject()));

    it('keeps raw bytes byte-for-byte, including invalid UTF-8 and empty payloads', async () => {
      const s = await subject();
      const op = operatorName();
      const invalidUtf8 = new Uint8Array([
        0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc,
      ]);
      const sent = [
        entry(op, 1, invalidUtf8),
        entry(op, 2, new Uint8Array(0)),
        entry(op, 3, bytes(4096, 7)),
      ];
      await s.deadLetter.send(sent);
      const got = sortById(await s.readAll(op));
      expect(got).toHaveLength(3);
      got.forEach((g, i) => {
        expect(Buffer.from(g.data).equals(Buffer.from((sent[i] as DeadLetter).data))).toBe(true);
      });
    });

    it('keeps position, reason, kind, error and time of every kind', async () => {
      const s = await subject();
      const op = operatorName();
      const kinds = Object.values(DeadLetterKind);
      const sent = kinds.map((kind, i) =>
        entry(op, 10 + i, new TextEncoder().encode(`{"i":${i}}`), {
          kind,
          reason: `reason ${kind} — ü`,
          position: position(
            'shardId-000000000007',
            `${SEQ.slice(0, -3)}${String(10 + i).padStart(3, '0')}`,
            i,
          ),
          ...(i % 2 === 0 ? { error: `Error: boom ${i}\n    at f (file.ts:1:1)` } : {}),
        }),
      );
      await s.deadLetter.send(sent);
      const got = sortById(await s.readAll(op));
      expect(got.map((g) => ({ ...g, data: Buffer.from(g.data).toString() }))).toEqual(
        sortById(sent).map((e) => ({ ...e, data: Buffer.from(e.data).toString() })),
      );
    });

    it('keeps a 1 MiB payload exactly', async () => {
      const s = await subject();
      const op = operatorName();
      const size = Math.min(s.maxRawBytes ?? 1024 * 1024, 1024 * 1024);
      const raw = bytes(size, 99);
      await s.deadLetter.send([
        entry(op, 500, raw, { kind: DeadLetterKind.Oversized, reason: 'value over 400 KB' }),
      ]);
      const got = await s.readAll(op);
      expect(got).toHaveLength(1);
      expect(got[0]?.data.byteLength).toBe(size);
      expect(Buffer.from(got[0]?.data ?? new Uint8Array()).equals(Buffer.from(raw))).toBe(true);
    });

    it('a retried send does not lose entries, and does not duplicate where the destination is idempotent', async () => {
      const s = await subject();
      const op = operatorName();
      const sent = [1, 2, 3].map((i) => entry(op, 100 + i, bytes(100, i)));
      await s.deadLetter.send(sent);
      await s.deadLetter.send([...sent].reverse().map((e) => ({ ...e, at: e.at + 5000 })));
      const got = await s.readAll(op);
      const ids = new Set(got.map(deadLetterId));
      expect(ids).toEqual(new Set(sent.map(deadLetterId)));
      if (s.idempotent) expect(got).toHaveLength(3);
    });

    it("does not let later mutation of the caller's buffer change what was stored", async () => {
      const s = await subject();
      const op = operatorName();
      const raw = new Uint8Array([1, 2, 3]);
      await s.deadLetter.send([entry(op, 900, raw)]);
      raw[0] = 42;
      const got = await s.readAll(op);
      expect([...(got[0]?.data ?? [])]).toEqual([1, 2, 3]);
    });
  });
}
