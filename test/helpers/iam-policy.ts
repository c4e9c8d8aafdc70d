/**
 * Test helper: reads the IAM grants of a synthesized template as flat
 * (action, resource) pairs, with resources rendered symbolically
 * (`<ClickCounterStateTableFE05DCDD.Arn>/index/due`), and matches them the
 * way IAM does (`*` and `?` wildcards; actions case-insensitive). Used by the
 * CDK tests (exact grants per role) and by the IAM-from-usage proof, which
 * renders each recorded AWS call the same way.
 */

/** A CloudFormation template, as far as these helpers read it. */
export interface TemplateJson {
  readonly Resources: Readonly<
    Record<
      string,
      {
        readonly Type: string;
        readonly Properties?: Readonly<Record<string, unknown>>;
        readonly Metadata?: Readonly<Record<string, unknown>>;
      }
    >
  >;
}

/** One allowed (action, resource) pair of a role. */
export interface Grant {
  readonly action: string;
  /** Rendered resource pattern, e.g. `<OpStateTable1A2B3C4D.Arn>/index/due` or `*`. */
  readonly resource: string;
  /** Logical id of the AWS::IAM::Policy holding it. */
  readonly policy: string;
  /** Patterns of a `StringLike` `s3:prefix` condition (the only condition these helpers read): a listing must ask for a matching prefix. */
  readonly s3Prefix?: readonly string[];
}

/** The `s3:prefix` patterns of a statement's condition; throws on any other condition. */
function s3PrefixCondition(st: Record<string, unknown>): readonly string[] | undefined {
  const c = st['Condition'] as Record<string, Record<string, unknown>> | undefined;
  if (c === undefined) return undefined;
  const keys = Object.keys(c);
  const like = c['StringLike'];
  if (keys.length !== 1 || like === undefined || Object.keys(like).join() !== 's3:prefix')
    throw new Error(`a condition these helpers do not read: ${JSON.stringify(c)}`);
  return ([] as unknown[]).concat(like['s3:prefix']).map(String);
}

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Renders a template value (string or intrinsic) to a symbolic string. */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0]!;
      if (fn === 'Ref' && typeof arg === 'string') return PSEUDO[arg] ?? `<${arg}>`;
      if (fn === 'Fn::GetAtt' && Array.isArray(arg)) return `<${String(arg[0])}.${String(arg[1])}>`;
      if (fn === 'Fn::Join' && Array.isArray(arg) && Array.isArray(arg[1])) {
        return (arg[1] as unknown[]).map(render).join(String(arg[0]));
      }
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** Logical ids of the operator function, the ticker and the checkpoint function of a `WeirOperator` (by metadata). */
export function weirFunctions(template: TemplateJson): {
  handler: string;
  ticker: string;
  checkpointer: string;
} {
  const fns = Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['weir:entry'] !== undefined,
  );
  const marked = (key: string) =>
    fns.filter(([, r]) => r.Metadata?.[key] === true).map(([id]) => id);
  const ticker = marked('weir:ticker');
  const checkpointer = marked('weir:checkpointer');
  const handler = fns
    .filter(
      ([, r]) => r.Metadata?.['weir:ticker'] !== true && r.Metadata?.['weir:checkpointer'] !== true,
    )
    .map(([id]) => id);
  if (ticker.length !== 1 || handler.length !== 1 || checkpointer.length !== 1)
    throw new Error(
      `expected one operator function, one ticker and one checkpointer, found ${fns.length} functions`,
    );
  return { handler: handler[0]!, ticker: ticker[0]!, checkpointer: checkpointer[0]! };
}

/** Logical id of a function's execution role. */
export function roleOfFunction(template: TemplateJson, functionId: string): string {
  const role = template.Resources[functionId]?.Properties?.['Role'];
  const id = (role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
  if (id === undefined) throw new Error(`function ${functionId} has no role of this template`);
  return id;
}

/** Managed policy ARNs attached to a role. */
export function managedPoliciesOf(template: TemplateJson, roleId: string): string[] {
  const arns = template.Resources[roleId]?.Properties?.['ManagedPolicyArns'];
  return Array.isArray(arns) ? arns.map((a) => JSON.stringify(a)) : [];
}

/** Every Allow (action, resource) pair of the policies attached to a role. Fails on Deny, NotAction or conditions. */
export function grantsOfRole(template: TemplateJson, roleId: string): Grant[] {
  const out: Grant[] = [];
  for (const [policyId, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties?.['Roles'] ?? []) as unknown[];
    if (!roles.some((x) => render(x) === `<${roleId}>`)) continue;
    const doc = r.Properties?.['PolicyDocument'] as { Statement: Record<string, unknown>[] };
    for (const st of doc.Statement) {
      if (st['Effect'] !== 'Allow' || st['NotAction'] || st['NotResource'])
        throw new Error(
          `policy ${policyId} has a statement these helpers do not read: ${JSON.stringify(st)}`,
        );
      const actions = ([] as unknown[]).concat(st['Action']).map(String);
      const resources = ([] as unknown[]).concat(st['Resource']).map(render);
      const s3Prefix = s3PrefixCondition(st);
      for (const action of actions)
        for (const resource of resources)
          out.push({ action, resource, policy: policyId, ...(s3Prefix ? { s3Prefix } : {}) });
    }
  }
  return out;
}

/** IAM string matching: `*` any run of characters, `?` one character; case-sensitive (resources). */
export function wildcardMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

/**
 * Whether a grant allows an (action, resource) pair (actions compare
 * case-insensitively, as IAM does); a grant with an `s3:prefix` condition
 * allows only a listing whose `s3Prefix` matches it.
 */
export function allows(grant: Grant, action: string, resource: string, s3Prefix?: string): boolean {
  return (
    wildcardMatch(grant.action.toLowerCase(), action.toLowerCase()) &&
    wildcardMatch(grant.resource, resource) &&
    (grant.s3Prefix === undefined ||
      (s3Prefix !== undefined && grant.s3Prefix.some((p) => wildcardMatch(p, s3Prefix))))
  );
}

/** Drops the 8-hex-digit hash CDK appends to logical ids, for readable assertions. */
export function withoutHashes(s: string): string {
  return s.replace(/([A-Za-z0-9]+?)[0-9A-F]{8}(?=[.>])/g, '$1');
}
