/**
 * The first operator: counts clicks per page per event-time minute with plain
 * DynamoDB `ADD` updates. It is at-least-once (a retried batch counts twice)
 * and exists to prove the plumbing end to end; the exactly-once engine
 * replaces it (see docs/semantics.md and the state issue).
 *
 * Environment (parsed once, at cold start):
 * - `WEIR_STATE_TABLE`: table with string keys `pk`, `sk`.
 * - `WEIR_OPERATOR`: operator name, prefix of every item. @default 'click-counter'
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, endpointsFromEnv } from '../../lib/adapters/aws-clients.ts';
import { ConfigError } from '../../lib/errors.ts';
import { countClicks, type ClickCounts } from './count-clicks.ts';

const table = process.env['WEIR_STATE_TABLE'];
if (!table) throw new ConfigError('WEIR_STATE_TABLE', table, 'must name the DynamoDB state table');
const operator = process.env['WEIR_OPERATOR'] ?? 'click-counter';
const { documentClient } = createAwsClients({
  region: process.env['AWS_REGION'] ?? 'us-east-1',
  endpoints: endpointsFromEnv(process.env),
});

/** Lambda entry point for a Kinesis event source mapping with ReportBatchItemFailures. */
export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  const counts = countClicks(event.Records);
  const failed = await writeCounts(counts);
  if (failed.length === 0) return { batchItemFailures: [] };
  // Resume at the first record of the earliest group that was not written.
  const lowest = failed.reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b));
  return { batchItemFailures: [{ itemIdentifier: lowest }] };
}

async function writeCounts(counts: ClickCounts): Promise<string[]> {
  const updates: { input: UpdateCommandInput; first: string }[] = [];
  for (const g of counts.perWindow.values()) {
    updates.push({
      first: g.firstSequenceNumber,
      input: {
        TableName: table,
        Key: { pk: `${operator}#${g.page}`, sk: `minute#${new Date(g.minuteStart).toISOString()}` },
        UpdateExpression: 'ADD #count :n SET #page = :page, #windowStart = :ws',
        ExpressionAttributeNames: { '#count': 'count', '#page': 'page', '#windowStart': 'windowStart' },
        ExpressionAttributeValues: { ':n': g.count, ':page': g.page, ':ws': g.minuteStart },
      },
    });
  }
  for (const [shardId, s] of counts.perShard) {
    updates.push({
      first: s.firstSequenceNumber,
      input: {
        TableName: table,
        Key: { pk: `${operator}#_shards`, sk: shardId },
        UpdateExpression: 'ADD #records :n, #deadLettered :d',
        ExpressionAttributeNames: { '#records': 'records', '#deadLettered': 'deadLettered' },
        ExpressionAttributeValues: { ':n': s.records, ':d': s.deadLettered },
      },
    });
  }
  const failedFirstSequences: string[] = [];
  // Bounded concurrency: at most 16 writes in flight.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(16, updates.length) }, async () => {
      for (let u = updates[next++]; u !== undefined; u = updates[next++]) {
        try {
          await documentClient.send(new UpdateCommand(u.input));
        } catch (err) {
          console.error(JSON.stringify({ msg: 'write failed', key: u.input.Key, error: String(err) }));
          failedFirstSequences.push(u.first);
        }
      }
    }),
  );
  return failedFirstSequences;
}
