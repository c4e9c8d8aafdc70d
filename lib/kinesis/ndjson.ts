/**
 * Streaming NDJSON (newline-delimited JSON) reader. Splits on `\n` bytes
 * (so a multi-byte character split across chunks is never mangled), accepts
 * `\r\n`, skips blank lines, strips a UTF-8 BOM on the first line, and
 * rejects invalid UTF-8 instead of replacing it with U+FFFD.
 */
import { RecordDecodeError } from '../errors.ts';

/** One parsed line. */
export interface NdjsonLine {
  /** The parsed JSON value. */
  readonly value: unknown;
  /** 1-based line number in the input. */
  readonly line: number;
  /** The line's text, without the line terminator. */
  readonly text: string;
}

/** A line is not valid JSON (or not UTF-8, or too long). */
export class NdjsonLineError extends RecordDecodeError {
  readonly line: number;
  readonly reason: string;
  constructor(line: number, reason: string, options?: { cause?: unknown }) {
    super(`line ${line}: ${reason}`, options);
    this.line = line;
    this.reason = reason;
  }
}

/** Options of {@link readNdjson}. */
export interface NdjsonOptions {
  /**
   * Skip bad lines (reporting each to `onInvalid`) instead of throwing
   * {@link NdjsonLineError} at the first one. @default false
   */
  readonly skipInvalid?: boolean;
  /** Receives every skipped line's error when `skipInvalid` is set. @default none */
  readonly onInvalid?: (error: NdjsonLineError) => void;
  /** Longest accepted line in bytes; longer lines are errors. @default 16 MiB */
  readonly maxLineBytes?: number;
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Yields each non-blank line of an NDJSON byte stream as a parsed value.
 *
 * @example
 * for await (const { value, line } of readNdjson(createReadStream('events.ndjson'))) {
 *   console.log(line, value);
 * }
 */
export async function* readNdjson(
  input: AsyncIterable<Uint8Array | string>,
  options: NdjsonOptions = {},
): AsyncGenerator<NdjsonLine, void, undefined> {
  const maxLineBytes = options.maxLineBytes ?? 16 * 1024 * 1024;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const encoder = new TextEncoder();
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  let lineNo = 0;
  let overflow = false;

  function* emit(result: NdjsonLine | NdjsonLineError | undefined): Generator<NdjsonLine> {
    if (result === undefined) return;
    if (result instanceof NdjsonLineError) {
      if (!options.skipInvalid) throw result;
      options.onInvalid?.(result);
      return;
    }
    yield result;
  }

  function takeLine(tail: Uint8Array): Uint8Array {
    if (parts.length === 0) return tail;
    const out = new Uint8Array(partBytes + tail.length);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    out.set(tail, o);
    parts = [];
    partBytes = 0;
    return out;
  }

  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(NL, start);
      if (nl < 0) break;
      const piece = bytes.subarray(start, nl);
      start = nl + 1;
      if (overflow || partBytes + piece.length > maxLineBytes) {
        parts = [];
        partBytes = 0;
        overflow = false;
        lineNo++;
        yield* emit(new NdjsonLineError(lineNo, `is longer than ${maxLineBytes} bytes`));
        continue;
      }
      yield* emit(parseLine(takeLine(piece), ++lineNo, decoder));
    }
    if (start < bytes.length) {
      const rest = bytes.subarray(start);
      if (overflow || partBytes + rest.length > maxLineBytes) {
        // Keep nothing of an overlong line; report it when its end arrives.
        overflow = true;
        parts = [];
        partBytes = 0;
      } else {
        // Copy: the stream may reuse its chunk buffer.
        parts.push(rest.slice());
        partBytes += rest.length;
      }
    }
  }
  if (overflow) {
    lineNo++;
    yield* emit(new NdjsonLineError(lineNo, `is longer than ${maxLineBytes} bytes`));
  } else if (partBytes > 0) {
    yield* emit(parseLine(takeLine(new Uint8Array(0)), lineNo + 1, decoder));
  }
}

/**
 * Line `lineNo` as a parsed value, a {@link NdjsonLineError}, or undefined
 * when blank. `first` decodes line 1 (it honours and strips a BOM).
 */
function parseLine(
  bytes: Uint8Array,
  lineNo: number,
  first: { decode(input: Uint8Array): string },
): NdjsonLine | NdjsonLineError | undefined {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === CR) end--;
  let text: string;
  try {
    // A fresh decode per line: a BOM is only honoured (and stripped) on line 1.
    text = (
      lineNo === 1 ? first : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
    ).decode(bytes.subarray(0, end));
  } catch (cause) {
    return new NdjsonLineError(lineNo, 'is not valid UTF-8', { cause });
  }
  if (text.trim() === '') return undefined;
  try {
    return { value: JSON.parse(text) as unknown, line: lineNo, text };
  } catch (cause) {
    const reason = cause instanceof SyntaxError ? cause.message : String(cause);
    // V8's message quotes the line for some errors only.
    const shown = reason.includes(' is not valid JSON') ? reason : `${reason} in ${preview(text)}`;
    return new NdjsonLineError(lineNo, `is not valid JSON: ${shown}`, { cause });
  }
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}
