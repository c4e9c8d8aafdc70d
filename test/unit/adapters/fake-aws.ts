/**
 * A hand-written fake for SDK v3 clients: a middleware at the `initialize`
 * step answers every command before it is serialized or sent, so tests see
 * the real command inputs and throw real SDK exception classes.
 */
type MetadataBearer = { $metadata: object };

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (
        next: unknown,
        context: { commandName?: string },
      ) => (args: { input: unknown }) => Promise<{ output: MetadataBearer; response: unknown }>,
      options: { step: 'initialize'; name: string; priority: 'high' },
    ): void;
  };
}

export interface Call {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** What the fake answers: an output object, or throws. */
export type Responder = (call: Call, n: number) => unknown;

/** Installs the fake on a client; returns the log of calls. */
export function fakeSend(client: unknown, respond: Responder): Call[] {
  const calls: Call[] = [];
  (client as MiddlewareClient).middlewareStack.add(
    (_next, context) => async (args) => {
      const call = {
        command: context.commandName ?? 'unknown',
        input: args.input as Record<string, unknown>,
      };
      calls.push(call);
      await Promise.resolve();
      const output = (await respond(call, calls.length - 1)) as object | undefined;
      return { output: { $metadata: {}, ...(output ?? {}) }, response: {} };
    },
    { step: 'initialize', name: 'weirFakeSend', priority: 'high' },
  );
  return calls;
}

export const clientConfig = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  maxAttempts: 1,
} as const;

/** Records sleeps instead of sleeping. */
export function fakeClock(): {
  sleeps: number[];
  sleep: (ms: number) => Promise<void>;
  random: () => number;
} {
  const sleeps: number[] = [];
  return { sleeps, sleep: (ms) => (sleeps.push(ms), Promise.resolve()), random: () => 0.5 };
}
