/**
 * The ESM's retry/bisect state machine, driven directly: the rules both the
 * local ESM and the simulated ESM apply (docs/local-esm.md).
 */
import { describe, expect, it } from 'vitest';
import { resolveEsmSettings, type EventSourceMappingInput } from '../../../lib/index.ts';
import {
  afterInvocation,
  EsmAction,
  expireRecords,
  judgeInvocation,
  startBatch,
  type BatchProgress,
  type Discard,
  type InvocationResult,
  type PendingRange,
} from '../../../lib/runtime/local/esm/batch-state-machine.ts';

const settings = (input: EventSourceMappingInput = {}) =>
  resolveEsmSettings({ bisectBatchOnFunctionError: false, ...input });

const fail: InvocationResult = { kind: 'function-error' };
const ok: InvocationResult = { kind: 'success' };

/**
 * Drives a batch of `size` records to the end: `answer` says how an
 * invocation of [from, to) ends. Returns every invocation, action,
 * checkpoint and discard, in order.
 */
function run(
  input: EventSourceMappingInput,
  size: number,
  answer: (from: number, to: number, retry: number) => InvocationResult,
): {
  invocations: [number, number, number][];
  actions: string[];
  checkpoints: number[];
  discards: Discard[];
} {
  const s = settings(input);
  const out = {
    invocations: [] as [number, number, number][],
    actions: [] as string[],
    checkpoints: [] as number[],
    discards: [] as Discard[],
  };
  let batch = startBatch(size);
  for (let n = 0; batch.pending.length > 0; n++) {
    if (n > 1000) throw new Error('did not finish');
    const head = batch.pending[0] as PendingRange;
    out.invocations.push([head.from, head.to, head.retries]);
    const t = afterInvocation(s, batch, {
      requestId: `r${n}`,
      result: answer(head.from, head.to, head.retries),
    });
    out.actions.push(t.action);
    if (t.checkpointTo !== undefined) out.checkpoints.push(t.checkpointTo);
    if (t.discard !== undefined) {
      out.discards.push(t.discard);
      out.checkpoints.push(t.discard.to);
    }
    batch = t.next;
  }
  return out;
}

describe('ESM state machine: success and partial responses', () => {
  it('GIVEN a success THEN CHECKPOINT after the range and the batch is done', () => {
    const r = run({}, 5, () => ok);
    expect(r.actions).toEqual([EsmAction.CHECKPOINT]);
    expect(r.checkpoints).toEqual([5]);
  });

  it('GIVEN a partial response at record 3 THEN checkpoint before it and RESUME from it as a retry', () => {
    const r = run({ maximumRetryAttempts: 3 }, 8, (from) =>
      from === 0 ? { kind: 'partial', index: 3 } : ok,
    );
    expect(r.invocations).toEqual([
      [0, 8, 0],
      [3, 8, 1],
    ]);
    expect(r.actions).toEqual([EsmAction.RESUME, EsmAction.CHECKPOINT]);
    expect(r.checkpoints).toEqual([3, 8]);
  });

  it('GIVEN a partial response at the first record THEN the checkpoint does not move and all records are retried', () => {
    const t = afterInvocation(settings(), startBatch(4), {
      requestId: 'r',
      result: { kind: 'partial', index: 0 },
    });
    expect(t.action).toBe(EsmAction.RESUME);
    expect(t.checkpointTo).toBeUndefined();
    expect(t.next.pending).toEqual([
      {
        from: 0,
        to: 4,
        retries: 1,
        invocations: 1,
        last: { requestId: 'r', result: { kind: 'partial', index: 0 } },
      },
    ]);
  });

  it('GIVEN partial responses past maximumRetryAttempts THEN the last one checkpoints before its failure and gives up the rest, without functionError', () => {
    const r = run({ maximumRetryAttempts: 1 }, 6, () => ({ kind: 'partial', index: 1 }));
    expect(r.invocations).toEqual([
      [0, 6, 0],
      [1, 6, 1],
    ]);
    expect(r.actions).toEqual([EsmAction.RESUME, EsmAction.GIVE_UP]);
    expect(r.checkpoints).toEqual([1, 2, 6]);
    expect(r.discards).toEqual([
      {
        from: 2,
        to: 6,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 2,
        last: { requestId: 'r1', result: { kind: 'partial', index: 1 } },
      },
    ]);
  });
});

describe('ESM state machine: function errors, maximumRetryAttempts', () => {
  it('GIVEN a batch that always fails, no bisect, maximumRetryAttempts 2 THEN 1 + 2 invocations, then GIVE_UP with the whole range', () => {
    const r = run({ maximumRetryAttempts: 2 }, 4, () => fail);
    expect(r.invocations).toEqual([
      [0, 4, 0],
      [0, 4, 1],
      [0, 4, 2],
    ]);
    expect(r.actions).toEqual([EsmAction.RETRY, EsmAction.RETRY, EsmAction.GIVE_UP]);
    expect(r.discards).toEqual([
      {
        from: 0,
        to: 4,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
        last: { requestId: 'r2', result: fail },
      },
    ]);
  });

  it('GIVEN maximumRetryAttempts 0 THEN a failure gives up at once', () => {
    expect(run({ maximumRetryAttempts: 0 }, 2, () => fail).actions).toEqual([EsmAction.GIVE_UP]);
  });

  it('GIVEN maximumRetryAttempts -1 THEN a failing batch is retried without end and succeeds when the cause is gone', () => {
    const r = run({ maximumRetryAttempts: -1 }, 3, (_f, _t, retry) => (retry < 200 ? fail : ok));
    expect(r.invocations).toHaveLength(201);
    expect(r.discards).toEqual([]);
    expect(r.checkpoints).toEqual([3]);
  });
});

describe('ESM state machine: bisectBatchOnFunctionError', () => {
  it('GIVEN a poison record at 5 of 8 and maximumRetryAttempts 2 THEN halves (left first, ceil) down to it, for free, then 1 + 2 invocations of it', () => {
    const poison = 5;
    const r = run({ bisectBatchOnFunctionError: true, maximumRetryAttempts: 2 }, 8, (from, to) =>
      from <= poison && poison < to ? fail : ok,
    );
    expect(r.invocations).toEqual([
      [0, 8, 0],
      [0, 4, 0],
      [4, 8, 0],
      [4, 6, 0],
      [4, 5, 0],
      [5, 6, 0],
      [5, 6, 1],
      [5, 6, 2],
      [6, 8, 0],
    ]);
    expect(r.actions.filter((a) => a === EsmAction.BISECT)).toHaveLength(3);
    expect(r.discards).toEqual([
      {
        from: 5,
        to: 6,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
        last: { requestId: 'r7', result: fail },
      },
    ]);
    expect(r.checkpoints).toEqual([4, 5, 6, 8]);
  });

  it('GIVEN an odd batch THEN the left half is the larger; halves inherit the retries and start with no invocations', () => {
    const retried: BatchProgress = {
      pending: [{ from: 2, to: 7, retries: 1, invocations: 4, last: undefined }],
    };
    const t = afterInvocation(settings({ bisectBatchOnFunctionError: true }), retried, {
      requestId: 'r',
      result: fail,
    });
    expect(t.action).toBe(EsmAction.BISECT);
    expect(t.halves).toEqual([
      { from: 2, to: 5, retries: 1, invocations: 0, last: undefined },
      { from: 5, to: 7, retries: 1, invocations: 0, last: undefined },
    ]);
    expect(t.next.pending).toEqual(t.halves);
  });

  it('GIVEN an invalid partial response THEN it is handled as a function error (bisected), and a give-up reports no functionError', () => {
    const invalid: InvocationResult = { kind: 'invalid-response', reason: 'itemIdentifier is ""' };
    const t = afterInvocation(settings({ bisectBatchOnFunctionError: true }), startBatch(2), {
      requestId: 'r',
      result: invalid,
    });
    expect(t.action).toBe(EsmAction.BISECT);
    const r = run({ maximumRetryAttempts: 0 }, 2, () => invalid);
    expect(r.discards[0]?.last?.result.kind).toBe('invalid-response');
  });

  it('GIVEN afterInvocation on a finished batch THEN it refuses', () => {
    expect(() =>
      afterInvocation(settings(), startBatch(0), { requestId: 'r', result: ok }),
    ).toThrow(RangeError);
  });
});

describe('ESM state machine: maximumRecordAgeInSeconds', () => {
  const arrivals = [0, 10_000, 20_000, 90_000, 95_000];
  const arrivalMs = (i: number): number => arrivals[i] as number;

  it('GIVEN -1 THEN nothing expires', () => {
    expect(expireRecords(settings(), startBatch(5), 1e12, arrivalMs)).toBeUndefined();
  });

  it('GIVEN 60 s THEN the leading records older than that are given up (RecordAgeExceeded) and the rest is invoked', () => {
    const t = expireRecords(
      settings({ maximumRecordAgeInSeconds: 60 }),
      startBatch(5),
      80_000, // record 2 arrived exactly 60 s before: not older than the limit
      arrivalMs,
    );
    expect(t?.action).toBe(EsmAction.EXPIRE);
    expect(t?.discard).toEqual({
      from: 0,
      to: 2,
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 0,
      last: undefined,
    });
    expect(t?.next.pending).toEqual([
      { from: 2, to: 5, retries: 0, invocations: 0, last: undefined },
    ]);
    // Exactly at the limit is not older than it.
    expect(
      expireRecords(settings({ maximumRecordAgeInSeconds: 60 }), startBatch(5), 60_000, arrivalMs),
    ).toBeUndefined();
  });

  it('GIVEN a retried range whose records all aged THEN all are given up with its invocations and last result, and the next range follows', () => {
    const batch: BatchProgress = {
      pending: [
        { from: 0, to: 2, retries: 3, invocations: 4, last: { requestId: 'r3', result: fail } },
        { from: 2, to: 5, retries: 0, invocations: 0, last: undefined },
      ],
    };
    const t = expireRecords(settings({ maximumRecordAgeInSeconds: 60 }), batch, 85_000, arrivalMs);
    expect(t?.discard).toMatchObject({ from: 0, to: 2, approximateInvokeCount: 4 });
    expect(t?.discard?.last?.requestId).toBe('r3');
    expect(t?.next.pending).toEqual([batch.pending[1]]);
  });
});

describe('judgeInvocation', () => {
  const seqs = [
    '49590338271490256608559692538361571095921575989136588898',
    '49590338271490256608559692538361571095921575989136588999',
  ];

  it('GIVEN ReportBatchItemFailures off THEN any response is a success', () => {
    expect(
      judgeInvocation({ reportBatchItemFailures: false }, { batchItemFailures: [{}] }, seqs),
    ).toEqual(ok);
  });

  it('GIVEN it on THEN a partial response names the lowest failed record and a malformed one fails the batch', () => {
    const on = { reportBatchItemFailures: true };
    expect(judgeInvocation(on, { batchItemFailures: [{ itemIdentifier: seqs[1] }] }, seqs)).toEqual(
      { kind: 'partial', index: 1 },
    );
    expect(judgeInvocation(on, { batchItemFailures: [] }, seqs)).toEqual(ok);
    expect(judgeInvocation(on, { batchItemFailures: [{ itemIdentifier: '' }] }, seqs).kind).toBe(
      'invalid-response',
    );
  });
});
