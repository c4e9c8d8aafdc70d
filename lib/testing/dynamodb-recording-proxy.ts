/**
 * A testing tool: a loopback HTTP proxy in front of DynamoDB (Local) that
 * records every write request aimed at chosen tables, as it went over the
 * wire. The exactly-once scenarios use it to see writes of SIGKILLed
 * handlers; the e2e bench uses it to count write requests per record.
 *
 *   handler worker ─┐                       ┌─► DynamoDB Local
 *   ticker (here) ──┴─► recording proxy ────┘   (bytes forwarded unchanged,
 *                       │                        so CRC32 checks still hold)
 *                       └─► RecordedWrite { table, op, pk, sk, version, value, status }
 *
 * Point processes at it with `AWS_ENDPOINT_URL_DYNAMODB=<proxy.url>`. Every
 * attempt is recorded with DynamoDB's own answer, including attempts whose
 * caller was SIGKILLed before the answer came back (`callerGone`): the proxy
 * still forwards them and sees whether DynamoDB applied them.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A DynamoDB attribute value as JSON on the wire (only the shapes a check needs). */
export type WireAttribute = { S?: string; N?: string; [k: string]: unknown };
/** A DynamoDB item as JSON on the wire. */
export type WireItem = Record<string, WireAttribute>;

/** One write request to a recorded table, with what became of it. */
export interface RecordedWrite {
  /** Order of arrival at the proxy (0, 1, ...). */
  readonly seq: number;
  readonly table: string;
  /** `PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem` or `TransactWriteItems`. */
  readonly operation: string;
  readonly pk: string | undefined;
  readonly sk: string | undefined;
  /** `version` (N) of a put item, when present. */
  readonly version: number | undefined;
  /** `value` (S) of a put item, when present. */
  readonly value: string | undefined;
  /** Whether the request carried a ConditionExpression. */
  readonly conditional: boolean;
  /** The whole item of a put (for checks beyond version and value). */
  readonly item: WireItem | undefined;
  /** Epoch ms when the request arrived. */
  readonly at: number;
  /**
   * DynamoDB's answer: `written` (HTTP 200), `condition-failed`
   * (ConditionalCheckFailedException), `error` (any other answer or no
   * answer), `pending` (not answered yet). Known even when the caller is gone.
   */
  outcome: 'pending' | 'written' | 'condition-failed' | 'error';
  /** The caller disconnected (e.g. was SIGKILLed) before the answer reached it. */
  callerGone: boolean;
  /** DynamoDB's `__type` of an error answer. */
  errorType?: string;
}

/** Options of {@link DynamoDbRecordingProxy.start}. */
export interface RecordingProxyOptions {
  /** The real endpoint, e.g. `http://127.0.0.1:8000`. */
  readonly target: string;
  /** Which tables' writes to record. @default every table */
  readonly record?: (tableName: string) => boolean;
  /**
   * Fault injection: called for every request (operation name and parsed JSON
   * input); a returned error type (e.g. `ValidationException`) is answered
   * with HTTP 400 and that `__type`, and the request never reaches DynamoDB.
   */
  readonly fail?: (
    operation: string,
    input: Readonly<Record<string, unknown>>,
  ) => string | undefined;
}

const WRITE_OPERATIONS = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);

/**
 * A recording DynamoDB proxy on 127.0.0.1 (random port).
 *
 * @example
 * const proxy = await DynamoDbRecordingProxy.start({ target: aws.endpoints.dynamodb, record: (t) => t === resultsTable });
 * const env = { ...aws.env(), AWS_ENDPOINT_URL_DYNAMODB: proxy.url };
 * // ... run handlers with env ...
 * const writes = proxy.writesTo(resultsTable);
 * await proxy.close();
 */
export class DynamoDbRecordingProxy {
  readonly url: string;
  readonly #server: http.Server;
  readonly #agent: http.Agent;
  readonly #writes: RecordedWrite[] = [];
  #requests = 0;
  #forwardErrors = 0;
  #injected = 0;
  readonly #armed = new Map<string, { remaining: number; errorType: string }>();

  private constructor(server: http.Server, agent: http.Agent, url: string) {
    this.#server = server;
    this.#agent = agent;
    this.url = url;
  }

  /** Starts the proxy and resolves once it listens. */
  static async start(options: RecordingProxyOptions): Promise<DynamoDbRecordingProxy> {
    const target = new URL(options.target);
    const record = options.record ?? (() => true);
    const fail = options.fail;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const holder: { proxy?: DynamoDbRecordingProxy } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (holder.proxy?.injectFault(req, res, body, fail)) return;
        holder.proxy?.forward(req, res, body, target, agent, record);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const proxy = new DynamoDbRecordingProxy(server, agent, `http://127.0.0.1:${port}`);
    holder.proxy = proxy;
    return proxy;
  }

  /**
   * Fails the next `count` write requests (PutItem, UpdateItem, DeleteItem,
   * TransactWriteItems, BatchWriteItem naming it as TableName) to `table` with
   * `errorType` (HTTP 400, never forwarded). Adds to what is already armed.
   */
  armFaults(table: string, count: number, errorType = 'ValidationException'): void {
    const current = this.#armed.get(table);
    this.#armed.set(table, { remaining: (current?.remaining ?? 0) + count, errorType });
  }

  /** Every recorded write, in arrival order. */
  writes(): readonly RecordedWrite[] {
    return this.#writes;
  }

  /** Recorded writes to one table, in arrival order. */
  writesTo(table: string): RecordedWrite[] {
    return this.#writes.filter((w) => w.table === table);
  }

  /** Requests forwarded (all operations, all tables) and upstream failures. */
  stats(): {
    requests: number;
    recordedWrites: number;
    forwardErrors: number;
    injectedFaults: number;
  } {
    return {
      requests: this.#requests,
      recordedWrites: this.#writes.length,
      forwardErrors: this.#forwardErrors,
      injectedFaults: this.#injected,
    };
  }

  /** Stops listening and drops kept-alive connections. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    target: URL,
    agent: http.Agent,
    record: (table: string) => boolean,
  ): void {
    this.#requests += 1;
    const recorded = this.recordRequest(req, body, record);
    let answered = false;
    res.on('close', () => {
      if (!answered) for (const w of recorded) w.callerGone = true;
    });
    const headers = { ...req.headers, host: target.host };
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('error', () => undefined);
        up.on('end', () => {
          const answer = Buffer.concat(parts);
          const status = up.statusCode ?? 0;
          let errorType: string | undefined;
          if (status !== 200) {
            try {
              const type = (JSON.parse(answer.toString('utf8')) as { __type?: unknown }).__type;
              if (typeof type === 'string') errorType = type.slice(type.lastIndexOf('#') + 1);
            } catch {
              errorType = `HTTP ${status}`;
            }
          }
          for (const w of recorded) {
            if (w.outcome !== 'pending') continue;
            w.outcome =
              status === 200
                ? 'written'
                : errorType === 'ConditionalCheckFailedException'
                  ? 'condition-failed'
                  : 'error';
            if (errorType !== undefined) w.errorType = errorType;
          }
          if (res.destroyed) return;
          answered = true;
          res.writeHead(status, up.headers);
          res.end(answer);
        });
      },
    );
    upstream.on('error', (err) => {
      this.#forwardErrors += 1;
      for (const w of recorded) {
        if (w.outcome !== 'pending') continue;
        w.outcome = 'error';
        w.errorType = `proxy: ${err.message}`;
      }
      if (!res.destroyed && !res.headersSent) {
        answered = true;
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${err.message}`);
      }
    });
    upstream.end(body);
  }

  /** Answers with an injected error when `fail` asks for one; true if it did. */
  private injectFault(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    fail: RecordingProxyOptions['fail'],
  ): boolean {
    if (fail === undefined && this.#armed.size === 0) return false;
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : '';
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return false;
    }
    let errorType = fail?.(operation, input);
    const table = input['TableName'];
    const armed = typeof table === 'string' ? this.#armed.get(table) : undefined;
    if (errorType === undefined && armed !== undefined && WRITE_OPERATIONS.has(operation)) {
      errorType = armed.errorType;
      if (--armed.remaining <= 0) this.#armed.delete(table as string);
    }
    if (errorType === undefined) return false;
    this.#injected += 1;
    const answer = JSON.stringify({
      __type: `com.amazonaws.dynamodb.v20120810#${errorType}`,
      message: 'injected by the recording proxy',
    });
    res.writeHead(400, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(answer),
    });
    res.end(answer);
    return true;
  }

  private recordRequest(
    req: http.IncomingMessage,
    body: Buffer,
    record: (table: string) => boolean,
  ): RecordedWrite[] {
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : '';
    if (!WRITE_OPERATIONS.has(operation)) return [];
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return [];
    }
    const out: RecordedWrite[] = [];
    const add = (
      table: unknown,
      item: WireItem | undefined,
      key: WireItem | undefined,
      conditional: boolean,
    ): void => {
      if (typeof table !== 'string' || !record(table)) return;
      const k = item ?? key;
      const version = item?.['version']?.N;
      const w: RecordedWrite = {
        seq: this.#writes.length,
        table,
        operation,
        pk: k?.['pk']?.S,
        sk: k?.['sk']?.S,
        version: version === undefined ? undefined : Number(version),
        value: item?.['value']?.S,
        conditional,
        item,
        at: Date.now(),
        outcome: 'pending',
        callerGone: false,
      };
      this.#writes.push(w);
      out.push(w);
    };
    const cond = (o: Record<string, unknown>): boolean =>
      typeof o['ConditionExpression'] === 'string';
    switch (operation) {
      case 'PutItem':
        add(input['TableName'], input['Item'] as WireItem, undefined, cond(input));
        break;
      case 'UpdateItem':
      case 'DeleteItem':
        add(input['TableName'], undefined, input['Key'] as WireItem, cond(input));
        break;
      case 'BatchWriteItem':
        for (const [table, requests] of Object.entries(
          (input['RequestItems'] ?? {}) as Record<string, unknown[]>,
        )) {
          for (const r of requests) {
            const put = (r as { PutRequest?: { Item?: WireItem } }).PutRequest;
            const del = (r as { DeleteRequest?: { Key?: WireItem } }).DeleteRequest;
            add(table, put?.Item, del?.Key, false);
          }
        }
        break;
      case 'TransactWriteItems':
        for (const t of (input['TransactItems'] ?? []) as Array<
          Record<string, Record<string, unknown> | undefined>
        >) {
          const put = t['Put'];
          const other = t['Update'] ?? t['Delete'] ?? t['ConditionCheck'];
          if (put) add(put['TableName'], put['Item'] as WireItem, undefined, cond(put));
          else if (other) add(other['TableName'], undefined, other['Key'] as WireItem, cond(other));
        }
        break;
    }
    return out;
  }
}
