/**
 * Contract of a `Sink<LateRecord>` (the late-data side output): records
 * survive with their raw bytes, and a retried write yields no extra distinct
 * record (readers dedupe by `lateRecordId` where the sink is at-least-once).
 */
import { describe, expect, it } from 'vitest';
import { lateRecordId } from '../../lib/model/ids.ts';
import { position } from '../../lib/model/position.ts';
import { LateReason, type LateRecord } from '../../lib/model/records.ts';
import type { Sink } from '../../lib/ports/sink.ts';

export interface LateRecordSinkSubject {
  readonly sink: Sink<LateRecord>;
  /** Every record stored for one operator, duplicates included. */
  readAll(operator: string): Promise<LateRecord[]>;
  /** A retried write replaces rather than adds. */
  readonly idempotent: boolean;
}

let counter = 0;
const operatorName = (): string => `late-${process.pid}-${Date.now().toString(36)}-${++counter}`;

function late(operator: string, i: number, data: Uint8Array, withWindow = true): LateRecord {
  return {
    operator,
    output: 'late-clicks',
    position: position(
      'shardId-000000000002',
      `4959033827149025660855969253836157109592157598913658${String(8000 + i)}`,
      i % 3,
    ),
    data,
    eventTime: 1_700_000_000_000 + i,
    windows: withWindow ? [{ start: 1_700_000_000_000, end: 1_700_000_060_000 }] : [],
    watermark: 1_700_000_500_000,
    reason: LateReason.WINDOW_CLOSED,
  };
}

export function describeLateRecordSinkContract(
  name: string,
  makeSubject: () => LateRecordSinkSubject | Promise<LateRecordSinkSubject>,
): void {
  describe(`Sink<LateRecord> contract: ${name}`, () => {
    let cached: Promise<LateRecordSinkSubject> | undefined;
    const subject = (): Promise<LateRecordSinkSubject> =>
      (cached ??= Promise.resolve(makeSubject()));

    it('stores every late record with its raw bytes and fields', async () => {
      const s = await subject();
      const op = operatorName();
      const sent = [
        late(op, 1, new Uint8Array([0xff, 0x00, 0xc3, 0x28])),
        late(op, 2, new TextEncoder().encode('{"user":"ü"}'), false),
      ];
      const report = await s.sink.write(sent);
      expect(report.items.map((i) => i.index)).toEqual([0, 1]);
      expect(report.written).toBe(2);
      const got = (await s.readAll(op)).sort((a, b) => a.eventTime - b.eventTime);
      expect(got.map((g) => ({ ...g, data: [...g.data] }))).toEqual(
        sent.map((e) => ({ ...e, data: [...e.data] })),
      );
    });

    it('a retried write adds no distinct record', async () => {
      const s = await subject();
      const op = operatorName();
      const sent = [3, 4, 5].map((i) => late(op, i, new Uint8Array([i])));
      await s.sink.write(sent);
      await s.sink.write(sent);
      const got = await s.readAll(op);
      expect(new Set(got.map(lateRecordId))).toEqual(new Set(sent.map(lateRecordId)));
      if (s.idempotent) expect(got).toHaveLength(3);
    });
  });
}
