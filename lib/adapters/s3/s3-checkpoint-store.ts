/**
 * S3CheckpointStore: checkpoints as S3 objects (layout and integrity rules in
 * lib/adapters/checkpoint/object-checkpoint-store.ts, docs/recovery.md):
 *
 *   <prefix>/<uri operator>/checkpoints/<id>/part-00000.ndjson.gz   PutObject, application/gzip
 *   <prefix>/<uri operator>/checkpoints/<id>/in-progress.json       PutObject (replaced on every save)
 *   <prefix>/<uri operator>/checkpoints/<id>/manifest.json          PutObject If-None-Match: *, written last
 *
 * Requests: ListObjectsV2 (paged; with Delimiter '/' to find the newest
 * folder), GetObject, PutObject, DeleteObject (one per key: s3rver and
 * LocalStack both take it, and a checkpoint has few objects). Throttling
 * (SlowDown, 503) and 5xx are retried with full-jitter backoff; a missing
 * object is `undefined`; anything else is a {@link CheckpointStorageError}.
 *
 * Emulator facts (docs/local-aws.md): the client must calculate checksums
 * only WHEN_REQUIRED (else s3rver stores the aws-chunked framing and the
 * SHA-256 check fails) and use path-style addressing; `createAwsClients` does
 * both for an overridden endpoint. s3rver does not enforce `If-None-Match`,
 * so nothing here depends on it: commit checks for a manifest first.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ConfigError, WeirError, describeError, errorName } from '../../errors.ts';
import {
  ObjectCheckpointStore,
  ObjectExistsError,
  type CheckpointObjects,
  type StoredObject,
} from '../checkpoint/object-checkpoint-store.ts';
import {
  isTransientError,
  retryPolicy,
  withRetry,
  type RetryOptions,
  type RetryPolicy,
} from '../retry.ts';

/** Options of {@link S3CheckpointStore}. */
export interface S3CheckpointStoreProps {
  readonly client: S3Client;
  /** The checkpoint bucket (the construct's `CheckpointBucketName`). */
  readonly bucket: string;
  /** Key prefix without a trailing slash (`WEIR_CHECKPOINT_PREFIX`). @default 'weir' */
  readonly prefix?: string;
  /** Requests in flight at once (commit checks, deletes). 1..1000. @default 16 */
  readonly concurrency?: number;
  /** Backoff for SlowDown and 5xx errors. @default 8 attempts, 25 ms base, 5 s cap */
  readonly retry?: RetryOptions;
  /**
   * Send `If-None-Match: *` with the manifest, so S3 refuses to replace a
   * manifest (a second taker of the same id). Turn off only for an S3
   * emulation that rejects the header. @default true
   */
  readonly conditionalWrites?: boolean;
}

/** An S3 request for a checkpoint object failed (after retries). */
export class CheckpointStorageError extends WeirError {
  readonly bucket: string;
  readonly key: string;
  constructor(bucket: string, key: string, message: string, options?: { cause?: unknown }) {
    super(`checkpoint storage s3://${bucket}/${key}: ${message}`, options);
    this.bucket = bucket;
    this.key = key;
  }
}

/**
 * Checkpoints in an S3 bucket.
 *
 * @example
 * const checkpoints = new S3CheckpointStore({ client: clients.s3, bucket: process.env.WEIR_CHECKPOINT_BUCKET!, prefix: 'weir' });
 * const latest = await checkpoints.latestId('clicks');
 */
export class S3CheckpointStore extends ObjectCheckpointStore {
  constructor(props: S3CheckpointStoreProps) {
    if (typeof props.bucket !== 'string' || props.bucket === '') {
      throw new ConfigError('bucket', props.bucket, 'must be a non-empty bucket name');
    }
    super(new S3Objects(props), {
      prefix: props.prefix ?? 'weir',
      ...(props.concurrency === undefined ? {} : { concurrency: props.concurrency }),
    });
  }
}

class S3Objects implements CheckpointObjects {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #retry: RetryPolicy;
  readonly #conditional: boolean;

  constructor(props: S3CheckpointStoreProps) {
    this.#client = props.client;
    this.#bucket = props.bucket;
    const retryable = props.retry?.isRetryable ?? isTransientError;
    // 409 ConditionalRequestConflict: a concurrent conditional write; S3 asks to retry.
    this.#retry = retryPolicy(
      { ...props.retry, isRetryable: (e: unknown) => retryable(e) || status(e) === 409 },
      { field: 'retry' },
    );
    this.#conditional = props.conditionalWrites ?? true;
  }

  async put(
    key: string,
    body: Uint8Array,
    contentType: string,
    createOnly: boolean,
  ): Promise<void> {
    await this.#call(key, () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ...(createOnly && this.#conditional ? { IfNoneMatch: '*' } : {}),
        }),
      ),
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.#call(key, async () => {
        const out = await this.#client.send(
          new GetObjectCommand({ Bucket: this.#bucket, Key: key }),
        );
        if (out.Body === undefined) return new Uint8Array();
        return out.Body.transformToByteArray();
      });
    } catch (e) {
      if (e instanceof CheckpointStorageError && isNotFound(e.cause)) return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<readonly StoredObject[]> {
    const out: StoredObject[] = [];
    await this.#pages(prefix, undefined, (page) => {
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0 });
      }
    });
    return out;
  }

  async listFolders(prefix: string): Promise<readonly string[]> {
    const out: string[] = [];
    await this.#pages(prefix, '/', (page) => {
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== undefined) out.push(p.Prefix);
    });
    return out;
  }

  async delete(key: string): Promise<void> {
    await this.#call(key, () =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })),
    );
  }

  async #pages(
    prefix: string,
    delimiter: string | undefined,
    onPage: (page: ListObjectsV2CommandOutput) => void,
  ): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.#call(prefix, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: prefix,
            ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        ),
      );
      onPage(page);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async #call<T>(key: string, request: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(request, this.#retry);
    } catch (e) {
      if (status(e) === 412 || errorName(e) === 'PreconditionFailed') {
        throw new ObjectExistsError(key, { cause: e });
      }
      throw new CheckpointStorageError(this.#bucket, key, describeError(e), { cause: e });
    }
  }
}

function status(e: unknown): number | undefined {
  const s = (e as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

function isNotFound(e: unknown): boolean {
  const name = errorName(e);
  return name === 'NoSuchKey' || (status(e) === 404 && name !== 'NoSuchBucket');
}
