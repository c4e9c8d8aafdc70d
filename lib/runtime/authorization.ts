/**
 * Telling a missing permission from a passing fault. The emulators never
 * enforce IAM, so a grant missing from the construct shows up only on AWS,
 * as an error from the service. The runtime's best-effort steps (shard
 * registration before a batch, the ticker's end-of-shard and backlog checks)
 * go on after a passing fault, but a refused call is a deployment bug: it is
 * logged at ERROR, counted, and fails the tick.
 *
 * The check reads only the error's `name`, its HTTP status and its `cause`
 * chain, so the runtime stays free of SDK imports.
 */
import { WeirError } from '../errors.ts';

/** Error names with which AWS services refuse a caller that lacks a permission or valid credentials. */
const AUTHORIZATION_ERROR_NAMES: ReadonlySet<string> = new Set([
  'AccessDeniedException', // DynamoDB, Kinesis, SQS, Lambda (JSON protocols)
  'AccessDenied', // S3
  'KMSAccessDeniedException', // Kinesis: the stream's key may not be used by this role
  'UnrecognizedClientException', // unknown or invalid credentials
  'InvalidClientTokenId',
  'AuthorizationError', // SNS
  'AuthorizationErrorException',
  'UnauthorizedOperation',
  'NotAuthorized',
]);

/**
 * Whether `err` (or an error in its `cause` chain) is an AWS authorization
 * failure: one of the known error names, or HTTP 403.
 *
 * @example
 * isAuthorizationError(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })); // true
 */
export function isAuthorizationError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as {
      name?: unknown;
      $metadata?: { httpStatusCode?: unknown };
      cause?: unknown;
    };
    if (typeof e.name === 'string' && AUTHORIZATION_ERROR_NAMES.has(e.name)) return true;
    if (e.$metadata?.httpStatusCode === 403) return true;
    current = e.cause;
  }
  return false;
}

/** One AWS call of a tick or batch that was refused for lack of permission. */
export interface RefusedCall {
  /** The runtime step: `shard registration`, `end-of-shard check` or `backlog check`. */
  readonly step: string;
  /** The shard concerned, when one is. */
  readonly shardId?: string;
  /** `name: message` of the error. */
  readonly error: string;
}

/**
 * A tick did its work but some AWS calls were refused for lack of
 * permission: the function's role misses a grant. Thrown after the tick's
 * report is logged, so the invocation fails and Lambda's `Errors` metric (and
 * the construct's ticker-errors alarm) shows it.
 */
export class AccessDeniedError extends WeirError {
  readonly operator: string;
  readonly refused: readonly RefusedCall[];
  constructor(operator: string, refused: readonly RefusedCall[]) {
    super(
      `operator ${operator}: ${refused.length} AWS call(s) refused for lack of permission ` +
        `(${refused.map((r) => `${r.step}${r.shardId ? ` of ${r.shardId}` : ''}: ${r.error}`).join('; ')}). ` +
        "The function's role misses a grant: deploy it with the WeirOperator construct, or add the action named in the error.",
    );
    this.operator = operator;
    this.refused = refused;
  }
}
