/**
 * `weir restore --function-name`: the one event source mapping from the
 * checkpoint's stream to the function, found over ListEventSourceMappings
 * pages (a hand-written fake LambdaClient); none or several is an error
 * that says to name the mapping with --mapping-uuid.
 */
import { describe, expect, it } from 'vitest';
import type { ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { MappingControlError } from '../../../lib/ports/mapping-control.ts';
import { findMappingUuid } from '../../../lib/runtime/restore/lambda-mapping.ts';

const ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/clicks';

function client(pages: string[][]) {
  const seen: unknown[] = [];
  return {
    seen,
    send(command: ListEventSourceMappingsCommand) {
      seen.push(command.input);
      const i = command.input.Marker === undefined ? 0 : Number(command.input.Marker);
      return Promise.resolve({
        EventSourceMappings: (pages[i] ?? []).map((UUID) => ({ UUID })),
        NextMarker: i + 1 < pages.length ? String(i + 1) : undefined,
      });
    },
  } as unknown as Parameters<typeof findMappingUuid>[0] & { seen: unknown[] };
}

describe('findMappingUuid', () => {
  it('GIVEN one mapping on the second page WHEN looked up THEN its UUID, asked by function and stream', async () => {
    const c = client([[], ['u-1']]);
    expect(await findMappingUuid(c, 'clicks-batch', ARN)).toBe('u-1');
    expect(c.seen[0]).toEqual({ FunctionName: 'clicks-batch', EventSourceArn: ARN });
  });

  it('GIVEN none or two WHEN looked up THEN MappingControlError saying to use --mapping-uuid', async () => {
    await expect(findMappingUuid(client([[]]), 'f', ARN)).rejects.toThrow(MappingControlError);
    await expect(findMappingUuid(client([['a'], ['b']]), 'f', ARN)).rejects.toThrow(
      /of function f: 2 of them read .*\(a, b\); name one with --mapping-uuid/,
    );
  });
});
