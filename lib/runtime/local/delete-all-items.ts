/**
 * Emptying a table on the embedded AWS or LocalStack: what the demo's drill
 * and the restore tests use to lose an operator's state on purpose.
 */
import {
  BatchWriteItemCommand,
  DescribeTableCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { WeirError } from '../../errors.ts';
import { sleep } from '../../util/sleep.ts';

/** BatchWriteItem calls per chunk before unprocessed deletes fail the wipe. */
const ATTEMPTS = 10;

/**
 * Deletes every item of `table` (a consistent Scan, then BatchWriteItem in
 * chunks of 25, unprocessed items retried with backoff). Returns how many
 * items it deleted. For local tables: it reads and deletes the whole table.
 *
 * @example
 * const deleted = await deleteAllItems(clients.dynamodb, 'ClickCounterState');
 */
export async function deleteAllItems(client: DynamoDBClient, table: string): Promise<number> {
  const d = await client.send(new DescribeTableCommand({ TableName: table }));
  const keys = (d.Table?.KeySchema ?? []).map((k) => k.AttributeName as string);
  let deleted = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += 25) {
      const requests: WriteRequest[] = items.slice(i, i + 25).map((it) => ({
        DeleteRequest: { Key: Object.fromEntries(keys.map((k) => [k, it[k]!])) },
      }));
      let pending = requests;
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > ATTEMPTS)
          throw new WeirError(
            `deleting the items of ${table}: ${pending.length} deletes stayed unprocessed after ${ATTEMPTS} BatchWriteItem calls (throttled); run it again`,
          );
        if (attempt > 1) await sleep(50 * 2 ** (attempt - 2));
        const out = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
        );
        pending = out.UnprocessedItems?.[table] ?? [];
      }
      deleted += requests.length;
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return deleted;
}
