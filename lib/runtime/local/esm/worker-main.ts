/**
 * Entry point of a handler worker process (a local "execution environment").
 * Started by ProcessHandlerInvoker (with tsx's loader for TypeScript); imports the handler
 * module once (cold start), then serves invocations sent over IPC until the
 * parent disconnects. Not part of the public API.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import { toLambdaError, lambdaContext, type KinesisHandler } from './invoker.ts';
import type { ParentMessage, WorkerMessage } from './worker-protocol.ts';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const spec = process.env['WEIR_HANDLER'] ?? '';
  const hash = spec.lastIndexOf('#');
  const file = hash >= 0 ? spec.slice(0, hash) : spec;
  const exportName = hash >= 0 ? spec.slice(hash + 1) : 'handler';
  const started = Date.now();
  let handler: KinesisHandler;
  try {
    const url = pathToFileURL(isAbsolute(file) ? file : resolve(process.cwd(), file)).href;
    const mod = (await import(url)) as Record<string, unknown>;
    const candidate = mod[exportName];
    if (typeof candidate !== 'function') {
      throw new TypeError(`${file} does not export a function named ${JSON.stringify(exportName)}`);
    }
    handler = candidate as KinesisHandler;
  } catch (err) {
    send({ type: 'init-error', ...toLambdaError(err) });
    process.exit(1);
  }
  process.on('message', (raw: unknown) => {
    const message = raw as ParentMessage;
    if (message.type !== 'invoke') return;
    void (async () => {
      const context = lambdaContext(message.context, message.context.deadline);
      try {
        const value: unknown = await handler(message.event as KinesisStreamEvent, context);
        send({
          type: 'result',
          id: message.id,
          ok: true,
          json: JSON.stringify(value ?? null) ?? 'null',
        });
      } catch (err) {
        send({ type: 'result', id: message.id, ok: false, ...toLambdaError(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', initMs: Date.now() - started });
}

// Like Lambda's Node.js runtime: an error escaping the handler's promise chain ends the environment.
process.on('uncaughtException', (err) => {
  process.stderr.write(`worker ${process.pid}: uncaught exception: ${String(err)}\n`);
  process.exit(129);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`worker ${process.pid}: unhandled rejection: ${String(err)}\n`);
  process.exit(128);
});

await main();
