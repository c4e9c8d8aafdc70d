/**
 * The CheckpointStore contract: one suite, run against InMemoryCheckpointStore
 * (unit) and S3CheckpointStore on s3rver (integration). Every test uses its
 * own operator, so one store (one bucket) serves the whole suite.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointError, CheckpointProblem } from '../../lib/errors.ts';
import {
  CHECKPOINT_FORMAT,
  type CheckpointInProgress,
  type CheckpointManifest,
  type CheckpointPart,
} from '../../lib/model/checkpoint.ts';
import type { CheckpointStore } from '../../lib/ports/checkpoint-store.ts';
import { shardId as toShardId } from '../../lib/model/position.ts';

/** What a runner provides: the store and raw access to its objects (to damage them). */
export interface CheckpointStoreFixture {
  readonly store: CheckpointStore & {
    keyOf(operator: string, id: string, name: string): string;
  };
  /** The stored bytes of a key, or `undefined`. */
  read(key: string): Promise<Uint8Array | undefined>;
  /** Replaces an object's bytes without any check. */
  write(key: string, body: Uint8Array): Promise<void>;
  /** Deletes an object. */
  remove(key: string): Promise<void>;
}

let counter = 0;
function freshOperator(): string {
  counter += 1;
  return `ckpt-op-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Ids in creation order: `n` milliseconds after a fixed epoch. */
function id(n: number, suffix = '0000abcd'): string {
  return `${String(1_767_225_600_000 + n).padStart(16, '0')}-${suffix}`;
}

const OFFSET = `${'49590338271490256608559692538361571095921575989136588898'.padStart(128, '0')}.${'0'.padStart(10, '0')}`;

function manifestOf(
  operator: string,
  checkpointId: string,
  parts: readonly CheckpointPart[],
  overrides: Partial<CheckpointManifest> = {},
): CheckpointManifest {
  return {
    format: CHECKPOINT_FORMAT,
    operator,
    streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks',
    id: checkpointId,
    previousId: null,
    startedAt: 1_767_225_600_000,
    completedAt: 1_767_225_601_234,
    progress: {
      watermark: 1_767_225_540_000,
      shards: [
        {
          shardId: toShardId('shardId-000000000000'),
          committed: OFFSET,
          watermark: 1_767_225_541_000,
          lastActivity: 1_767_225_599_000,
          closed: false,
        },
        {
          shardId: toShardId('shardId-000000000001'),
          committed: null,
          watermark: null,
          lastActivity: 5,
          closed: true,
          judged: { upTo: OFFSET, published: -Infinity, others: Infinity },
        },
      ],
    },
    totalSegments: 2,
    items: parts.reduce((n, p) => n + p.items, 0),
    bytes: parts.reduce((n, p) => n + p.bytes, 0),
    parts,
    ...overrides,
  };
}

const LINES_A = ['{"k":"a"}', '{"k":"ü \\u2028 😀"}', '{"k":"c"}'];
const LINES_B = ['{"k":"d"}'];

/**
 * Registers the contract tests for a CheckpointStore implementation.
 *
 * @example
 * describeCheckpointStoreContract('InMemoryCheckpointStore', async () => fixtureOf(new InMemoryCheckpointStore()));
 */
export function describeCheckpointStoreContract(
  name: string,
  makeFixture: () => Promise<CheckpointStoreFixture>,
): void {
  describe(`CheckpointStore contract: ${name}`, () => {
    /** A complete checkpoint with two parts. */
    const committed = async (
      fx: CheckpointStoreFixture,
      operator: string,
      checkpointId: string,
      previousId: string | null = null,
    ): Promise<CheckpointManifest> => {
      const parts = [
        await fx.store.writePart({
          operator,
          checkpointId,
          index: 0,
          segment: 0,
          lines: LINES_A,
        }),
        await fx.store.writePart({
          operator,
          checkpointId,
          index: 1,
          segment: 1,
          lines: LINES_B,
        }),
      ];
      const manifest = manifestOf(operator, checkpointId, parts, { previousId });
      await fx.store.commit(manifest);
      return manifest;
    };

    const refusal = async (p: Promise<unknown>): Promise<CheckpointError> => {
      const e: unknown = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(CheckpointError);
      return e as CheckpointError;
    };

    describe('writing and reading', () => {
      it('GIVEN parts and a manifest WHEN committed THEN the manifest and the lines read back exactly', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const manifest = await committed(fx, op, id(1));
        expect(manifest.parts.map((p) => [p.name, p.index, p.segment, p.items])).toEqual([
          ['part-00000.ndjson.gz', 0, 0, 3],
          ['part-00001.ndjson.gz', 1, 1, 1],
        ]);
        for (const p of manifest.parts) {
          expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
          expect(p.bytes).toBe((await fx.read(fx.store.keyOf(op, id(1), p.name)))?.byteLength);
        }
        expect(await fx.store.latestId(op)).toBe(id(1));
        expect(await fx.store.readManifest(op, id(1))).toEqual(manifest);
        expect(await fx.store.readPart(manifest, manifest.parts[0] as CheckpointPart)).toEqual(
          LINES_A,
        );
        expect(await fx.store.readPart(manifest, manifest.parts[1] as CheckpointPart)).toEqual(
          LINES_B,
        );
      });

      it('GIVEN a stored part WHEN its bytes are read raw THEN they are gzip of the lines, one per line, and the manifest is indented JSON', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const manifest = await committed(fx, op, id(1));
        const raw = await fx.read(fx.store.keyOf(op, id(1), 'part-00000.ndjson.gz'));
        const { gunzipSync } = await import('node:zlib');
        expect(gunzipSync(raw as Uint8Array).toString('utf8')).toBe(`${LINES_A.join('\n')}\n`);
        const text = Buffer.from(
          (await fx.read(fx.store.keyOf(op, id(1), 'manifest.json'))) as Uint8Array,
        ).toString('utf8');
        expect(text).toMatch(/^\{\n {2}"format": "weir\.checkpoint\/1",\n/);
        expect(JSON.parse(text)).toMatchObject({ id: manifest.id, items: 4 });
      });

      it('GIVEN a manifest with judged infinities and a restore generation WHEN read THEN they round-trip', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const part = await fx.store.writePart({
          operator: op,
          checkpointId: id(1),
          index: 7,
          segment: 0,
          lines: [],
        });
        expect(part.items).toBe(0);
        const manifest = manifestOf(op, id(1), [part], { restoreGeneration: 3 });
        await fx.store.commit(manifest);
        expect(await fx.store.readManifest(op, id(1))).toEqual(manifest);
        expect(await fx.store.readPart(manifest, part)).toEqual([]);
      });

      it('GIVEN a checkpoint being taken WHEN its state is saved, replaced and committed THEN the state round-trips and the commit removes it', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const part = await fx.store.writePart({
          operator: op,
          checkpointId: id(1),
          index: 0,
          segment: 1,
          lines: LINES_B,
        });
        const base = manifestOf(op, id(1), [part]);
        const state: CheckpointInProgress = {
          format: CHECKPOINT_FORMAT,
          operator: op,
          streamArn: base.streamArn,
          id: id(1),
          previousId: null,
          startedAt: base.startedAt,
          updatedAt: base.startedAt + 5,
          calls: 1,
          progress: base.progress,
          totalSegments: 2,
          segments: [
            { segment: 0, cursor: null, done: false },
            { segment: 1, cursor: '{"pk":"x#y","sk":"W#1"}', done: false },
          ],
          parts: [part],
        };
        expect(await fx.store.readInProgress(op, id(1))).toBeUndefined();
        await fx.store.saveInProgress(state);
        expect(await fx.store.readInProgress(op, id(1))).toEqual(state);
        const later = { ...state, calls: 2, updatedAt: state.updatedAt + 1 };
        await fx.store.saveInProgress(later);
        expect(await fx.store.readInProgress(op, id(1))).toEqual(later);
        expect(await fx.store.latestId(op)).toBeUndefined();
        const listed = await fx.store.list(op);
        expect(listed.map((f) => [f.id, f.complete, f.inProgress, f.objects])).toEqual([
          [id(1), false, true, 2],
        ]);
        const e = await refusal(fx.store.readManifest(op, id(1)));
        expect(e.problem).toBe(CheckpointProblem.NotFound);
        expect(e.detail).toMatch(/being taken/);

        await fx.store.commit(base);
        expect(await fx.store.readInProgress(op, id(1))).toBeUndefined();
        expect(await fx.store.latestId(op)).toBe(id(1));
      });
    });

    describe('what exists', () => {
      it('GIVEN complete checkpoints, one being taken and an orphan WHEN listed THEN newest first, the latest is the newest with a manifest', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        await committed(fx, op, id(10));
        await committed(fx, op, id(20, 'ffffffff'), id(10));
        await committed(fx, op, id(20, '00000000'), id(10));
        // An abandoned taking: parts only. A newer one being taken.
        await fx.store.writePart({
          operator: op,
          checkpointId: id(15),
          index: 0,
          segment: 0,
          lines: LINES_A,
        });
        await fx.store.saveInProgress({
          format: CHECKPOINT_FORMAT,
          operator: op,
          streamArn: 'arn',
          id: id(30),
          previousId: id(20, 'ffffffff'),
          startedAt: 1,
          updatedAt: 1,
          calls: 1,
          progress: { watermark: null, shards: [] },
          totalSegments: 1,
          segments: [{ segment: 0, cursor: null, done: false }],
          parts: [],
        });
        expect(await fx.store.latestId(op)).toBe(id(20, 'ffffffff'));
        const listed = await fx.store.list(op);
        expect(listed.map((f) => [f.id, f.complete, f.inProgress, f.objects])).toEqual([
          [id(30), false, true, 1],
          [id(20, 'ffffffff'), true, false, 3],
          [id(20, '00000000'), true, false, 3],
          [id(15), false, false, 1],
          [id(10), true, false, 3],
        ]);
        for (const f of listed) expect(f.bytes).toBeGreaterThan(0);
        const e = await refusal(fx.store.readManifest(op, id(15)));
        expect(e.problem).toBe(CheckpointProblem.NotFound);
        expect(e.detail).toMatch(/abandoned/);
        expect(e.previousCheckpointId).toBe(id(10));
      });

      it('GIVEN two operators, one with a slash in its name WHEN each lists THEN neither sees the other', async () => {
        const fx = await makeFixture();
        const op = `${freshOperator()}/a b`;
        const other = `${op}x`;
        await committed(fx, op, id(1));
        expect(fx.store.keyOf(op, id(1), 'manifest.json')).toContain(
          `${encodeURIComponent(op)}/checkpoints/${id(1)}/manifest.json`,
        );
        expect(await fx.store.latestId(other)).toBeUndefined();
        expect(await fx.store.list(other)).toEqual([]);
        expect((await fx.store.list(op)).map((f) => f.id)).toEqual([id(1)]);
      });

      it('GIVEN nothing WHEN read THEN latest is undefined, the listing empty, and a manifest not found', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        expect(await fx.store.latestId(op)).toBeUndefined();
        expect(await fx.store.list(op)).toEqual([]);
        const e = await refusal(fx.store.readManifest(op, id(1)));
        expect(e.problem).toBe(CheckpointProblem.NotFound);
        expect(e.previousCheckpointId).toBeNull();
      });

      it('GIVEN a malformed id WHEN used THEN a CheckpointError says what an id looks like', async () => {
        const fx = await makeFixture();
        const e = await refusal(fx.store.readManifest(freshOperator(), '../escape'));
        expect(e.problem).toBe(CheckpointProblem.Invalid);
        expect(e.message).toMatch(/16-digit epoch ms/);
      });
    });

    describe('commit', () => {
      it('GIVEN a manifest listing a part that was never written WHEN committed THEN it is refused by name and no manifest appears', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        await committed(fx, op, id(1));
        const part = await fx.store.writePart({
          operator: op,
          checkpointId: id(2),
          index: 0,
          segment: 0,
          lines: LINES_A,
        });
        const ghost = { ...part, index: 1, name: 'part-00001.ndjson.gz' };
        const e = await refusal(
          fx.store.commit(manifestOf(op, id(2), [part, ghost], { previousId: id(1) })),
        );
        expect([e.problem, e.part, e.checkpointId, e.previousCheckpointId]).toEqual([
          CheckpointProblem.MissingPart,
          'part-00001.ndjson.gz',
          id(2),
          id(1),
        ]);
        expect(await fx.store.latestId(op)).toBe(id(1));
        const wrongSize = { ...part, bytes: part.bytes + 1 };
        expect((await refusal(fx.store.commit(manifestOf(op, id(2), [wrongSize])))).problem).toBe(
          CheckpointProblem.TruncatedPart,
        );
        expect(await fx.store.latestId(op)).toBe(id(1));
      });

      it('GIVEN a part the manifest does not list WHEN committed THEN the stray part is deleted and the listed ones kept', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const kept = await fx.store.writePart({
          operator: op,
          checkpointId: id(1),
          index: 0,
          segment: 0,
          lines: LINES_A,
        });
        await fx.store.writePart({
          operator: op,
          checkpointId: id(1),
          index: 1,
          segment: 0,
          lines: LINES_B,
        });
        await fx.store.commit(manifestOf(op, id(1), [kept]));
        expect(await fx.read(fx.store.keyOf(op, id(1), 'part-00001.ndjson.gz'))).toBeUndefined();
        expect(await fx.read(fx.store.keyOf(op, id(1), 'part-00000.ndjson.gz'))).toBeDefined();
        expect((await fx.store.list(op))[0]?.objects).toBe(2);
      });

      it('GIVEN a committed checkpoint WHEN committed again THEN it is refused and the manifest unchanged', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const manifest = await committed(fx, op, id(1));
        const e = await refusal(fx.store.commit({ ...manifest, completedAt: 1 }));
        expect(e.problem).toBe(CheckpointProblem.Invalid);
        expect(await fx.store.readManifest(op, id(1))).toEqual(manifest);
      });
    });

    describe('damage is refused by name', () => {
      const damaged = async (
        damage: (fx: CheckpointStoreFixture, key: string, bytes: Uint8Array) => Promise<void>,
      ): Promise<CheckpointError> => {
        const fx = await makeFixture();
        const op = freshOperator();
        await committed(fx, op, id(1));
        const manifest = await committed(fx, op, id(2), id(1));
        const part = manifest.parts[0] as CheckpointPart;
        const key = fx.store.keyOf(op, id(2), part.name);
        await damage(fx, key, (await fx.read(key)) as Uint8Array);
        const e = await refusal(fx.store.readPart(manifest, part));
        expect([e.operator, e.checkpointId, e.part, e.previousCheckpointId]).toEqual([
          op,
          id(2),
          'part-00000.ndjson.gz',
          id(1),
        ]);
        expect(e.message).toContain(`The previous checkpoint is ${id(1)}`);
        return e;
      };

      it('GIVEN a deleted part WHEN read THEN missing-part', async () => {
        const e = await damaged((fx, key) => fx.remove(key));
        expect(e.problem).toBe(CheckpointProblem.MissingPart);
      });

      it('GIVEN a truncated part WHEN read THEN truncated-part with both sizes', async () => {
        const e = await damaged((fx, key, bytes) => fx.write(key, bytes.slice(0, 10)));
        expect(e.problem).toBe(CheckpointProblem.TruncatedPart);
        expect(e.detail).toMatch(/expected \d+ bytes, found 10/);
      });

      it('GIVEN a part with one byte flipped WHEN read THEN checksum-mismatch', async () => {
        const e = await damaged((fx, key, bytes) => {
          const copy = bytes.slice();
          copy[copy.length - 9] = (copy[copy.length - 9] as number) ^ 0x01;
          return fx.write(key, copy);
        });
        expect(e.problem).toBe(CheckpointProblem.ChecksumMismatch);
      });

      it('GIVEN a manifest whose item count disagrees with its intact part WHEN the part is read THEN item-count-mismatch', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const part = await fx.store.writePart({
          operator: op,
          checkpointId: id(1),
          index: 0,
          segment: 0,
          lines: LINES_A,
        });
        const manifest = manifestOf(op, id(1), [{ ...part, items: 4 }]);
        await fx.store.commit(manifest);
        const e = await refusal(fx.store.readPart(manifest, manifest.parts[0] as CheckpointPart));
        expect(e.problem).toBe(CheckpointProblem.ItemCountMismatch);
        expect(e.detail).toBe('expected 4 items, found 3');
        expect(e.previousCheckpointId).toBeNull();
      });

      it('GIVEN a manifest that is not JSON WHEN read THEN unreadable-manifest naming the older complete checkpoint', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        await committed(fx, op, id(1));
        await committed(fx, op, id(2), id(1));
        await fx.write(
          fx.store.keyOf(op, id(2), 'manifest.json'),
          Buffer.from('{"format": "weir.'),
        );
        const e = await refusal(fx.store.readManifest(op, id(2)));
        expect([e.problem, e.part, e.previousCheckpointId]).toEqual([
          CheckpointProblem.UnreadableManifest,
          'manifest.json',
          id(1),
        ]);
      });

      it('GIVEN a manifest of an unknown format version WHEN read THEN it is refused naming the version found and the one read', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const manifest = await committed(fx, op, id(1));
        const text = JSON.stringify({ ...manifest, format: 'weir.checkpoint/2' });
        await fx.write(fx.store.keyOf(op, id(1), 'manifest.json'), Buffer.from(text));
        const e = await refusal(fx.store.readManifest(op, id(1)));
        expect(e.problem).toBe(CheckpointProblem.UnknownFormat);
        expect(e.message).toContain('"weir.checkpoint/2"');
        expect(e.message).toContain('reads "weir.checkpoint/1" only');
        expect(e.previousCheckpointId).toBeNull();
      });

      it('GIVEN a manifest missing a field WHEN read THEN unreadable-manifest names the field', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        const manifest = await committed(fx, op, id(1));
        const { streamArn: _dropped, ...rest } = manifest;
        await fx.write(
          fx.store.keyOf(op, id(1), 'manifest.json'),
          Buffer.from(JSON.stringify(rest)),
        );
        const e = await refusal(fx.store.readManifest(op, id(1)));
        expect(e.problem).toBe(CheckpointProblem.UnreadableManifest);
        expect(e.detail).toBe('streamArn is missing');
      });
    });

    describe('delete', () => {
      it('GIVEN two checkpoints WHEN the newer is deleted THEN all its objects are gone and the older is latest', async () => {
        const fx = await makeFixture();
        const op = freshOperator();
        await committed(fx, op, id(1));
        const newer = await committed(fx, op, id(2), id(1));
        await fx.store.delete(op, id(2));
        expect(await fx.store.latestId(op)).toBe(id(1));
        expect((await fx.store.list(op)).map((f) => f.id)).toEqual([id(1)]);
        for (const p of newer.parts) {
          expect(await fx.read(fx.store.keyOf(op, id(2), p.name))).toBeUndefined();
        }
        await fx.store.delete(op, id(2));
        await fx.store.delete(op, id(3));
      });
    });
  });
}
