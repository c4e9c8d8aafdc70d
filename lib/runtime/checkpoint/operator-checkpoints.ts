/**
 * An operator's checkpoints from outside its functions (the `weir
 * checkpoint` and `weir checkpoints` commands): the state table, the
 * checkpoint bucket and prefix and the stream, wired to the same adapters
 * the checkpoint function uses, and a CheckpointStore wrapper that reports
 * each stored part (the progress line).
 */
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import {
  createAwsClients,
  type AwsClients,
  type ServiceEndpoints,
  type StaticCredentials,
} from '../../adapters/aws-clients.ts';
import { DynamoDbStateStore } from '../../adapters/dynamodb/dynamodb-state-store.ts';
import { S3CheckpointStore } from '../../adapters/s3/s3-checkpoint-store.ts';
import { ConfigError } from '../../errors.ts';
import type { CheckpointManifest, CheckpointPart } from '../../model/checkpoint.ts';
import type { CheckpointPartInput, CheckpointStore } from '../../ports/checkpoint-store.ts';

/** Where an operator's state and checkpoints are. */
export interface OperatorCheckpointsTarget {
  readonly operator: string;
  readonly region: string;
  readonly endpoints: ServiceEndpoints;
  /** @default the SDK's default provider chain */
  readonly credentials?: StaticCredentials;
  readonly checkpointBucket: string;
  /** @default 'weir' */
  readonly checkpointPrefix?: string;
  /** Needed to take a checkpoint, not to list them. */
  readonly stateTable?: string;
  /** The stream's ARN, or its name (then DescribeStreamSummary finds the ARN). Needed to take one. */
  readonly stream?: string;
}

/** The wired stores of one operator. */
export interface OperatorCheckpoints {
  readonly clients: AwsClients;
  readonly checkpoints: CheckpointStore;
  /** The state store; `undefined` without `stateTable`. */
  readonly state: DynamoDbStateStore | undefined;
  /** The stream's ARN (resolved from a name when needed). */
  streamArn(): Promise<string>;
}

/** Wires an operator's checkpoint store (and state store when a table is named). Destroy `clients` when done. */
export function openOperatorCheckpoints(t: OperatorCheckpointsTarget): OperatorCheckpoints {
  const clients = createAwsClients({
    region: t.region,
    endpoints: t.endpoints,
    ...(t.credentials ? { credentials: t.credentials } : {}),
  });
  const checkpoints = new S3CheckpointStore({
    client: clients.s3,
    bucket: t.checkpointBucket,
    prefix: t.checkpointPrefix ?? 'weir',
  });
  const state =
    t.stateTable === undefined
      ? undefined
      : new DynamoDbStateStore({ client: clients.dynamodb, tableName: t.stateTable });
  return {
    clients,
    checkpoints,
    state,
    async streamArn() {
      const s = t.stream;
      if (s === undefined || s === '')
        throw new ConfigError('stream', s, 'must name the source stream (its name or ARN)');
      if (s.startsWith('arn:')) return s;
      const out = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: s }));
      const arn = out.StreamDescriptionSummary?.StreamARN;
      if (arn === undefined)
        throw new ConfigError('stream', s, 'names no stream Kinesis describes');
      return arn;
    },
  };
}

/** What {@link ReportingCheckpointStore} reports after each stored part. */
export interface PartsProgress {
  readonly checkpointId: string;
  readonly parts: number;
  readonly items: number;
  readonly bytes: number;
}

/** A CheckpointStore that tells `onPart` about every part it stores (the progress of a taking). */
export class ReportingCheckpointStore implements CheckpointStore {
  #parts = 0;
  #items = 0;
  #bytes = 0;
  constructor(
    private readonly inner: CheckpointStore,
    private readonly onPart: (progress: PartsProgress) => void,
  ) {}
  async writePart(part: CheckpointPartInput): Promise<CheckpointPart> {
    const out = await this.inner.writePart(part);
    this.#parts += 1;
    this.#items += out.items;
    this.#bytes += out.bytes;
    this.onPart({
      checkpointId: part.checkpointId,
      parts: this.#parts,
      items: this.#items,
      bytes: this.#bytes,
    });
    return out;
  }
  readPart(manifest: CheckpointManifest, part: CheckpointPart): Promise<readonly string[]> {
    return this.inner.readPart(manifest, part);
  }
  saveInProgress(...a: Parameters<CheckpointStore['saveInProgress']>) {
    return this.inner.saveInProgress(...a);
  }
  readInProgress(operator: string, id: string) {
    return this.inner.readInProgress(operator, id);
  }
  commit(manifest: CheckpointManifest): Promise<void> {
    return this.inner.commit(manifest);
  }
  readManifest(operator: string, id: string): Promise<CheckpointManifest> {
    return this.inner.readManifest(operator, id);
  }
  latestId(operator: string): Promise<string | undefined> {
    return this.inner.latestId(operator);
  }
  list(operator: string) {
    return this.inner.list(operator);
  }
  delete(operator: string, id: string): Promise<void> {
    return this.inner.delete(operator, id);
  }
}
