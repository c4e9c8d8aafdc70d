/**
 * In-memory {@link CheckpointStore}: the S3 layout (lib/adapters/checkpoint)
 * over a map of keys to bytes, with S3's listing order and the same gzip and
 * SHA-256 as the S3 adapter, so a test can corrupt, truncate or delete any
 * object of a checkpoint and see exactly what S3 would show.
 */
import {
  ObjectCheckpointStore,
  ObjectExistsError,
  type CheckpointObjects,
  type StoredObject,
} from '../checkpoint/object-checkpoint-store.ts';

/** The map behind an {@link InMemoryCheckpointStore}; tests read and tamper with it. */
export class InMemoryObjects implements CheckpointObjects {
  readonly #objects = new Map<string, Uint8Array>();
  /** Every delete, in order (tests of the deletion order). */
  readonly deleted: string[] = [];

  put(key: string, body: Uint8Array, _contentType: string, createOnly: boolean): Promise<void> {
    if (createOnly && this.#objects.has(key)) {
      return Promise.reject(new ObjectExistsError(key));
    }
    this.#objects.set(key, body.slice());
    return Promise.resolve();
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#objects.get(key)?.slice());
  }

  list(prefix: string): Promise<readonly StoredObject[]> {
    return Promise.resolve(
      this.keys(prefix).map((key) => ({
        key,
        size: (this.#objects.get(key) as Uint8Array).byteLength,
      })),
    );
  }

  listFolders(prefix: string): Promise<readonly string[]> {
    const folders = new Set<string>();
    for (const key of this.keys(prefix)) {
      const slash = key.indexOf('/', prefix.length);
      if (slash >= 0) folders.add(key.slice(0, slash + 1));
    }
    return Promise.resolve([...folders].sort(byUtf8));
  }

  delete(key: string): Promise<void> {
    this.deleted.push(key);
    this.#objects.delete(key);
    return Promise.resolve();
  }

  /** Keys under `prefix` in S3's order (UTF-8 byte order). */
  keys(prefix = ''): string[] {
    return [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort(byUtf8);
  }

  /** An object's bytes (a copy), for tests. */
  read(key: string): Uint8Array | undefined {
    return this.#objects.get(key)?.slice();
  }

  /** Replaces an object's bytes without any check, for tests. */
  write(key: string, body: Uint8Array): void {
    this.#objects.set(key, body.slice());
  }
}

/** S3 lists keys in UTF-8 binary order; JavaScript compares UTF-16 code units. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Options of {@link InMemoryCheckpointStore}. */
export interface InMemoryCheckpointStoreOptions {
  /** Key prefix, as the S3 adapter's. @default 'weir' */
  readonly prefix?: string;
}

/**
 * The in-memory checkpoint store.
 *
 * @example
 * const checkpoints = new InMemoryCheckpointStore();
 * const taker = new CheckpointTaker({ state, checkpoints, clock, operator: 'clicks', streamArn });
 * await taker.take();
 * checkpoints.objects.keys(); // ['weir/clicks/checkpoints/<id>/manifest.json', ...]
 */
export class InMemoryCheckpointStore extends ObjectCheckpointStore {
  /** The stored objects. */
  readonly objects: InMemoryObjects;

  constructor(options: InMemoryCheckpointStoreOptions = {}) {
    const objects = new InMemoryObjects();
    super(objects, { prefix: options.prefix ?? 'weir' });
    this.objects = objects;
  }
}
