/**
 * Decoders turn a record's bytes into a user event. A decoder that throws
 * sends the record to the dead-letter output with reason `decode-failed`.
 */

/** Turns raw record bytes into an event. */
export interface Decoder<T> {
  /** Short name, used in messages. */
  readonly name: string;
  decode(data: Uint8Array): T;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * UTF-8 JSON. Invalid UTF-8 or JSON fails the record (dead letter). The type
 * parameter is a promise the data makes, not a check: validate in `filter`
 * or in the extractors (a throwing extractor dead-letters the record).
 *
 * @example pipeline('clicks').decode(json<Click>())
 */
export function json<T>(): Decoder<T> {
  return {
    name: 'json',
    decode: (data) => JSON.parse(utf8Decoder.decode(data)) as T,
  };
}

/**
 * UTF-8 text, one event per record.
 * @example pipeline('lines').decode(utf8())
 */
export function utf8(): Decoder<string> {
  return { name: 'utf8', decode: (data) => utf8Decoder.decode(data) };
}

/**
 * The raw bytes themselves.
 * @example pipeline('blobs').decode(bytes())
 */
export function bytes(): Decoder<Uint8Array> {
  return { name: 'bytes', decode: (data) => data };
}
