/** Finding an operator's Lambda event source mapping by its function and stream (`weir restore --function-name`). */
import { ListEventSourceMappingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { MappingControlError } from '../../ports/mapping-control.ts';

/**
 * The UUID of the one event source mapping from `streamArn` to
 * `functionName`. Throws `MappingControlError` when there is none or more
 * than one (then name it with `--mapping-uuid`).
 *
 * @example
 * const uuid = await findMappingUuid(lambda, 'clicks-handler', streamArn);
 */
export async function findMappingUuid(
  client: Pick<LambdaClient, 'send'>,
  functionName: string,
  streamArn: string,
): Promise<string> {
  const found: string[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(
      new ListEventSourceMappingsCommand({
        FunctionName: functionName,
        EventSourceArn: streamArn,
        ...(marker === undefined ? {} : { Marker: marker }),
      }),
    );
    for (const m of page.EventSourceMappings ?? []) if (m.UUID !== undefined) found.push(m.UUID);
    marker = page.NextMarker;
  } while (marker !== undefined && marker !== '');
  const [only, ...more] = found;
  if (only === undefined)
    throw new MappingControlError(
      `of function ${functionName}`,
      `none reads ${streamArn}; check --function-name, or name the mapping with --mapping-uuid`,
    );
  if (more.length > 0)
    throw new MappingControlError(
      `of function ${functionName}`,
      `${found.length} of them read ${streamArn} (${found.join(', ')}); name one with --mapping-uuid`,
    );
  return only;
}
