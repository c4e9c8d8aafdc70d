/**
 * Splitting a list of sized entries into requests within a service's
 * limits (PutRecords, SendMessageBatch).
 */

/**
 * Yields `items` in order, in runs of at most `maxItems` items and
 * `maxBytes` bytes (summing `size`). An item larger than `maxBytes` goes
 * alone in its run: the service, not the splitter, refuses it.
 *
 * @example
 * for (const batch of chunksBySize(entries, 500, 5 * 1024 * 1024)) await putRecords(batch);
 */
export function* chunksBySize<T extends { readonly size: number }>(
  items: readonly T[],
  maxItems: number,
  maxBytes: number,
): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (chunk.length > 0 && (chunk.length >= maxItems || bytes + item.size > maxBytes)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += item.size;
  }
  if (chunk.length > 0) yield chunk;
}
