/**
 * Bad input through the real click-counter handler on the embedded AWS: every
 * malformed record ends in the S3 dead-letter output with its position, raw
 * bytes and a reason; the shard keeps flowing (the good records around them
 * are applied); and records in = applied + dead-lettered.
 */
import { describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { badRecords } from '../../examples/click-counter/bad-records.ts';
import { fromDeadLetterDocument, type DeadLetterDocument } from '../../lib/adapters/documents.ts';
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import { buildKinesisEvent } from '../../lib/runtime/local/esm/kinesis-event.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { provisionFromTemplate } from '../../lib/runtime/local/index.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

describe('bad input', () => {
  it('GIVEN twelve kinds of malformed records between good ones WHEN handled THEN each is dead-lettered with its bytes and a reason, and the rest is applied', async () => {
    const stackName = `BadInput${Date.now().toString(36).slice(-5)}`;
    const template = await loadDemoTemplate({
      stackName,
      streamName: `bad-${stackName}`,
      shardCount: 1,
      onFailure: 's3',
    });
    const resources = await provisionFromTemplate(template, fx.clients, { stackName });
    const env = resources.mappings[0]?.environment ?? {};
    const handlers = createLambdaHandlers(
      clickCounter,
      lambdaConfigFromEnv({ ...fx.aws.env(), ...env }),
      { log: () => undefined },
    );
    try {
      const now = Date.now() - 60_000;
      const bad = badRecords(now);
      const good = (i: number): Uint8Array =>
        new TextEncoder().encode(JSON.stringify({ page: '/ok', user: `u${i}`, ts: now + i }));
      const payloads: { data: Uint8Array; kind: string }[] = [];
      bad.forEach((b, i) =>
        payloads.push({ data: good(i), kind: 'good' }, { data: b.data, kind: b.kind }),
      );
      payloads.push({ data: good(99), kind: 'good' });
      let seq = 49_680_514_199_409_641_896_077_182_677_042_377_638_377_395_437_116_000_000n;
      const event = buildKinesisEvent(
        payloads.map((p, i) => ({
          SequenceNumber: String((seq += 7n)),
          PartitionKey: `pk-${i}`,
          Data: p.data,
          ApproximateArrivalTimestamp: new Date(),
        })),
        {
          shardId: 'shardId-000000000000',
          streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/bad-${stackName}`,
          awsRegion: 'us-east-1',
          invokeIdentityArn: 'arn:aws:iam::000000000000:role/bad',
        },
      );
      // A twelfth kind that only a hand-built event can carry: kinesis.data that is not base64.
      const last = event.Records.at(-1);
      if (!last) throw new Error('no records');
      event.Records.push({
        ...last,
        eventID: `shardId-000000000000:${String((seq += 7n))}`,
        kinesis: { ...last.kinesis, sequenceNumber: String(seq), data: '%%% not base64 %%%' },
      });

      const out = await handlers.runtime.handle(event);
      expect(out.batchItemFailures).toEqual([]); // the shard keeps flowing
      // Reconciliation: every record of the event is applied or dead-lettered (none late here).
      const [report] = out.reports;
      const goodCount = payloads.filter((p) => p.kind === 'good').length;
      expect(report?.counts.inState).toBe(goodCount);
      expect((report?.counts.deadLettered ?? 0) + (report?.kplDeadLettered ?? 0)).toBe(
        bad.length + 1,
      );
      expect((report?.counts.received ?? 0) + (report?.kplDeadLettered ?? 0)).toBe(
        event.Records.length,
      );

      const bucket = env['WEIR_OUTPUT_BUCKET'] ?? '';
      const listed = await fx.clients.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'weir/click-counter/dead-letter/' }),
      );
      const docs = await Promise.all(
        (listed.Contents ?? []).map(async (c) => {
          const o = await fx.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: c.Key }));
          return JSON.parse(
            await (o.Body?.transformToString() ?? Promise.resolve('{}')),
          ) as DeadLetterDocument;
        }),
      );
      expect(docs).toHaveLength(bad.length + 1);
      const bySeq = new Map(
        docs.map((d) => [d.position.sequenceNumber, fromDeadLetterDocument(d)]),
      );
      for (const [i, r] of event.Records.entries()) {
        const p = payloads[i];
        if (p?.kind === 'good') {
          expect(bySeq.has(r.kinesis.sequenceNumber), `good record ${i} dead-lettered`).toBe(false);
          continue;
        }
        const d = bySeq.get(r.kinesis.sequenceNumber);
        expect(d, `${p?.kind ?? 'not base64'} was not dead-lettered`).toBeDefined();
        expect(d?.reason.length).toBeGreaterThan(10);
        if (p)
          expect(
            Buffer.from(d?.data ?? []).equals(Buffer.from(p.data)),
            `${p.kind}: raw bytes kept`,
          ).toBe(true);
      }
      expect(new Set(docs.map((d) => d.kind))).toEqual(
        new Set(['decode', 'event-time', 'user-function', 'oversized', 'kpl']),
      );
    } finally {
      handlers.clients.destroy();
    }
  });
});
