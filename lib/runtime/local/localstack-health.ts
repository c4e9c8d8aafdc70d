/**
 * Waits for LocalStack to report the services weir needs. LocalStack answers
 * `GET /_localstack/health` with
 *
 *     { "services": { "kinesis": "available", "dynamodb": "running", "s3": "disabled", ... },
 *       "edition": "community", "version": "4.14.0" }
 *
 * A service is ready when "available" (enabled, started lazily on first call)
 * or "running". "disabled" means it is not in SERVICES: waiting cannot help,
 * so that fails at once with the fix.
 */
import { EmulatorError } from '../../errors.ts';

/** The body of `/_localstack/health` (the fields weir reads). */
export interface LocalStackHealth {
  readonly services: Readonly<Record<string, string>>;
  readonly edition?: string;
  readonly version?: string;
}

/** Options of {@link waitForLocalStack}. */
export interface WaitForLocalStackOptions {
  /** LocalStack's edge endpoint, e.g. `http://localhost:4566` (the value of AWS_ENDPOINT_URL). */
  readonly endpoint: string;
  /** Services that must be ready. @default ['kinesis', 'dynamodb', 's3'] */
  readonly services?: readonly string[];
  /** Give up after this long. @default 120000 */
  readonly timeoutMs?: number;
  /** Pause between polls. @default 1000 */
  readonly intervalMs?: number;
  /** Per-request timeout. @default 5000 */
  readonly requestTimeoutMs?: number;
  /** Called after each poll (progress output). */
  readonly onPoll?: (state: HealthPoll) => void;
}

/** What one poll found. */
export type HealthPoll =
  | { readonly kind: 'unreachable'; readonly error: string }
  | {
      readonly kind: 'waiting';
      readonly health: LocalStackHealth;
      readonly notReady: readonly string[];
    }
  | { readonly kind: 'ready'; readonly health: LocalStackHealth };

/** Service states LocalStack reports for a usable service. */
export const READY_STATES: readonly string[] = ['available', 'running'];

/** LocalStack did not become ready; `lastPoll` says what it looked like last. */
export class LocalStackNotReadyError extends EmulatorError {
  readonly lastPoll: HealthPoll | undefined;
  /** True when no poll ever got an answer: LocalStack is not running (or not at this endpoint). */
  readonly unreachable: boolean;
  constructor(
    message: string,
    lastPoll: HealthPoll | undefined,
    options?: { cause?: unknown; answered?: boolean },
  ) {
    super(
      'LocalStack',
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.lastPoll = lastPoll;
    this.unreachable = !(
      options?.answered ??
      (lastPoll !== undefined && lastPoll.kind !== 'unreachable')
    );
  }
}

/** The health URL for an edge endpoint. */
export function healthUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/_localstack/health`;
}

/** One GET of the health endpoint. Throws on network errors, non-2xx, or a body without `services`. */
export async function fetchLocalStackHealth(
  endpoint: string,
  requestTimeoutMs = 5000,
): Promise<LocalStackHealth> {
  const response = await fetch(healthUrl(endpoint), {
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${healthUrl(endpoint)}`);
  const body: unknown = await response.json();
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof (body as { services?: unknown }).services !== 'object'
  ) {
    throw new Error(
      `${healthUrl(endpoint)} answered without a "services" object; is this LocalStack?`,
    );
  }
  return body as LocalStackHealth;
}

/** The wanted services that are not ready in `health`. */
export function servicesNotReady(health: LocalStackHealth, services: readonly string[]): string[] {
  return services.filter((s) => !READY_STATES.includes(health.services[s] ?? 'missing'));
}

/**
 * Polls `/_localstack/health` until every wanted service is available or
 * running. Fails with {@link LocalStackNotReadyError} on timeout (saying
 * which services were not ready, or that nothing answered), and at once when
 * a wanted service is disabled.
 *
 * @example
 * await waitForLocalStack({ endpoint: process.env.AWS_ENDPOINT_URL!, timeoutMs: 60_000 });
 */
export async function waitForLocalStack(
  options: WaitForLocalStackOptions,
): Promise<LocalStackHealth> {
  const services = options.services ?? ['kinesis', 'dynamodb', 's3'];
  const timeoutMs = options.timeoutMs ?? 120_000;
  const intervalMs = options.intervalMs ?? 1000;
  const deadline = Date.now() + timeoutMs;
  let last: HealthPoll | undefined;
  // The last answer LocalStack gave: a slow final request must not hide what it said before.
  let lastAnswer: HealthPoll | undefined;
  for (;;) {
    try {
      const health = await fetchLocalStackHealth(
        options.endpoint,
        Math.min(options.requestTimeoutMs ?? 5000, Math.max(250, deadline - Date.now())),
      );
      const disabled = services.filter(
        (s) => health.services[s] === 'disabled' || health.services[s] === undefined,
      );
      if (disabled.length > 0) {
        throw new LocalStackNotReadyError(
          `${disabled.join(', ')} ${disabled.length === 1 ? 'is' : 'are'} not enabled at ${options.endpoint}; add ${disabled.join(',')} to LocalStack's SERVICES (see docker-compose.yml).`,
          { kind: 'waiting', health, notReady: disabled },
        );
      }
      const notReady = servicesNotReady(health, services);
      last =
        notReady.length === 0 ? { kind: 'ready', health } : { kind: 'waiting', health, notReady };
      lastAnswer = last;
    } catch (e) {
      if (e instanceof LocalStackNotReadyError) throw e;
      last = { kind: 'unreachable', error: e instanceof Error ? e.message : String(e) };
    }
    options.onPoll?.(last);
    if (last.kind === 'ready') return last.health;
    if (Date.now() + intervalMs > deadline) {
      const report = lastAnswer ?? last;
      throw new LocalStackNotReadyError(
        describeTimeout(options.endpoint, timeoutMs, report),
        report,
        { answered: lastAnswer !== undefined },
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function describeTimeout(endpoint: string, timeoutMs: number, last: HealthPoll): string {
  if (last.kind === 'unreachable') {
    return `nothing answered at ${healthUrl(endpoint)} within ${timeoutMs} ms (${last.error}). Start it with \`docker compose up -d localstack\`.`;
  }
  const states =
    last.kind === 'waiting'
      ? last.notReady.map((s) => `${s}=${last.health.services[s] ?? 'missing'}`).join(', ')
      : '';
  return `services not ready within ${timeoutMs} ms: ${states}. Check \`docker compose logs localstack\`.`;
}
