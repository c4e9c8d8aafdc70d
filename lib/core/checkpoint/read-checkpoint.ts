/**
 * Reading checkpoints back: the items (for a restore), a verification of
 * every part (for `weir checkpoints --verify`), and the listing. Pure
 * TypeScript over the CheckpointStore port, which checks sizes and SHA-256;
 * this side decodes each line and names the line that does not decode.
 */
import { CheckpointError, CheckpointProblem } from '../../errors.ts';
import type { CheckpointManifest, CheckpointPart } from '../../model/checkpoint.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import type { WindowItem } from '../../ports/state-store.ts';
import { checkpointIdTime } from '../../model/checkpoint-id.ts';
import { decodeCheckpointItem } from './item-codec.ts';

/**
 * The manifest of checkpoint `id`, or of the newest complete checkpoint for
 * `'latest'`. No checkpoint at all: `CheckpointError` (`not-found`).
 *
 * @example
 * const manifest = await openCheckpoint(checkpoints, 'clicks', 'latest');
 * for await (const item of readCheckpointItems(checkpoints, manifest)) await restoreOne(item);
 */
export async function openCheckpoint(
  checkpoints: CheckpointStore,
  operator: string,
  id: string,
): Promise<CheckpointManifest> {
  if (id !== 'latest') return checkpoints.readManifest(operator, id);
  const latest = await checkpoints.latestId(operator);
  if (latest === undefined) {
    throw new CheckpointError({
      operator,
      previousCheckpointId: null,
      problem: CheckpointProblem.NotFound,
      detail: 'there is no complete checkpoint',
    });
  }
  return checkpoints.readManifest(operator, latest);
}

/** The window items of one part, verified (size, SHA-256, count by the store; each line here). */
export async function readPartItems(
  checkpoints: CheckpointStore,
  manifest: CheckpointManifest,
  part: CheckpointPart,
): Promise<WindowItem[]> {
  const lines = await checkpoints.readPart(manifest, part);
  return lines.map((line, i) => {
    try {
      return decodeCheckpointItem(line);
    } catch (e) {
      throw new CheckpointError(
        {
          operator: manifest.operator,
          checkpointId: manifest.id,
          part: part.name,
          previousCheckpointId: manifest.previousId,
          problem: CheckpointProblem.CorruptPart,
          detail: `line ${i + 1} is not a window item (${e instanceof Error ? e.message : String(e)})`,
        },
        { cause: e },
      );
    }
  });
}

/**
 * Every window item of a checkpoint, part after part (the next part is read
 * while the current one is consumed: at most two parts in memory). The first
 * missing, truncated or corrupt part stops the iteration with a
 * `CheckpointError` naming it and the previous checkpoint; items of earlier
 * parts have been yielded by then, so a restore verifies first
 * ({@link verifyCheckpoint}) or starts over from the previous checkpoint.
 */
export async function* readCheckpointItems(
  checkpoints: CheckpointStore,
  manifest: CheckpointManifest,
): AsyncGenerator<WindowItem, void, undefined> {
  const parts = manifest.parts;
  let next: Promise<WindowItem[]> | undefined =
    parts[0] === undefined ? undefined : readPartItems(checkpoints, manifest, parts[0]);
  for (let i = 0; next !== undefined; i++) {
    const current = next;
    const following = parts[i + 1];
    next = following === undefined ? undefined : readPartItems(checkpoints, manifest, following);
    // A prefetch that fails while the current part is consumed must not go unhandled.
    next?.catch(() => undefined);
    for (const item of await current) yield item;
  }
}

/** The result of {@link verifyCheckpoint}. */
export interface CheckpointVerification {
  readonly operator: string;
  readonly id: string;
  /** `undefined` when the manifest itself cannot be read. */
  readonly manifest: CheckpointManifest | undefined;
  /** Items that decoded from the intact parts. */
  readonly itemsVerified: number;
  /** Parts that passed. */
  readonly partsVerified: number;
  /** One error per bad part (or one for the manifest); empty when the checkpoint is intact. */
  readonly problems: readonly CheckpointError[];
  readonly ok: boolean;
}

/**
 * Reads every part of a checkpoint and decodes every item, reporting every
 * bad part (not only the first). Nothing is restored or written.
 *
 * @example
 * const v = await verifyCheckpoint(checkpoints, 'clicks', id);
 * if (!v.ok) console.error(v.problems.map((p) => p.message).join('\n'));
 */
export async function verifyCheckpoint(
  checkpoints: CheckpointStore,
  operator: string,
  id: string,
): Promise<CheckpointVerification> {
  let manifest: CheckpointManifest;
  try {
    manifest = await checkpoints.readManifest(operator, id);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    return {
      operator,
      id,
      manifest: undefined,
      itemsVerified: 0,
      partsVerified: 0,
      problems: [e],
      ok: false,
    };
  }
  const problems: CheckpointError[] = [];
  let itemsVerified = 0;
  let partsVerified = 0;
  for (const part of manifest.parts) {
    try {
      itemsVerified += (await readPartItems(checkpoints, manifest, part)).length;
      partsVerified++;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      problems.push(e);
    }
  }
  const counted = manifest.parts.reduce((n, p) => n + p.items, 0);
  if (problems.length === 0 && counted !== manifest.items) {
    problems.push(
      new CheckpointError({
        operator,
        checkpointId: id,
        part: 'manifest.json',
        previousCheckpointId: manifest.previousId,
        problem: CheckpointProblem.ItemCountMismatch,
        detail: `the manifest says ${manifest.items} items, its parts ${counted}`,
      }),
    );
  }
  return {
    operator,
    id,
    manifest,
    itemsVerified,
    partsVerified,
    problems,
    ok: problems.length === 0,
  };
}

/** The state of a checkpoint folder, as a value. */
export const CheckpointStatus = {
  /** The manifest is stored and reads (and, when verified, every part too). */
  Complete: 'complete',
  /** The manifest does not read, or (when verified) a part is bad. */
  Corrupt: 'corrupt',
  /** Being taken: `in-progress.json`, no manifest. */
  InProgress: 'in-progress',
  /** Parts without manifest or marker: an abandoned taking; retention deletes it. */
  Orphan: 'orphan',
} as const;
/** One of {@link CheckpointStatus}. */
export type CheckpointStatus = (typeof CheckpointStatus)[keyof typeof CheckpointStatus];

/** One line of `weir checkpoints`. */
export interface CheckpointSummary {
  readonly id: string;
  /** Capture time of the positions (epoch ms, from the id). */
  readonly createdAt: number;
  /** From the manifest; `undefined` when there is none that reads. */
  readonly completedAt: number | undefined;
  /** From the manifest; `undefined` when there is none that reads. */
  readonly items: number | undefined;
  /** Stored bytes of the whole folder. */
  readonly bytes: number;
  readonly status: CheckpointStatus;
  /** Why it is corrupt. */
  readonly problems: readonly CheckpointError[];
}

/**
 * Every checkpoint folder of an operator, newest first. Without `verify`
 * only the manifests are read; with it every part is read and checked.
 */
export async function listCheckpoints(
  checkpoints: CheckpointStore,
  operator: string,
  options: { readonly verify?: boolean } = {},
): Promise<CheckpointSummary[]> {
  const out: CheckpointSummary[] = [];
  for (const folder of await checkpoints.list(operator)) {
    const base = { id: folder.id, createdAt: checkpointIdTime(folder.id), bytes: folder.bytes };
    if (!folder.complete) {
      out.push({
        ...base,
        completedAt: undefined,
        items: undefined,
        status: folder.inProgress ? CheckpointStatus.InProgress : CheckpointStatus.Orphan,
        problems: [],
      });
      continue;
    }
    let manifest: CheckpointManifest | undefined;
    let problems: readonly CheckpointError[] = [];
    if (options.verify === true) {
      const v = await verifyCheckpoint(checkpoints, operator, folder.id);
      manifest = v.manifest;
      problems = v.problems;
    } else {
      try {
        manifest = await checkpoints.readManifest(operator, folder.id);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        problems = [e];
      }
    }
    out.push({
      ...base,
      completedAt: manifest?.completedAt,
      items: manifest?.items,
      status: problems.length === 0 ? CheckpointStatus.Complete : CheckpointStatus.Corrupt,
      problems,
    });
  }
  return out;
}
