/**
 * Reading an operator's outputs back, as a user or a local run does: the
 * results table (the highest version of each window; docs/sinks.md) and the
 * objects of the output bucket (late data and dead letters under
 * `<prefix>/<operator>/late/` and `<prefix>/<operator>/dead-letter/`).
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  fromResultItem,
  isRetractedItem,
  isSupersededItem,
} from '../../adapters/dynamodb/dynamodb-result-sink.ts';
import type { WindowResult } from '../../model/records.ts';

/**
 * Every result of a DynamoDB results table (a full scan), skipping the
 * markers merged sessions leave where a superseded session was and the
 * retractions a restore leaves where a window has no result any more.
 *
 * @example
 * const results = await readWindowResults(clients.dynamodb, mapping.environment['WEIR_RESULTS_TABLE']!);
 */
export async function readWindowResults(
  dynamodb: DynamoDBClient,
  tableName: string,
): Promise<WindowResult[]> {
  const out: WindowResult[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({ TableName: tableName, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of page.Items ?? [])
      if (!isSupersededItem(item) && !isRetractedItem(item)) out.push(fromResultItem(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Every key under a prefix of a bucket, in S3's order. */
export async function listObjectKeys(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const c of page.Contents ?? []) if (c.Key) keys.push(c.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** The body of an object as UTF-8 text (late-output and dead-letter objects are JSON). */
export async function readObjectText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await obj.Body?.transformToString()) ?? '';
}
