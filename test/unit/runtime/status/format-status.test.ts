/** Rendering a status: the table people read and the JSON scripts parse. */
import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatStatusJson,
  formatStatusTable,
  shortSequence,
} from '../../../../lib/runtime/status/index.ts';
import { FIXED } from './fixed-status.ts';

describe('formatStatusTable', () => {
  it('GIVEN a fixed status THEN the table shows operator figures and one row per shard', () => {
    expect(formatStatusTable(FIXED)).toBe(
      [
        'operator click-counter   stream clicks   table WeirDemo-State',
        'at        2026-12-01T04:00:00.000Z',
        'watermark 2026-12-01T03:58:30.000Z (1.5 min behind now)',
        'windows   12 open, 3 pending (1 due), outbox 2',
        '',
        'SHARD                   STATE  COMMITTED        BEHIND TIP               WATERMARK                 LAST BATCH',
        'shardId-000000000000    open   …989136588898    0 records                2026-12-01T03:58:30.000Z  1.2 s ago',
        'shardId-000000000001    idle   …989136588899/4  >= 3000 records, 42.5 s  2026-12-01T03:55:00.000Z  1.3 min ago',
        'shardId-000000000002 *  open   -                unknown (see below)      -                         -',
        '* not registered yet: no batch and no tick has seen it',
        '',
        'errors:',
        '  shardId-000000000002: ProvisionedThroughputExceededException: Rate exceeded',
      ].join('\n'),
    );
  });

  it('GIVEN ranges weir redrive applied THEN they have their own section, not shard rows', () => {
    const text = formatStatusTable({
      ...FIXED,
      shards: [],
      redriven: [
        {
          source:
            'redrive:shardId-000000000000:49590338271490256608559692538361571095921575989136588898',
          shardId: 'shardId-000000000000',
          startSequenceNumber: '49590338271490256608559692538361571095921575989136588898',
          committed: {
            sequenceNumber: '49590338271490256608559692538361571095921575989136588990',
            subSequenceNumber: 0,
          },
          done: true,
          at: FIXED.at - 120_000,
        },
      ],
    });
    expect(text.split('\n').slice(-4)).toEqual([
      '',
      'redriven ranges (weir redrive):',
      'SOURCE                                   COMMITTED THROUGH  DONE  AT',
      'shardId-000000000000 from …989136588898  …989136588990      yes   2.0 min ago',
    ]);
    expect(formatStatusTable(FIXED)).not.toContain('redriven');
  });

  it('no watermark, unknown or bounded window counts, no shards', () => {
    const text = formatStatusTable({
      ...FIXED,
      watermark: null,
      windows: null,
      shards: [],
      errors: ['window counts: ResourceNotFoundException: no index'],
    });
    expect(text).toContain('watermark -\n');
    expect(text).toContain('windows   unknown (see below)');
    expect(text).toContain('(no shards: the stream lists none and no progress is stored)');
    expect(text).toContain('  window counts: ResourceNotFoundException: no index');
    expect(
      formatStatusTable({
        ...FIXED,
        windows: { open: 5000, pending: 10, due: 0, outbox: 0, exact: false },
      }),
    ).toContain('windows   5000 open, 10 pending (0 due), outbox 0 (lower bounds');
  });
});

describe('formatStatusJson', () => {
  it('is one line that parses back to the status', () => {
    const line = formatStatusJson(FIXED);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(FIXED);
  });
});

describe('helpers', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [12_340, '12.3 s'],
    [270_000, '4.5 min'],
    [7_200_000, '2.0 h'],
    [3 * 86_400_000, '3.0 d'],
    [-1500, '-1.5 s'],
  ])('formatDuration(%d) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('shortSequence keeps the tail and the sub-sequence', () => {
    expect(shortSequence('12345', 0)).toBe('12345');
    expect(shortSequence('49590338271490256608559692538361571095921575989136588898', 2)).toBe(
      '…989136588898/2',
    );
  });
});
