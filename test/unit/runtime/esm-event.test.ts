import { describe, expect, it } from 'vitest';
import {
  buildKinesisEvent,
  judgeBatchResponse,
  s3FailureObjectKey,
} from '../../../lib/runtime/local/esm/index.ts';
import { shardId } from '../../../lib/index.ts';

// The sample event of AWS's "Using Lambda to process records from Amazon Kinesis Data Streams" page, verbatim.
const GOLDEN = `{
    "Records": [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "1",
                "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
                "approximateArrivalTimestamp": 1545084650.987
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
            "awsRegion": "us-east-2",
            "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
        },
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "1",
                "sequenceNumber": "49590338271490256608559692540925702759324208523137515618",
                "data": "VGhpcyBpcyBvbmx5IGEgdGVzdC4=",
                "approximateArrivalTimestamp": 1545084711.166
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": "shardId-000000000006:49590338271490256608559692540925702759324208523137515618",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
            "awsRegion": "us-east-2",
            "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
        }
    ]
}`;

describe('buildKinesisEvent', () => {
  it('GIVEN the records of AWS sample event WHEN built THEN the JSON equals the sample byte for byte', () => {
    const event = buildKinesisEvent(
      [
        {
          SequenceNumber: '49590338271490256608559692538361571095921575989136588898',
          PartitionKey: '1',
          Data: Buffer.from('Hello, this is a test.'),
          ApproximateArrivalTimestamp: new Date(1545084650987),
        },
        {
          SequenceNumber: '49590338271490256608559692540925702759324208523137515618',
          PartitionKey: '1',
          Data: Buffer.from('This is only a test.'),
          ApproximateArrivalTimestamp: new Date(1545084711166),
        },
      ],
      {
        shardId: 'shardId-000000000006',
        streamArn: 'arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream',
        awsRegion: 'us-east-2',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
      },
    );
    expect(JSON.stringify(event, null, 4)).toBe(GOLDEN);
  });

  it('keeps binary data intact through base64 and timestamps in seconds', () => {
    const bytes = Uint8Array.from([0, 255, 1, 254, 128]);
    const [r] = buildKinesisEvent(
      [
        {
          SequenceNumber: '1',
          PartitionKey: 'k',
          Data: bytes,
          ApproximateArrivalTimestamp: new Date(1700000000001),
        },
      ],
      {
        shardId: 'shardId-000000000000',
        streamArn: 'arn',
        awsRegion: 'us-east-1',
        invokeIdentityArn: 'role',
      },
    ).Records;
    expect(Buffer.from(r?.kinesis.data ?? '', 'base64')).toEqual(Buffer.from(bytes));
    expect(r?.kinesis.approximateArrivalTimestamp).toBe(1700000000.001);
  });
});

describe('judgeBatchResponse (Lambda success and failure conditions)', () => {
  const seqs = ['100', '200', '300'];
  it.each([[undefined], [null], [{}], [{ batchItemFailures: [] }], [{ batchItemFailures: null }]])(
    'complete success for %j',
    (v) => {
      expect(judgeBatchResponse(v, seqs)).toEqual({ kind: 'success' });
    },
  );
  it.each([
    [{ batchItemFailures: [{ itemIdentifier: '' }] }],
    [{ batchItemFailures: [{ itemIdentifier: null }] }],
    [{ batchItemFailures: [{ itemIdentifer: '200' }] }],
    [{ batchItemFailures: [{ itemIdentifier: '999' }] }],
    [{ batchItemFailures: 'x' }],
    ['ok'],
  ])('complete failure for %j', (v) => {
    expect(judgeBatchResponse(v, seqs).kind).toBe('whole-failure');
  });
  it('resumes at the lowest failed sequence number, compared as numbers', () => {
    expect(
      judgeBatchResponse(
        { batchItemFailures: [{ itemIdentifier: '300' }, { itemIdentifier: '200' }] },
        seqs,
      ),
    ).toEqual({
      kind: 'partial',
      index: 1,
      sequenceNumber: '200',
    });
  });
});

describe('s3FailureObjectKey', () => {
  it('follows aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>', () => {
    expect(
      s3FailureObjectKey(
        'u-1',
        shardId('shardId-000000000001'),
        new Date('2019-11-14T00:38:06.021Z'),
        'r-2',
      ),
    ).toBe('aws/lambda/u-1/shardId-000000000001/2019/11/14/2019-11-14T00.38.06-r-2');
  });
});
