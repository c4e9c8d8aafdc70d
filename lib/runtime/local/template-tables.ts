/**
 * The DynamoDB part of the template reader: a table's keys, attribute types,
 * billing, global secondary indexes and TTL, read into a {@link LocalTable}
 * whose `schema` is enough to create it exactly as synthesized. Pure.
 */
import { ConfigError, WeirError } from '../../errors.ts';
import type { CfnResolver } from './cfn-names.ts';
import type {
  LocalIndex,
  LocalKeyElement,
  LocalTable,
  LocalThroughput,
} from './local-resources.ts';

/** Reads one `AWS::DynamoDB::Table` resource; fails naming the table when it has no HASH key. */
export function describeTable(
  logicalId: string,
  props: Readonly<Record<string, unknown>>,
  names: CfnResolver,
): LocalTable {
  const p = names.physical(logicalId)!;
  const keySchema = keyElements(props['KeySchema'], `${logicalId}.KeySchema`);
  const partitionKey = keySchema.find((k) => k.keyType === 'HASH')?.attributeName;
  if (partitionKey === undefined)
    throw new WeirError(`Table ${logicalId} has no HASH key in its KeySchema.`);
  const ttl = props['TimeToLiveSpecification'] as
    { AttributeName?: unknown; Enabled?: unknown } | undefined;
  const billingMode =
    props['BillingMode'] === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
  const throughput = (v: unknown, where: string): LocalThroughput => {
    const t = (v ?? {}) as { ReadCapacityUnits?: unknown; WriteCapacityUnits?: unknown };
    return {
      readCapacityUnits:
        names.resolveNumber(t.ReadCapacityUnits, `${where}.ReadCapacityUnits`) ?? 5,
      writeCapacityUnits:
        names.resolveNumber(t.WriteCapacityUnits, `${where}.WriteCapacityUnits`) ?? 5,
    };
  };
  const indexes = ((props['GlobalSecondaryIndexes'] ?? []) as Array<Record<string, unknown>>).map(
    (g, i): LocalIndex => {
      const where = `${logicalId}.GlobalSecondaryIndexes[${i}]`;
      const projection = g['Projection'] as
        { ProjectionType?: unknown; NonKeyAttributes?: unknown } | undefined;
      const nonKey = projection?.NonKeyAttributes;
      return {
        indexName: names.resolveString(g['IndexName'], `${where}.IndexName`),
        keySchema: keyElements(g['KeySchema'], `${where}.KeySchema`),
        projectionType:
          typeof projection?.ProjectionType === 'string' ? projection.ProjectionType : 'ALL',
        ...(Array.isArray(nonKey) ? { nonKeyAttributes: nonKey.map(String) } : {}),
        ...(billingMode === 'PROVISIONED'
          ? { provisionedThroughput: throughput(g['ProvisionedThroughput'], where) }
          : {}),
      };
    },
  );
  const attributeDefinitions = (
    (props['AttributeDefinitions'] ?? []) as Array<{
      AttributeName?: unknown;
      AttributeType?: unknown;
    }>
  ).map((a, i) => ({
    attributeName: names.resolveString(a.AttributeName, `${logicalId}.AttributeDefinitions[${i}]`),
    attributeType: names.resolveString(a.AttributeType, `${logicalId}.AttributeDefinitions[${i}]`),
  }));
  return {
    logicalId,
    name: p.ref,
    arn: p.arn,
    partitionKey,
    sortKey: keySchema.find((k) => k.keyType === 'RANGE')?.attributeName,
    globalSecondaryIndexes: indexes.map((g) => g.indexName),
    ttlAttribute:
      ttl?.Enabled === true && typeof ttl.AttributeName === 'string'
        ? ttl.AttributeName
        : undefined,
    schema: {
      attributeDefinitions,
      keySchema,
      billingMode,
      ...(billingMode === 'PROVISIONED'
        ? { provisionedThroughput: throughput(props['ProvisionedThroughput'], logicalId) }
        : {}),
      globalSecondaryIndexes: indexes,
    },
  };
}

/** A key schema from the template, checked element by element. */
function keyElements(value: unknown, where: string): LocalKeyElement[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(where, value, 'must be a list of key elements');
  return value.map((k: unknown, i) => {
    const e = (k ?? {}) as { AttributeName?: unknown; KeyType?: unknown };
    if (typeof e.AttributeName !== 'string' || (e.KeyType !== 'HASH' && e.KeyType !== 'RANGE')) {
      throw new ConfigError(
        `${where}[${i}]`,
        k,
        'must be { AttributeName: string, KeyType: HASH | RANGE }',
      );
    }
    return { attributeName: e.AttributeName, keyType: e.KeyType };
  });
}
