/**
 * Test helper: a loopback HTTP proxy in front of the embedded AWS that records
 * every AWS API call going through it as the IAM authorizations it needs,
 * for DynamoDB and Kinesis (JSON protocols, operation in `X-Amz-Target`) and
 * S3 (REST, path-style: operation from the method, path and query).
 *
 *   function code ─► proxy (one per function) ─┬─► DynamoDB Local   X-Amz-Target: DynamoDB_20120810.*
 *                      │                        ├─► kinesalite       X-Amz-Target: Kinesis_20131202.*
 *                      │                        └─► s3rver           anything else
 *                      └─► RecordedCall { operation, authorizations: [{ action, resource }], status }
 *
 * Point a process at it with `AWS_ENDPOINT_URL_DYNAMODB`, `_KINESIS` and `_S3`
 * all set to `proxy.url`. Bytes and headers (Host included) go through
 * unchanged, so signatures and checksums still hold.
 *
 * What a call needs follows the Service Authorization Reference: an
 * operation is authorized by the action of the same name on the resource it
 * names, except TransactWriteItems (each item by its own PutItem, UpdateItem,
 * DeleteItem or ConditionCheckItem), Query and Scan with IndexName (the
 * index), GetRecords (the stream its iterator came from, which the proxy
 * learns from GetShardIterator answers), S3 uploads in parts (s3:PutObject),
 * listings (s3:ListBucket on the bucket).
 *
 * Faults: `fail` answers a call with an AWS error instead of forwarding it,
 * to drive the code paths that only run after a refused or lost request.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A resource as an IAM policy names it, with the emulators' physical names. */
export type RecordedResource =
  | { readonly kind: 'table'; readonly table: string }
  | { readonly kind: 'index'; readonly table: string; readonly index: string }
  | { readonly kind: 'stream'; readonly stream: string }
  | {
      readonly kind: 'bucket';
      readonly bucket: string;
      /** The `prefix` a listing asked for (IAM's `s3:prefix` condition key). */
      readonly prefix?: string;
    }
  | { readonly kind: 'object'; readonly bucket: string; readonly key: string }
  | { readonly kind: 'unknown'; readonly detail: string };

/** One IAM authorization a call needs. */
export interface Authorization {
  /** `service:Action`, e.g. `dynamodb:PutItem`. */
  readonly action: string;
  readonly resource: RecordedResource;
}

/** One AWS call that went through the proxy. */
export interface RecordedCall {
  readonly seq: number;
  readonly service: 'dynamodb' | 'kinesis' | 's3';
  /** The API operation, e.g. `TransactWriteItems`, `GetRecords`, `PutObject`. */
  readonly operation: string;
  readonly authorizations: readonly Authorization[];
  /** The JSON input of a DynamoDB or Kinesis call (S3 calls: undefined). */
  readonly input: Readonly<Record<string, unknown>> | undefined;
  /** HTTP status of the answer (0 before it came). */
  status: number;
  /** Error type of a failed answer (`__type`, or the S3 `<Code>`). */
  errorType?: string;
  /** Answered by the `fail` hook, never forwarded. */
  readonly injected: boolean;
}

/** Where the proxy forwards each service. */
export interface RecordingProxyTargets {
  readonly dynamodb: string;
  readonly kinesis: string;
  readonly s3: string;
}

/** Options of {@link AwsRecordingProxy.start}. */
export interface AwsRecordingProxyOptions {
  /** A label for reports (e.g. the function whose role the calls stand for). */
  readonly name: string;
  readonly targets: RecordingProxyTargets;
  /**
   * Fault injection, called for every DynamoDB and Kinesis call with its
   * operation and JSON input: an error type returned (e.g.
   * `ConditionalCheckFailedException`) is answered with HTTP 400 and that
   * `__type`, and the call never reaches the emulator (it is still recorded).
   */
  readonly fail?: (
    operation: string,
    input: Readonly<Record<string, unknown>>,
  ) => string | undefined;
}

type Json = Record<string, unknown>;

/**
 * A recording proxy on 127.0.0.1 (random port).
 *
 * @example
 * const proxy = await AwsRecordingProxy.start({ name: 'ticker', targets: aws.endpoints });
 * const env = { ...aws.env(), ...proxy.endpointEnv() };
 * // ... run the function with env ...
 * proxy.calls(); // [{ operation: 'Query', authorizations: [{ action: 'dynamodb:Query', resource: { kind: 'index', ... } }] }, ...]
 * await proxy.close();
 */
export class AwsRecordingProxy {
  readonly name: string;
  readonly url: string;
  readonly #server: http.Server;
  readonly #agent: http.Agent;
  readonly #calls: RecordedCall[] = [];
  /** Shard iterators and ListShards tokens handed out, by the stream they belong to. */
  readonly #streamOf = new Map<string, string>();

  private constructor(name: string, server: http.Server, agent: http.Agent, url: string) {
    this.name = name;
    this.#server = server;
    this.#agent = agent;
    this.url = url;
  }

  /** Starts the proxy and resolves once it listens. */
  static async start(options: AwsRecordingProxyOptions): Promise<AwsRecordingProxy> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const holder: { proxy?: AwsRecordingProxy } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => holder.proxy?.handle(req, res, Buffer.concat(chunks), options));
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const proxy = new AwsRecordingProxy(options.name, server, agent, `http://127.0.0.1:${port}`);
    holder.proxy = proxy;
    return proxy;
  }

  /** The endpoint variables that send a process's DynamoDB, Kinesis and S3 calls through this proxy. */
  endpointEnv(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL_DYNAMODB: this.url,
      AWS_ENDPOINT_URL_KINESIS: this.url,
      AWS_ENDPOINT_URL_S3: this.url,
    };
  }

  /** Every call, in arrival order. */
  calls(): readonly RecordedCall[] {
    return this.#calls;
  }

  /** Stops listening and drops kept-alive connections. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }

  private handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    options: AwsRecordingProxyOptions,
  ): void {
    const target = req.headers['x-amz-target'];
    const amzTarget = typeof target === 'string' ? target : undefined;
    const service = amzTarget?.startsWith('DynamoDB_')
      ? 'dynamodb'
      : amzTarget?.startsWith('Kinesis_')
        ? 'kinesis'
        : 's3';
    let call: RecordedCall;
    if (service === 's3') {
      call = this.record('s3', ...s3Call(req, body), undefined);
    } else {
      const operation = amzTarget!.slice(amzTarget!.lastIndexOf('.') + 1);
      let input: Json;
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as Json;
      } catch {
        input = {};
      }
      const errorType = options.fail?.(operation, input);
      call = this.record(
        service,
        operation,
        service === 'dynamodb'
          ? dynamoDbAuthorizations(operation, input)
          : this.kinesisAuthorizations(operation, input),
        errorType !== undefined,
        input,
      );
      if (errorType !== undefined) {
        call.status = 400;
        call.errorType = errorType;
        const answer = JSON.stringify({
          __type: `com.amazonaws.${service}#${errorType}`,
          message: 'injected by the recording proxy',
        });
        res.writeHead(400, {
          'content-type':
            service === 'dynamodb' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1',
          'content-length': Buffer.byteLength(answer),
        });
        res.end(answer);
        return;
      }
    }
    this.forward(req, res, body, new URL(options.targets[service]), call);
  }

  private record(
    service: RecordedCall['service'],
    operation: string,
    authorizations: readonly Authorization[],
    injected: boolean,
    input: Json | undefined,
  ): RecordedCall {
    const call: RecordedCall = {
      seq: this.#calls.length,
      service,
      operation,
      authorizations,
      input,
      status: 0,
      injected,
    };
    this.#calls.push(call);
    return call;
  }

  private kinesisAuthorizations(operation: string, input: Json): Authorization[] {
    const named =
      typeof input['StreamName'] === 'string'
        ? input['StreamName']
        : typeof input['StreamARN'] === 'string'
          ? input['StreamARN'].slice(input['StreamARN'].lastIndexOf('/') + 1)
          : undefined;
    const viaToken =
      typeof input['ShardIterator'] === 'string'
        ? this.#streamOf.get(input['ShardIterator'])
        : typeof input['NextToken'] === 'string'
          ? this.#streamOf.get(input['NextToken'])
          : undefined;
    const stream = named ?? viaToken;
    return [
      {
        action: `kinesis:${operation}`,
        resource:
          stream === undefined
            ? { kind: 'unknown', detail: `${operation} without a stream the proxy knows` }
            : { kind: 'stream', stream },
      },
    ];
  }

  /** Learns which stream an iterator or a ListShards token belongs to, from the answer. */
  private learnStream(call: RecordedCall, answer: Buffer): void {
    if (call.service !== 'kinesis' || call.status !== 200) return;
    const resource = call.authorizations[0]?.resource;
    if (resource?.kind !== 'stream') return;
    let out: Json;
    try {
      out = JSON.parse(answer.toString('utf8')) as Json;
    } catch {
      return;
    }
    for (const key of ['ShardIterator', 'NextShardIterator', 'NextToken']) {
      const token = out[key];
      if (typeof token === 'string') this.#streamOf.set(token, resource.stream);
    }
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    target: URL,
    call: RecordedCall,
  ): void {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.#agent,
      },
      (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('error', () => undefined);
        up.on('end', () => {
          const answer = Buffer.concat(parts);
          call.status = up.statusCode ?? 0;
          if (call.status >= 300) {
            const text = answer.toString('utf8');
            const type =
              /"__type"\s*:\s*"([^"]+)"/.exec(text)?.[1] ?? /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
            call.errorType = type?.slice(type.lastIndexOf('#') + 1) ?? `HTTP ${call.status}`;
          }
          this.learnStream(call, answer);
          if (res.destroyed) return;
          res.writeHead(call.status, up.headers);
          res.end(answer);
        });
      },
    );
    upstream.on('error', (err) => {
      call.status = 502;
      call.errorType = `proxy: ${err.message}`;
      if (!res.destroyed && !res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${err.message}`);
      }
    });
    upstream.end(body);
  }
}

/** The authorizations of one DynamoDB call (Service Authorization Reference; transactions per item). */
export function dynamoDbAuthorizations(operation: string, input: Json): Authorization[] {
  const table = (name: unknown, index?: unknown): RecordedResource =>
    typeof name !== 'string'
      ? { kind: 'unknown', detail: `${operation} without TableName` }
      : typeof index === 'string'
        ? { kind: 'index', table: name, index }
        : { kind: 'table', table: name };
  switch (operation) {
    case 'TransactWriteItems':
      return ((input['TransactItems'] ?? []) as Json[]).flatMap((item) => {
        const [[kind, spec]] = Object.entries(item) as [[string, Json]];
        const action = {
          Put: 'PutItem',
          Update: 'UpdateItem',
          Delete: 'DeleteItem',
          ConditionCheck: 'ConditionCheckItem',
        }[kind];
        return [{ action: `dynamodb:${action ?? kind}`, resource: table(spec['TableName']) }];
      });
    case 'TransactGetItems':
      return ((input['TransactItems'] ?? []) as Json[]).map((item) => ({
        action: 'dynamodb:GetItem',
        resource: table((item['Get'] as Json | undefined)?.['TableName']),
      }));
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys((input['RequestItems'] ?? {}) as Json).map((name) => ({
        action: `dynamodb:${operation}`,
        resource: table(name),
      }));
    case 'Query':
    case 'Scan':
      return [
        {
          action: `dynamodb:${operation}`,
          resource: table(input['TableName'], input['IndexName']),
        },
      ];
    default:
      return [{ action: `dynamodb:${operation}`, resource: table(input['TableName']) }];
  }
}

/** Operation and authorizations of one S3 REST call (path-style `/<bucket>/<key>`). */
function s3Call(req: http.IncomingMessage, body: Buffer): [string, Authorization[], boolean] {
  const url = new URL(req.url ?? '/', 'http://s3.local');
  const [bucketPart = '', ...keyParts] = url.pathname.slice(1).split('/');
  const bucket = decodeURIComponent(bucketPart);
  const key = keyParts.map(decodeURIComponent).join('/');
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  const onObject = (action: string): Authorization[] => [
    { action, resource: { kind: 'object', bucket, key } },
  ];
  const onBucket = (action: string): Authorization[] => [
    { action, resource: { kind: 'bucket', bucket } },
  ];
  if (key !== '') {
    if (method === 'PUT' && q.has('uploadId'))
      return ['UploadPart', onObject('s3:PutObject'), false];
    if (method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined) {
      const source = decodeURIComponent(String(req.headers['x-amz-copy-source'])).replace(
        /^\//,
        '',
      );
      const [sb = '', ...sk] = source.split('/');
      return [
        'CopyObject',
        [
          ...onObject('s3:PutObject'),
          { action: 's3:GetObject', resource: { kind: 'object', bucket: sb, key: sk.join('/') } },
        ],
        false,
      ];
    }
    if (method === 'PUT') return ['PutObject', onObject('s3:PutObject'), false];
    if (method === 'POST' && q.has('uploads'))
      return ['CreateMultipartUpload', onObject('s3:PutObject'), false];
    if (method === 'POST' && q.has('uploadId'))
      return ['CompleteMultipartUpload', onObject('s3:PutObject'), false];
    if (method === 'DELETE' && q.has('uploadId'))
      return ['AbortMultipartUpload', onObject('s3:AbortMultipartUpload'), false];
    if (method === 'DELETE')
      return [
        'DeleteObject',
        onObject(q.has('versionId') ? 's3:DeleteObjectVersion' : 's3:DeleteObject'),
        false,
      ];
    if (method === 'GET' || method === 'HEAD')
      return [
        method === 'GET' ? 'GetObject' : 'HeadObject',
        onObject(q.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject'),
        false,
      ];
  } else {
    if (method === 'GET' && q.has('versions'))
      return ['ListObjectVersions', onBucket('s3:ListBucketVersions'), false];
    if (method === 'GET' && q.has('uploads'))
      return ['ListMultipartUploads', onBucket('s3:ListBucketMultipartUploads'), false];
    if (method === 'GET' && q.has('location'))
      return ['GetBucketLocation', onBucket('s3:GetBucketLocation'), false];
    if (method === 'GET')
      return [
        q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects',
        [
          {
            action: 's3:ListBucket',
            resource: {
              kind: 'bucket',
              bucket,
              ...(q.has('prefix') ? { prefix: q.get('prefix') ?? '' } : {}),
            },
          },
        ],
        false,
      ];
    if (method === 'HEAD') return ['HeadBucket', onBucket('s3:ListBucket'), false];
    if (method === 'POST' && q.has('delete')) {
      const keys = [...body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map(
        (m) => m[1] ?? '',
      );
      return [
        'DeleteObjects',
        keys.map((k) => ({
          action: 's3:DeleteObject',
          resource: { kind: 'object', bucket, key: k },
        })),
        false,
      ];
    }
    if (method === 'PUT') return ['CreateBucket', onBucket('s3:CreateBucket'), false];
  }
  return [
    `${method} ${url.pathname}${url.search}`,
    [{ action: 's3:Unknown', resource: { kind: 'unknown', detail: `${method} ${req.url}` } }],
    false,
  ];
}
