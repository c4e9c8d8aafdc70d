/** A fixed status for the rendering tests. */
import type { OperatorStatus } from '../../../../lib/runtime/status/index.ts';

export const AT = Date.UTC(2026, 11, 1, 4, 0, 0);

export const FIXED: OperatorStatus = {
  schema: 'weir.status/1',
  at: AT,
  operator: 'click-counter',
  stream: 'clicks',
  table: 'WeirDemo-State',
  idleTimeoutMs: 60_000,
  watermark: AT - 90_000,
  windows: { open: 12, pending: 3, due: 1, outbox: 2, exact: true },
  shards: [
    {
      shardId: 'shardId-000000000000',
      state: 'open',
      registered: true,
      inStream: true,
      parentShardId: null,
      adjacentParentShardId: null,
      committed: {
        sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
        subSequenceNumber: 0,
      },
      watermark: AT - 90_000,
      lastActivity: AT - 1_200,
      behind: { records: 0, exact: true, millis: 0 },
      error: null,
    },
    {
      shardId: 'shardId-000000000001',
      state: 'idle',
      registered: true,
      inStream: true,
      parentShardId: null,
      adjacentParentShardId: null,
      committed: {
        sequenceNumber: '49590338271490256608559692538361571095921575989136588899',
        subSequenceNumber: 4,
      },
      watermark: AT - 300_000,
      lastActivity: AT - 75_000,
      behind: { records: 3000, exact: false, millis: 42_500 },
      error: null,
    },
    {
      shardId: 'shardId-000000000002',
      state: 'open',
      registered: false,
      inStream: true,
      parentShardId: 'shardId-000000000000',
      adjacentParentShardId: null,
      committed: null,
      watermark: null,
      lastActivity: null,
      behind: null,
      error: 'ProvisionedThroughputExceededException: Rate exceeded',
    },
  ],
  redriven: [],
  errors: [],
};
