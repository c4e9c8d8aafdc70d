/**
 * ListShards, paginated: the one place that walks a stream's shard list
 * (the shard directory, the stream helpers and the local event source
 * mapping all read it through here).
 */
import {
  ListShardsCommand,
  type ListShardsCommandOutput,
  type Shard,
} from '@aws-sdk/client-kinesis';

/** How Kinesis APIs name a stream: by name, or by ARN. */
export type KinesisStreamTarget = { readonly StreamName: string } | { readonly StreamARN: string };

/** What {@link listShards} needs of a KinesisClient; a hand-written fake fits too. */
export interface KinesisListShardsClient {
  send(command: ListShardsCommand): Promise<ListShardsCommandOutput>;
}

/**
 * The API target for a stream given as a name or an ARN (`arn:...`).
 *
 * @example
 * kinesisStreamTarget('clicks'); // { StreamName: 'clicks' }
 */
export function kinesisStreamTarget(stream: string): KinesisStreamTarget {
  return stream.startsWith('arn:') ? { StreamARN: stream } : { StreamName: stream };
}

/**
 * Every shard of a stream, open and closed, in ListShards order, following
 * `NextToken` until the last page. `stream` is a name, an ARN, or a target.
 *
 * @example
 * const open = (await listShards(kinesis, 'clicks')).filter(
 *   (s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined,
 * );
 */
export async function listShards(
  kinesis: KinesisListShardsClient,
  stream: string | KinesisStreamTarget,
): Promise<Shard[]> {
  const target = typeof stream === 'string' ? kinesisStreamTarget(stream) : stream;
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    // A page after the first is addressed by its token alone (ListShards rejects both).
    const page = await kinesis.send(
      new ListShardsCommand(token === undefined ? { ...target } : { NextToken: token }),
    );
    shards.push(...(page.Shards ?? []));
    token = page.NextToken === '' ? undefined : page.NextToken;
  } while (token !== undefined);
  return shards;
}
