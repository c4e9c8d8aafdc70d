/**
 * Test helper of the IAM-from-usage proofs: renders the calls a recording
 * proxy saw (test/helpers/aws-recording-proxy.ts) against a provisioned
 * template's logical ids, as test/helpers/iam-policy.ts renders grants, and
 * checks a role both ways (every use allowed; every grant used or explained).
 */
import type { LocalResources } from '../../lib/runtime/local/local-resources.ts';
import type { RecordedCall } from './aws-recording-proxy.ts';
import { allows, type Grant } from './iam-policy.ts';

/** One recorded authorization, with its resource rendered as the template renders grants. */
export interface Use {
  /** Which proxy (function, ESM, command) the call came through. */
  readonly origin: string;
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  /** The prefix a listing asked for (IAM's `s3:prefix`). */
  readonly s3Prefix?: string;
}

/** What the policy check found for one role. */
export interface RoleCheck {
  /** Recorded uses no grant allows: `action resource (origin operation)`. */
  readonly missing: string[];
  /** Grants no recorded use needed and not explained: `action resource`. */
  readonly unused: string[];
}

/** A grant the scenarios cannot reach, with the reason. */
export interface NotReached {
  readonly action: string;
  readonly resource: RegExp;
  readonly reason?: string;
}

/** Checks one role's grants against the uses recorded for it (both directions). */
export function checkRole(
  grants: readonly Grant[],
  uses: readonly Use[],
  notReached: readonly NotReached[],
): RoleCheck {
  const missing = uses
    .filter((u) => !grants.some((g) => allows(g, u.action, u.resource, u.s3Prefix)))
    .map((u) => `${u.action} ${u.resource} (${u.origin} ${u.operation})`);
  const unused = grants
    .filter((g) => !uses.some((u) => allows(g, u.action, u.resource, u.s3Prefix)))
    .filter((g) => !notReached.some((n) => n.action === g.action && n.resource.test(g.resource)))
    .map((g) => `${g.action} ${g.resource}`);
  return { missing: [...new Set(missing)].sort(), unused: [...new Set(unused)].sort() };
}

/** The uses of recorded calls, resources rendered against the provisioned template's logical ids. */
export function renderUses(
  origin: string,
  calls: readonly RecordedCall[],
  resources: Pick<LocalResources, 'tables' | 'streams' | 'buckets'>,
): Use[] {
  const byName = new Map<string, string>();
  for (const t of resources.tables) byName.set(`table:${t.name}`, t.logicalId);
  for (const s of resources.streams) byName.set(`stream:${s.name}`, s.logicalId);
  for (const b of resources.buckets) byName.set(`bucket:${b.name}`, b.logicalId);
  const arn = (kind: string, name: string): string => {
    const id = byName.get(`${kind}:${name}`);
    return id === undefined ? `?${kind}:${name}` : `<${id}.Arn>`;
  };
  const out: Use[] = [];
  for (const call of calls) {
    for (const a of call.authorizations) {
      const r = a.resource;
      const resource =
        r.kind === 'table'
          ? arn('table', r.table)
          : r.kind === 'index'
            ? `${arn('table', r.table)}/index/${r.index}`
            : r.kind === 'stream'
              ? arn('stream', r.stream)
              : r.kind === 'bucket'
                ? arn('bucket', r.bucket)
                : r.kind === 'object'
                  ? `${arn('bucket', r.bucket)}/${r.key}`
                  : `?${r.detail}`;
      const s3Prefix = r.kind === 'bucket' ? r.prefix : undefined;
      out.push({
        origin,
        operation: call.operation,
        action: a.action,
        resource,
        ...(s3Prefix !== undefined ? { s3Prefix } : {}),
      });
    }
  }
  return out;
}
