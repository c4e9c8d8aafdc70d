/**
 * Test helper: a fake of the Lambda REST API for event source mappings, on
 * 127.0.0.1 (random port), for running `weir restore --function-name` with
 * the real SDK over HTTP where the embedded AWS has no Lambda. Point a
 * process at it with `AWS_ENDPOINT_URL_LAMBDA` ({@link FakeLambdaApi.endpointEnv}).
 *
 * It answers exactly the operations weir calls, in Lambda's wire format
 * (REST + JSON, API version 2015-03-31; Lambda API Reference and the
 * SDK's operation table):
 *
 *     GET /2015-03-31/event-source-mappings/?FunctionName=F&EventSourceArn=A&Marker=M&MaxItems=N
 *         ListEventSourceMappings  200 { EventSourceMappings: [config…], NextMarker? }
 *     GET /2015-03-31/event-source-mappings/UUID
 *         GetEventSourceMapping    200 config | 404
 *     PUT /2015-03-31/event-source-mappings/UUID   { "Enabled": false }
 *         UpdateEventSourceMapping 202 config | 400 in use | 404
 *
 * An error is answered as Lambda answers it: the status, an
 * `x-amzn-ErrorType` header naming the exception (the SDK reads the code
 * from it) and a body `{ "Type": "User", "Message": … }`, e.g. 404
 * `ResourceNotFoundException` "The resource you requested does not exist."
 * for an unknown UUID, 400 `ResourceInUseException` "Cannot update the event
 * source mapping because it is in use." for an update during a transition.
 * A request without a SigV4 `Authorization` header scoped to this region and
 * `lambda` is refused (403), as Lambda would refuse it. Anything else (another
 * operation, another field of an update) is answered 404
 * `UnknownOperationException` naming what the fake lacks, and recorded, so a
 * new Lambda call in weir fails the test that runs it.
 *
 * A mapping moves as a real one does, in "polls" rather than seconds so that
 * tests need no timing:
 *
 *     Enabled  ─Update(Enabled=false)─► Disabling ─ Get … Get (settleAfterReads) ─► Disabled
 *     Disabled ─Update(Enabled=true)──► Enabling  ─ Get … Get (settleAfterReads) ─► Enabled
 *                                        └ hold(uuid): stays in transition until release(uuid)
 *
 * Each GetEventSourceMapping of a mapping in transition counts one read;
 * after `settleAfterReads` reads answered with the transition state, the next
 * read finds it settled. Every request is recorded, in arrival order, with
 * the operation, the IAM action and resource it needs (Service Authorization
 * Reference: ListEventSourceMappings takes no resource, `*`; Get and Update
 * act on `arn:aws:lambda:REGION:ACCOUNT:event-source-mapping:UUID`), the
 * status and the state answered.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The states an event source mapping reports (`State`). */
export type MappingState =
  'Creating' | 'Enabling' | 'Enabled' | 'Disabling' | 'Disabled' | 'Updating' | 'Deleting';

/** A mapping the fake starts with. */
export interface FakeMappingInit {
  /** @default a random UUID */
  readonly uuid?: string;
  /** The function's name (its ARN is built in the fake's region and account). */
  readonly functionName: string;
  readonly eventSourceArn: string;
  /** @default 'Enabled' */
  readonly state?: 'Enabled' | 'Disabled';
}

/** The operations the fake answers, and `Unknown` for anything else. */
export type LambdaOperation =
  'ListEventSourceMappings' | 'GetEventSourceMapping' | 'UpdateEventSourceMapping' | 'Unknown';

/** One request the fake received, as it was answered. */
export interface LambdaRequest {
  readonly seq: number;
  readonly operation: LambdaOperation;
  /** The IAM action the request needs, `lambda:<operation>`. */
  readonly action: string;
  /** The IAM resource: `*` or the mapping's ARN. */
  readonly resource: string;
  readonly method: string;
  readonly path: string;
  /** The query parameters (List) or the JSON body (Update). */
  readonly input: Readonly<Record<string, unknown>>;
  readonly status: number;
  /** The exception answered (`x-amzn-ErrorType`), for a failed request. */
  readonly errorType?: string;
  /** The `State` answered (Get, Update). */
  readonly state?: MappingState;
}

/** Options of {@link FakeLambdaApi.start}. */
export interface FakeLambdaApiOptions {
  readonly mappings: readonly FakeMappingInit[];
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** Reads answered with the transition state before a mapping settles. @default 2 */
  readonly settleAfterReads?: number;
  /** Mappings per ListEventSourceMappings page when MaxItems is absent (Lambda: 100). @default 100 */
  readonly pageSize?: number;
  /**
   * Called with each request once its answer is decided, before the answer
   * is written (awaited): a test records the order of events here, or
   * inspects the world while the mapping is in a given state.
   */
  readonly beforeReply?: (request: LambdaRequest) => void | Promise<void>;
}

interface Mapping {
  readonly uuid: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly eventSourceArn: string;
  state: MappingState;
  /** Transition reads answered since the last update. */
  reads: number;
  held: boolean;
  lastModified: number;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly errorType?: string;
  readonly state?: MappingState;
}

const API = '/2015-03-31/event-source-mappings';
const NOT_FOUND = 'The resource you requested does not exist.';

/**
 * The fake Lambda API (see the module comment).
 *
 * @example
 * const lambda = await FakeLambdaApi.start({ mappings: [{ functionName: 'clicks', eventSourceArn: arn }] });
 * const env = { ...aws.env(), ...lambda.endpointEnv() };
 * // ... weir restore --function-name clicks ...
 * lambda.requests(); // [{ operation: 'ListEventSourceMappings', resource: '*', ... }, ...]
 * await lambda.close();
 */
export class FakeLambdaApi {
  readonly url: string;
  readonly region: string;
  readonly accountId: string;
  readonly #server: http.Server;
  readonly #mappings: Mapping[];
  readonly #requests: LambdaRequest[] = [];
  readonly #hookErrors: unknown[] = [];
  readonly #options: FakeLambdaApiOptions;

  private constructor(server: http.Server, url: string, options: FakeLambdaApiOptions) {
    this.#server = server;
    this.url = url;
    this.#options = options;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.#mappings = options.mappings.map((m) => ({
      uuid: m.uuid ?? randomUUID(),
      functionName: m.functionName,
      functionArn: `arn:aws:lambda:${this.region}:${this.accountId}:function:${m.functionName}`,
      eventSourceArn: m.eventSourceArn,
      state: m.state ?? 'Enabled',
      reads: 0,
      held: false,
      lastModified: Date.now(),
    }));
  }

  /** Starts the fake and resolves once it listens. */
  static async start(options: FakeLambdaApiOptions): Promise<FakeLambdaApi> {
    const holder: { api?: FakeLambdaApi } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => {
        void holder.api?.handle(req, res, Buffer.concat(chunks).toString('utf8'));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const api = new FakeLambdaApi(server, `http://127.0.0.1:${port}`, options);
    holder.api = api;
    return api;
  }

  /** The variable that sends a process's (or a CLI context's) Lambda calls here. */
  endpointEnv(): Record<string, string> {
    return { AWS_ENDPOINT_URL_LAMBDA: this.url };
  }

  /** Every request, in arrival order. */
  requests(): readonly LambdaRequest[] {
    return this.#requests;
  }

  /** What `beforeReply` threw (its request was answered 400 `FakeLambdaApiHookError`). */
  hookErrors(): readonly unknown[] {
    return this.#hookErrors;
  }

  /** The UUIDs of the mappings, in the order given. */
  uuids(): string[] {
    return this.#mappings.map((m) => m.uuid);
  }

  /** The mapping's state now (`undefined`: no such mapping). */
  state(uuid: string): MappingState | undefined {
    return this.#mappings.find((m) => m.uuid === uuid)?.state;
  }

  /** The ARN a policy names the mapping by. */
  mappingArn(uuid: string): string {
    return `arn:aws:lambda:${this.region}:${this.accountId}:event-source-mapping:${uuid}`;
  }

  /** Keeps the mapping in its transition (Disabling, Enabling) until {@link release}. */
  hold(uuid: string): void {
    this.#mapping(uuid).held = true;
  }

  /** Lets a held mapping settle (after `settleAfterReads` further reads). */
  release(uuid: string): void {
    const m = this.#mapping(uuid);
    m.held = false;
    m.reads = 0;
  }

  /** Stops listening and drops kept-alive connections. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #mapping(uuid: string): Mapping {
    const m = this.#mappings.find((x) => x.uuid === uuid);
    if (m === undefined) throw new Error(`fake-lambda-api: no mapping ${uuid}`);
    return m;
  }

  private async handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    const uuid = path.startsWith(`${API}/`) ? path.slice(API.length + 1) : '';
    const operation: LambdaOperation =
      method === 'GET' && (path === API || path === `${API}/`)
        ? 'ListEventSourceMappings'
        : method === 'GET' && uuid !== '' && !uuid.includes('/')
          ? 'GetEventSourceMapping'
          : method === 'PUT' && uuid !== '' && !uuid.includes('/')
            ? 'UpdateEventSourceMapping'
            : 'Unknown';
    let input: Record<string, unknown> = Object.fromEntries(url.searchParams);
    let answer: Answer;
    try {
      if (operation === 'UpdateEventSourceMapping')
        input = { ...(JSON.parse(body || '{}') as Record<string, unknown>) };
      answer =
        this.#refusedSignature(req) ??
        (operation === 'ListEventSourceMappings'
          ? this.#list(url.searchParams)
          : operation === 'GetEventSourceMapping'
            ? this.#get(uuid)
            : operation === 'UpdateEventSourceMapping'
              ? this.#update(uuid, input)
              : error(
                  404,
                  'UnknownOperationException',
                  `fake-lambda-api answers only ListEventSourceMappings, GetEventSourceMapping and UpdateEventSourceMapping (given ${method} ${path}): add the operation to test/helpers/fake-lambda-api.ts and its grant to WeirOperator.grantRestore`,
                ));
    } catch (e) {
      answer = error(
        400,
        'InvalidRequestContentException',
        `could not parse the body: ${String(e)}`,
      );
    }
    const request: LambdaRequest = {
      seq: this.#requests.length + 1,
      operation,
      action: `lambda:${operation}`,
      resource:
        operation === 'ListEventSourceMappings'
          ? '*'
          : operation === 'Unknown'
            ? `?${method} ${path}`
            : this.mappingArn(uuid),
      method,
      path,
      input,
      status: answer.status,
      ...(answer.errorType === undefined ? {} : { errorType: answer.errorType }),
      ...(answer.state === undefined ? {} : { state: answer.state }),
    };
    this.#requests.push(request);
    try {
      await this.#options.beforeReply?.(request);
    } catch (e) {
      // Answered, so that the client does not wait forever; the test reads hookErrors().
      this.#hookErrors.push(e);
      answer = error(400, 'FakeLambdaApiHookError', `beforeReply threw: ${String(e)}`);
    }
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'x-amzn-RequestId': randomUUID(),
    };
    if (answer.errorType !== undefined) headers['x-amzn-ErrorType'] = answer.errorType;
    res.writeHead(answer.status, headers);
    res.end(JSON.stringify(answer.body));
  }

  /** Lambda refuses an unsigned request, or one signed for another region or service. */
  #refusedSignature(req: http.IncomingMessage): Answer | undefined {
    const auth = req.headers.authorization ?? '';
    const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
    if (scope === null)
      return error(
        403,
        'MissingAuthenticationTokenException',
        'Missing Authentication Token (a SigV4 Authorization header)',
      );
    if (scope[1] !== this.region || scope[2] !== 'lambda')
      return error(
        403,
        'InvalidSignatureException',
        `Credential should be scoped to a valid region and service: ${this.region}/lambda (given ${scope[1]}/${scope[2]})`,
      );
    return undefined;
  }

  #list(q: URLSearchParams): Answer {
    const fn = q.get('FunctionName');
    const source = q.get('EventSourceArn');
    const maxItems = q.has('MaxItems')
      ? Number(q.get('MaxItems'))
      : (this.#options.pageSize ?? 100);
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000)
      return error(400, 'InvalidParameterValueException', `MaxItems must be 1..10000`);
    const matching = this.#mappings.filter(
      (m) =>
        (fn === null || functionMatches(m, fn)) && (source === null || m.eventSourceArn === source),
    );
    const marker = q.get('Marker');
    const from = marker === null ? 0 : Number(Buffer.from(marker, 'base64url').toString('utf8'));
    if (!Number.isInteger(from) || from < 0)
      return error(400, 'InvalidParameterValueException', 'Invalid Marker');
    const page = matching.slice(from, from + maxItems);
    const next = from + maxItems < matching.length ? from + maxItems : undefined;
    return {
      status: 200,
      body: {
        EventSourceMappings: page.map((m) => this.#configuration(m)),
        ...(next === undefined
          ? {}
          : { NextMarker: Buffer.from(String(next), 'utf8').toString('base64url') }),
      },
    };
  }

  #get(uuid: string): Answer {
    const m = this.#mappings.find((x) => x.uuid === uuid);
    if (m === undefined) return error(404, 'ResourceNotFoundException', NOT_FOUND);
    if (isTransition(m.state) && !m.held) {
      m.reads += 1;
      // The read after settleAfterReads transition answers finds the mapping settled.
      if (m.reads > this.#settleAfterReads()) {
        m.state = m.state === 'Disabling' ? 'Disabled' : 'Enabled';
        m.reads = 0;
      }
    }
    return { status: 200, body: this.#configuration(m), state: m.state };
  }

  #update(uuid: string, input: Readonly<Record<string, unknown>>): Answer {
    const m = this.#mappings.find((x) => x.uuid === uuid);
    if (m === undefined) return error(404, 'ResourceNotFoundException', NOT_FOUND);
    const others = Object.keys(input).filter((k) => k !== 'Enabled');
    if (others.length > 0 || typeof input['Enabled'] !== 'boolean')
      return error(
        404,
        'UnknownOperationException',
        `fake-lambda-api updates only Enabled (given ${JSON.stringify(input)}): extend test/helpers/fake-lambda-api.ts`,
      );
    if (m.state !== 'Enabled' && m.state !== 'Disabled')
      return error(
        400,
        'ResourceInUseException',
        'Cannot update the event source mapping because it is in use.',
      );
    const enabled = input['Enabled'];
    if (enabled !== (m.state === 'Enabled')) {
      m.state = enabled ? 'Enabling' : 'Disabling';
      m.reads = 0;
    }
    m.lastModified = Date.now();
    return { status: 202, body: this.#configuration(m), state: m.state };
  }

  #settleAfterReads(): number {
    return this.#options.settleAfterReads ?? 2;
  }

  /** The EventSourceMappingConfiguration Lambda answers for a Kinesis mapping. */
  #configuration(m: Mapping): Record<string, unknown> {
    return {
      UUID: m.uuid,
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 0,
      ParallelizationFactor: 1,
      EventSourceArn: m.eventSourceArn,
      FunctionArn: m.functionArn,
      LastModified: m.lastModified / 1000,
      LastProcessingResult: 'No records processed',
      State: m.state,
      StateTransitionReason: 'USER_INITIATED',
      DestinationConfig: { OnFailure: {} },
      MaximumRecordAgeInSeconds: -1,
      BisectBatchOnFunctionError: false,
      MaximumRetryAttempts: -1,
      TumblingWindowInSeconds: 0,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceMappingArn: this.mappingArn(m.uuid),
    };
  }
}

function isTransition(state: MappingState): boolean {
  return state === 'Disabling' || state === 'Enabling';
}

/** FunctionName as Lambda takes it: the name, the function ARN, or the partial ARN `ACCOUNT:function:NAME`. */
function functionMatches(m: Mapping, given: string): boolean {
  return given === m.functionName || given === m.functionArn || m.functionArn.endsWith(`:${given}`);
}

function error(status: number, errorType: string, message: string): Answer {
  return { status, errorType, body: { Type: 'User', Message: message } };
}
