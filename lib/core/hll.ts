/**
 * HyperLogLog sketch for approximate distinct counts (Flajolet et al. 2007,
 * with linear counting for small cardinalities as in HLL++).
 *
 * Precision `p` gives `m = 2^p` one-byte registers and a relative standard
 * error of about `1.04 / sqrt(m)`: p = 12 (the default) is 1.6%, p = 14 is
 * 0.81%. Sketches of equal precision merge by taking the register-wise
 * maximum, so merge is commutative, associative and idempotent.
 *
 * Hashing: two MurmurHash3 (x86, 32-bit) hashes of the value's UTF-16 code
 * units with different seeds; the first picks the register, the second gives
 * the rank (leading zeros + 1, at most 33).
 */

/** Smallest accepted precision. */
export const HLL_MIN_PRECISION = 4;
/** Largest accepted precision. */
export const HLL_MAX_PRECISION = 16;

/** Register array of a sketch; its length is `2^precision`. */
export type HllRegisters = Uint8Array;

function murmur3(key: string, seed: number): number {
  let h = seed >>> 0;
  const n = key.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = key.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Creates an empty sketch. */
export function hllCreate(precision: number): HllRegisters {
  return new Uint8Array(1 << precision);
}

/** Adds a value (by its string form) to a sketch, in place. */
export function hllAdd(registers: HllRegisters, precision: number, value: string): void {
  const index = murmur3(value, 0x9747b28c) >>> (32 - precision);
  const rank = Math.clz32(murmur3(value, 0x5bd1e995)) + 1;
  if (rank > (registers[index] ?? 0)) registers[index] = rank;
}

/** Register-wise maximum of two sketches of equal precision, into a new sketch. */
export function hllMerge(a: HllRegisters, b: HllRegisters): HllRegisters {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    out[i] = x > y ? x : y;
  }
  return out;
}

/** Estimated number of distinct values added. */
export function hllEstimate(registers: HllRegisters): number {
  const m = registers.length;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i++) {
    const r = registers[i] ?? 0;
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}

const OFFSET = 48; // registers are encoded as characters '0' (rank 0) .. 'Q' (rank 33)

/**
 * JSON-safe encoding: sparse `[index * 64 + rank, ...]` while few registers
 * are set, else a dense string of one printable ASCII character per register.
 */
export function hllToJson(registers: HllRegisters): number[] | string {
  let set = 0;
  for (let i = 0; i < registers.length; i++) if (registers[i] !== 0) set++;
  if (set * 6 < registers.length) {
    const sparse: number[] = [];
    for (let i = 0; i < registers.length; i++) {
      const r = registers[i] ?? 0;
      if (r !== 0) sparse.push(i * 64 + r);
    }
    return sparse;
  }
  let s = '';
  for (let i = 0; i < registers.length; i++) s += String.fromCharCode(OFFSET + (registers[i] ?? 0));
  return s;
}

/** Inverse of {@link hllToJson}. */
export function hllFromJson(json: unknown, precision: number): HllRegisters {
  const out = hllCreate(precision);
  if (typeof json === 'string') {
    if (json.length !== out.length)
      throw new RangeError(`HLL sketch has ${json.length} registers, expected ${out.length}`);
    for (let i = 0; i < json.length; i++) out[i] = json.charCodeAt(i) - OFFSET;
    return out;
  }
  if (!Array.isArray(json)) throw new RangeError('HLL sketch must be a string or an array');
  for (const v of json as unknown[]) {
    if (typeof v !== 'number') throw new RangeError('HLL sparse entry must be a number');
    const index = Math.floor(v / 64);
    if (index >= out.length) throw new RangeError(`HLL register ${index} out of range`);
    out[index] = v % 64;
  }
  return out;
}
