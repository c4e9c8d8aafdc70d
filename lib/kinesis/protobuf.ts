/**
 * A minimal protobuf wire-format reader and writer: exactly what the KPL
 * aggregation format needs (varints including full 64-bit values as BigInt,
 * length-delimited fields) plus skipping of unknown fields of every wire type,
 * so that a future producer adding fields does not break weir.
 *
 * Every read is bounds-checked; a malformed buffer raises
 * {@link ProtobufError} with the byte offset where decoding went wrong, never
 * a RangeError or a silently short value.
 */

/** Protobuf wire types (group start/end are legacy but must be skippable). */
export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Malformed protobuf bytes; `offset` is relative to the start of the message. */
export class ProtobufError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'ProtobufError';
    this.offset = offset;
  }
}

const MAX_U64 = (1n << 64n) - 1n;
// Groups nest; a hostile input could nest them deeply. The KPL never uses
// groups, so a small bound is plenty.
const MAX_GROUP_DEPTH = 32;

/** Sequential reader over one message's bytes. */
export class ProtobufReader {
  private pos: number;
  private readonly end: number;

  /** @param base offset of `bytes[0]` in the enclosing buffer, for error messages. */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly base = 0,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  /** Offset of the next byte, relative to the outermost buffer. */
  get offset(): number {
    return this.base + this.pos;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a varint of up to 64 bits as BigInt. */
  varint64(): bigint {
    const start = this.offset;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint', start);
      const b = this.bytes[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (result > MAX_U64) throw new ProtobufError('varint exceeds 64 bits', start);
        return result;
      }
      shift += 7n;
    }
    throw new ProtobufError('varint longer than 10 bytes', start);
  }

  /** Reads a varint that must fit a non-negative safe integer (lengths, indices). */
  varintNumber(what: string): number {
    const start = this.offset;
    const v = this.varint64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new ProtobufError(`${what} ${v} is too large`, start);
    return Number(v);
  }

  /** Reads a tag; returns field number and wire type. */
  tag(): { field: number; wireType: number; offset: number } {
    const offset = this.offset;
    const key = this.varint64();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0 || key >> 3n > 0x1fffffffn)
      throw new ProtobufError(`invalid field number ${key >> 3n}`, offset);
    return { field, wireType, offset };
  }

  /** Reads a length-delimited payload (the bytes are a view, not a copy). */
  lengthDelimited(): { bytes: Uint8Array; offset: number } {
    const start = this.offset;
    const len = this.varintNumber('length');
    if (len > this.end - this.pos) {
      throw new ProtobufError(
        `length ${len} runs past the end of the message (${this.end - this.pos} bytes left)`,
        start,
      );
    }
    const offset = this.offset;
    const bytes = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return { bytes, offset };
  }

  /** Skips the value of a field with the given wire type. */
  skip(wireType: number, field: number, depth = 0): void {
    const start = this.offset;
    switch (wireType) {
      case WireType.VARINT:
        this.varint64();
        return;
      case WireType.I64:
        this.advance(8, start);
        return;
      case WireType.I32:
        this.advance(4, start);
        return;
      case WireType.LEN:
        this.lengthDelimited();
        return;
      case WireType.SGROUP: {
        if (depth >= MAX_GROUP_DEPTH) throw new ProtobufError('groups nested too deeply', start);
        for (;;) {
          if (this.done()) throw new ProtobufError(`unterminated group for field ${field}`, start);
          const t = this.tag();
          if (t.wireType === WireType.EGROUP) {
            if (t.field !== field)
              throw new ProtobufError(
                `group end for field ${t.field} closes group ${field}`,
                t.offset,
              );
            return;
          }
          this.skip(t.wireType, t.field, depth + 1);
        }
      }
      case WireType.EGROUP:
        throw new ProtobufError(`unexpected group end for field ${field}`, start);
      default:
        throw new ProtobufError(`invalid wire type ${wireType} for field ${field}`, start);
    }
  }

  private advance(n: number, start: number): void {
    if (n > this.end - this.pos) throw new ProtobufError(`truncated ${n}-byte fixed field`, start);
    this.pos += n;
  }
}

/** Growable byte writer. */
export class ProtobufWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(value: number | bigint): this {
    let v = BigInt(value);
    if (v < 0n || v > MAX_U64) throw new RangeError(`varint out of range: ${v}`);
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
    return this;
  }

  tag(field: number, wireType: WireType): this {
    return this.varint((BigInt(field) << 3n) | BigInt(wireType));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LEN).varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
    return this;
  }

  uint64(field: number, value: number | bigint): this {
    return this.tag(field, WireType.VARINT).varint(value);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Encoded size of a varint, without encoding it. */
export function varintSize(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
