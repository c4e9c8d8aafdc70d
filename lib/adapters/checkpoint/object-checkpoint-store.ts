/**
 * The checkpoint layout over an object store, shared by S3CheckpointStore
 * (S3) and InMemoryCheckpointStore (a map): one implementation of the folder
 * layout, the manifest-last commit, integrity checks and deletion order, over
 * a five-call object interface each adapter provides.
 *
 *   <prefix>/<uri operator>/checkpoints/<id>/part-00000.ndjson.gz
 *   <prefix>/<uri operator>/checkpoints/<id>/in-progress.json
 *   <prefix>/<uri operator>/checkpoints/<id>/manifest.json
 *
 * A part is gzip (node:zlib, level 6) of its lines joined by `\n` with a final
 * `\n`; its descriptor carries the stored size and the SHA-256 (node:crypto)
 * of the stored bytes, so a reader detects a missing, truncated or altered
 * object before it decompresses anything.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import {
  CheckpointError,
  CheckpointProblem,
  ConfigError,
  WeirError,
  describeError,
} from '../../errors.ts';
import type {
  CheckpointInProgress,
  CheckpointManifest,
  CheckpointPart,
} from '../../model/checkpoint.ts';
import {
  decodeInProgress,
  decodeManifest,
  encodeInProgress,
  encodeManifest,
} from '../../model/checkpoint-codec.ts';
import { isCheckpointId } from '../../model/checkpoint-id.ts';
import type {
  CheckpointFolder,
  CheckpointPartInput,
  CheckpointStore,
} from '../../ports/checkpoint-store.ts';
import { mapSettled } from '../../util/index.ts';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

/** Object names inside a checkpoint folder. */
export const CheckpointObject = {
  MANIFEST: 'manifest.json',
  IN_PROGRESS: 'in-progress.json',
} as const;

/** Most parts one checkpoint may have (`part-NNNNN`). */
export const MAX_CHECKPOINT_PARTS = 100_000;

/** The object name of part `index`: `part-<5 digits>.ndjson.gz`. */
export function partName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.ndjson.gz`;
}

/** One stored object, as listed. */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

/** A create-only put found the object already stored (S3: 412 PreconditionFailed). */
export class ObjectExistsError extends WeirError {
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    super(`${key} is stored already`, options);
    this.key = key;
  }
}

/** The object calls a checkpoint layout needs; adapters implement them over S3 or a map. */
export interface CheckpointObjects {
  /**
   * Stores an object. `createOnly`: refuse to replace one with
   * {@link ObjectExistsError} where the store can enforce it (S3 on AWS does;
   * s3rver ignores `If-None-Match`, so correctness never depends on it).
   */
  put(key: string, body: Uint8Array, contentType: string, createOnly: boolean): Promise<void>;
  /** An object's bytes, or `undefined` if there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every object under `prefix`, in key order. */
  list(prefix: string): Promise<readonly StoredObject[]>;
  /** The immediate "folders" under `prefix` (common prefixes up to the next `/`), in key order. */
  listFolders(prefix: string): Promise<readonly string[]>;
  /** Deletes an object; a missing one is no error. */
  delete(key: string): Promise<void>;
}

/** Options of {@link ObjectCheckpointStore}. */
export interface ObjectCheckpointStoreOptions {
  /** Key prefix without a trailing slash ('' for the bucket root). @default 'weir' */
  readonly prefix?: string;
  /** Object requests in flight at once (commit checks, deletes). 1..1000. @default 16 */
  readonly concurrency?: number;
}

/**
 * A {@link CheckpointStore} over any {@link CheckpointObjects}.
 *
 * @example
 * class MyStore extends ObjectCheckpointStore { constructor() { super(myObjects, { prefix: 'weir' }); } }
 */
export class ObjectCheckpointStore implements CheckpointStore {
  readonly #objects: CheckpointObjects;
  readonly #prefix: string;
  readonly #concurrency: number;

  constructor(objects: CheckpointObjects, options: ObjectCheckpointStoreOptions = {}) {
    this.#objects = objects;
    this.#prefix = (options.prefix ?? 'weir').replace(/\/+$/, '');
    const concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
      throw new ConfigError('concurrency', concurrency, 'must be an integer 1..1000');
    }
    this.#concurrency = concurrency;
  }

  /** The folder under which an operator's checkpoints live (ends with `/`). */
  operatorPrefix(operator: string): string {
    checkOperator(operator);
    const rel = `${encodeURIComponent(operator)}/checkpoints/`;
    return this.#prefix === '' ? rel : `${this.#prefix}/${rel}`;
  }

  /** The key of an object (`manifest.json`, `in-progress.json`, a part) of a checkpoint. */
  keyOf(operator: string, id: string, name: string): string {
    checkId(operator, id);
    return `${this.operatorPrefix(operator)}${id}/${name}`;
  }

  async writePart(part: CheckpointPartInput): Promise<CheckpointPart> {
    const { operator, checkpointId, index, segment, lines } = part;
    if (!Number.isInteger(index) || index < 0 || index >= MAX_CHECKPOINT_PARTS) {
      throw new ConfigError('index', index, `must be an integer 0..${MAX_CHECKPOINT_PARTS - 1}`);
    }
    const name = partName(index);
    const key = this.keyOf(operator, checkpointId, name);
    const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    const body = new Uint8Array(await gzip(Buffer.from(text, 'utf8'), { level: 6 }));
    await this.#objects.put(key, body, 'application/gzip', false);
    return {
      name,
      index,
      segment,
      items: lines.length,
      bytes: body.byteLength,
      sha256: sha256Hex(body),
    };
  }

  async readPart(manifest: CheckpointManifest, part: CheckpointPart): Promise<readonly string[]> {
    const fail = (problem: CheckpointProblem, detail: string, cause?: unknown): CheckpointError =>
      new CheckpointError(
        {
          operator: manifest.operator,
          checkpointId: manifest.id,
          part: part.name,
          previousCheckpointId: manifest.previousId,
          problem,
          detail,
        },
        cause === undefined ? undefined : { cause },
      );
    const body = await this.#objects.get(this.keyOf(manifest.operator, manifest.id, part.name));
    if (body === undefined) throw fail(CheckpointProblem.MissingPart, 'the part is not stored');
    if (body.byteLength < part.bytes) {
      throw fail(
        CheckpointProblem.TruncatedPart,
        `expected ${part.bytes} bytes, found ${body.byteLength}`,
      );
    }
    if (body.byteLength > part.bytes) {
      throw fail(
        CheckpointProblem.CorruptPart,
        `expected ${part.bytes} bytes, found ${body.byteLength}`,
      );
    }
    const sha = sha256Hex(body);
    if (sha !== part.sha256) {
      throw fail(
        CheckpointProblem.ChecksumMismatch,
        `SHA-256 is ${sha}, the manifest says ${part.sha256}`,
      );
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await gunzip(body));
    } catch (e) {
      throw fail(CheckpointProblem.CorruptPart, `not gzip of UTF-8 text (${describeError(e)})`, e);
    }
    const lines = text === '' ? [] : text.split('\n');
    if (lines.length > 0 && lines.pop() !== '') {
      throw fail(CheckpointProblem.CorruptPart, 'the last line has no line terminator');
    }
    if (lines.length !== part.items) {
      throw fail(
        CheckpointProblem.ItemCountMismatch,
        `expected ${part.items} items, found ${lines.length}`,
      );
    }
    return lines;
  }

  async saveInProgress(state: CheckpointInProgress): Promise<void> {
    const key = this.keyOf(state.operator, state.id, CheckpointObject.IN_PROGRESS);
    await this.#objects.put(key, utf8(encodeInProgress(state)), 'application/json', false);
  }

  async readInProgress(operator: string, id: string): Promise<CheckpointInProgress | undefined> {
    const body = await this.#objects.get(this.keyOf(operator, id, CheckpointObject.IN_PROGRESS));
    if (body === undefined) return undefined;
    const state = decodeInProgress(new TextDecoder().decode(body), {
      operator,
      id,
      name: CheckpointObject.IN_PROGRESS,
    });
    checkNames(state, operator, id, CheckpointObject.IN_PROGRESS);
    return state;
  }

  async commit(manifest: CheckpointManifest): Promise<void> {
    const { operator, id } = manifest;
    const folder = this.keyOf(operator, id, '');
    const stored = new Map(
      (await this.#objects.list(folder)).map((o) => [o.key.slice(folder.length), o.size]),
    );
    const fail = (problem: CheckpointProblem, part: string, detail: string): CheckpointError =>
      new CheckpointError({
        operator,
        checkpointId: id,
        part,
        previousCheckpointId: manifest.previousId,
        problem,
        detail: `${detail}; the checkpoint is not committed`,
      });
    if (stored.has(CheckpointObject.MANIFEST)) {
      throw fail(
        CheckpointProblem.Invalid,
        CheckpointObject.MANIFEST,
        'a manifest is stored already',
      );
    }
    for (const part of manifest.parts) {
      const size = stored.get(part.name);
      if (size === undefined) {
        throw fail(CheckpointProblem.MissingPart, part.name, 'the part is not stored');
      }
      if (size !== part.bytes) {
        throw fail(
          size < part.bytes ? CheckpointProblem.TruncatedPart : CheckpointProblem.CorruptPart,
          part.name,
          `expected ${part.bytes} bytes, found ${size}`,
        );
      }
    }
    // Parts the manifest does not list: written by a call that failed before
    // it saved them, and not rewritten by the call that resumed. Not part of
    // the checkpoint, so not left in its folder.
    const listed = new Set(manifest.parts.map((p) => p.name));
    const strays = [...stored.keys()].filter(
      (name) => /^part-\d+\.ndjson\.gz$/.test(name) && !listed.has(name),
    );
    await this.#deleteAll(strays.map((name) => this.keyOf(operator, id, name)));
    try {
      await this.#objects.put(
        this.keyOf(operator, id, CheckpointObject.MANIFEST),
        utf8(encodeManifest(manifest)),
        'application/json',
        true,
      );
    } catch (e) {
      if (!(e instanceof ObjectExistsError)) throw e;
      throw fail(
        CheckpointProblem.Invalid,
        CheckpointObject.MANIFEST,
        'another taker stored a manifest first',
      );
    }
    await this.#objects.delete(this.keyOf(operator, id, CheckpointObject.IN_PROGRESS));
  }

  async readManifest(operator: string, id: string): Promise<CheckpointManifest> {
    const body = await this.#objects.get(this.keyOf(operator, id, CheckpointObject.MANIFEST));
    if (body === undefined) {
      const folders = await this.list(operator);
      const folder = folders.find((f) => f.id === id);
      throw new CheckpointError({
        operator,
        checkpointId: id,
        part: CheckpointObject.MANIFEST,
        previousCheckpointId: previousComplete(folders, id),
        problem: CheckpointProblem.NotFound,
        detail:
          folder === undefined
            ? 'no such checkpoint'
            : folder.inProgress
              ? 'the checkpoint is still being taken (in-progress.json, no manifest yet)'
              : 'the folder has parts but no manifest: its taking was abandoned (retention deletes it)',
      });
    }
    try {
      const manifest = decodeManifest(new TextDecoder().decode(body), {
        operator,
        id,
        name: CheckpointObject.MANIFEST,
      });
      checkNames(manifest, operator, id, CheckpointObject.MANIFEST);
      return manifest;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      // The manifest cannot say which checkpoint came before it: the listing can.
      throw new CheckpointError(
        {
          operator,
          checkpointId: id,
          part: CheckpointObject.MANIFEST,
          previousCheckpointId: previousComplete(await this.list(operator), id),
          problem: e.problem,
          detail: e.detail,
        },
        { cause: e },
      );
    }
  }

  async latestId(operator: string): Promise<string | undefined> {
    const prefix = this.operatorPrefix(operator);
    const ids = (await this.#objects.listFolders(prefix))
      .map((f) => f.slice(prefix.length).replace(/\/$/, ''))
      .filter(isCheckpointId)
      .sort()
      .reverse();
    for (const id of ids) {
      const found = await this.#objects.list(this.keyOf(operator, id, CheckpointObject.MANIFEST));
      if (found.some((o) => o.key.endsWith(`/${id}/${CheckpointObject.MANIFEST}`))) return id;
    }
    return undefined;
  }

  async list(operator: string): Promise<readonly CheckpointFolder[]> {
    const prefix = this.operatorPrefix(operator);
    const folders = new Map<
      string,
      { complete: boolean; inProgress: boolean; objects: number; bytes: number }
    >();
    for (const o of await this.#objects.list(prefix)) {
      const rest = o.key.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) continue;
      const id = rest.slice(0, slash);
      const name = rest.slice(slash + 1);
      if (!isCheckpointId(id) || name.includes('/')) continue;
      let f = folders.get(id);
      if (f === undefined) {
        f = { complete: false, inProgress: false, objects: 0, bytes: 0 };
        folders.set(id, f);
      }
      f.objects++;
      f.bytes += o.size;
      if (name === CheckpointObject.MANIFEST) f.complete = true;
      if (name === CheckpointObject.IN_PROGRESS) f.inProgress = true;
    }
    return [...folders.entries()]
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
      .map(([id, f]) => ({ id, ...f }));
  }

  async delete(operator: string, id: string): Promise<void> {
    // Manifest first: from here on the checkpoint is not listed as complete;
    // the marker next, so nobody resumes it; the parts last.
    await this.#objects.delete(this.keyOf(operator, id, CheckpointObject.MANIFEST));
    await this.#objects.delete(this.keyOf(operator, id, CheckpointObject.IN_PROGRESS));
    const rest = await this.#objects.list(this.keyOf(operator, id, ''));
    await this.#deleteAll(rest.map((o) => o.key));
  }

  /** Deletes keys, `concurrency` at a time; rethrows the first failure once all settled. */
  async #deleteAll(keys: readonly string[]): Promise<void> {
    const settled = await mapSettled(keys, this.#concurrency, (key) => this.#objects.delete(key));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

/** The newest complete checkpoint older than `id` in a listing (newest first), or `null`. */
function previousComplete(folders: readonly CheckpointFolder[], id: string): string | null {
  return folders.find((f) => f.complete && f.id < id)?.id ?? null;
}

function checkNames(
  doc: { readonly operator: string; readonly id: string },
  operator: string,
  id: string,
  name: string,
): void {
  if (doc.operator !== operator || doc.id !== id) {
    throw new CheckpointError({
      operator,
      checkpointId: id,
      part: name,
      problem: CheckpointProblem.UnreadableManifest,
      detail: `it describes checkpoint ${doc.id} of operator ${doc.operator}, not this folder's`,
    });
  }
}

function checkOperator(operator: string): void {
  if (typeof operator !== 'string' || operator === '') {
    throw new ConfigError('operator', operator, 'must be a non-empty operator name');
  }
}

function checkId(operator: string, id: string): void {
  if (!isCheckpointId(id)) {
    throw new CheckpointError({
      operator,
      checkpointId: id,
      problem: CheckpointProblem.Invalid,
      detail: 'not a checkpoint id (<16-digit epoch ms>-<8 hex>, e.g. 0001767225600000-3f9a1c0b)',
    });
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
