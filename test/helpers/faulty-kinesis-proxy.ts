/**
 * Test helper: a loopback HTTP proxy in front of a Kinesis emulator that
 * injects PutRecords failures the emulator cannot produce by itself.
 *
 * - `fail-entries`: the chosen entries are REMOVED from the request before it
 *   is forwarded (so they are genuinely not stored), and synthetic per-entry
 *   errors are spliced back into the response at their original indices, with
 *   FailedRecordCount adjusted: exactly what Kinesis answers on a partial
 *   failure.
 * - `status`: the request is not forwarded; the proxy answers with an HTTP
 *   error in Kinesis' JSON error shape (500 InternalFailure, 400
 *   ProvisionedThroughputExceededException, ...).
 *
 * Every other call passes through unchanged. Binds 127.0.0.1 only.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A PutRecords entry as it travels in the JSON request. */
export interface WireEntry {
  readonly Data: string;
  readonly PartitionKey: string;
  readonly ExplicitHashKey?: string;
}

/** What to do with one PutRecords call. */
export type PutRecordsFault =
  | { readonly kind: 'pass' }
  | {
      readonly kind: 'fail-entries';
      readonly indices: readonly number[];
      readonly errorCode?: string;
    }
  | { readonly kind: 'status'; readonly status: number; readonly errorType: string };

/** One PutRecords call the proxy saw. */
export interface ObservedCall {
  readonly n: number;
  readonly entries: readonly WireEntry[];
  readonly fault: PutRecordsFault;
}

export interface FaultyKinesisProxy {
  /** `http://127.0.0.1:PORT`: give it to the client as its Kinesis endpoint. */
  readonly endpoint: string;
  /** PutRecords calls seen so far, in arrival order. */
  readonly calls: readonly ObservedCall[];
  close(): Promise<void>;
}

/** Decides per PutRecords call; `n` counts calls from 0. */
export type FaultPlan = (call: {
  readonly n: number;
  readonly entries: readonly WireEntry[];
}) => PutRecordsFault;

const PUT_RECORDS = 'Kinesis_20131202.PutRecords';

function readBody(msg: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    msg.on('data', (c: Buffer) => chunks.push(c));
    msg.on('end', () => resolve(Buffer.concat(chunks)));
    msg.on('error', reject);
  });
}

function forward(
  target: URL,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, 'content-length': String(body.length), host: target.host };
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (res) => {
        readBody(res).then(
          (b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }),
          reject,
        );
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

function send(
  res: ServerResponse,
  status: number,
  headers: IncomingMessage['headers'],
  body: Buffer,
): void {
  const h: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (
      v === undefined ||
      k === 'content-length' ||
      k === 'transfer-encoding' ||
      k === 'x-amz-crc32'
    )
      continue;
    h[k] = v;
  }
  h['content-length'] = String(body.length);
  res.writeHead(status, h);
  res.end(body);
}

/**
 * Starts the proxy in front of `targetEndpoint` (the emulator's Kinesis URL).
 *
 * @example
 * const proxy = await startFaultyKinesisProxy(aws.endpoints.kinesis, ({ n }) =>
 *   n === 0 ? { kind: 'fail-entries', indices: [1, 3] } : { kind: 'pass' });
 */
export async function startFaultyKinesisProxy(
  targetEndpoint: string,
  plan: FaultPlan,
): Promise<FaultyKinesisProxy> {
  const target = new URL(targetEndpoint);
  const calls: ObservedCall[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.headers['x-amz-target'] !== PUT_RECORDS) {
        const r = await forward(target, req, body);
        return send(res, r.status, r.headers, r.body);
      }
      const input = JSON.parse(body.toString('utf8')) as { Records: WireEntry[] } & Record<
        string,
        unknown
      >;
      const n = calls.length;
      const fault = plan({ n, entries: input.Records });
      calls.push({ n, entries: input.Records, fault });
      if (fault.kind === 'status') {
        const payload = Buffer.from(
          JSON.stringify({ __type: fault.errorType, message: `injected ${fault.errorType}` }),
        );
        return send(res, fault.status, { 'content-type': 'application/x-amz-json-1.1' }, payload);
      }
      if (fault.kind === 'pass') {
        const r = await forward(target, req, body);
        return send(res, r.status, r.headers, r.body);
      }
      const failing = new Set(fault.indices);
      const keep = input.Records.filter((_, i) => !failing.has(i));
      let stored: { Records: Record<string, unknown>[]; FailedRecordCount?: number } = {
        Records: [],
      };
      let headers: IncomingMessage['headers'] = { 'content-type': 'application/x-amz-json-1.1' };
      if (keep.length > 0) {
        const r = await forward(
          target,
          req,
          Buffer.from(JSON.stringify({ ...input, Records: keep })),
        );
        if (r.status !== 200) return send(res, r.status, r.headers, r.body);
        stored = JSON.parse(r.body.toString('utf8')) as typeof stored;
        headers = r.headers;
      }
      const code = fault.errorCode ?? 'ProvisionedThroughputExceededException';
      const results: Record<string, unknown>[] = [];
      let next = 0;
      for (let i = 0; i < input.Records.length; i++) {
        if (failing.has(i)) {
          results.push({
            ErrorCode: code,
            ErrorMessage: `Rate exceeded for shard (injected at index ${i})`,
          });
        } else {
          results.push(stored.Records[next++] ?? {});
        }
      }
      const failed = results.filter((r) => r['ErrorCode'] !== undefined).length;
      const out = { ...stored, FailedRecordCount: failed, Records: results };
      return send(res, 200, headers, Buffer.from(JSON.stringify(out)));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
