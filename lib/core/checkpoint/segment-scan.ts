/**
 * The segment scan of a checkpoint (step 3 in take-checkpoint.ts): the
 * unfinished segments' pages streamed into parts, their cursors saved with
 * the parts, the deadline honoured, merging windows settled.
 */
import { CheckpointError, CheckpointProblem } from '../../errors.ts';
import type {
  CheckpointInProgress,
  CheckpointManifest,
  CheckpointSegmentState,
} from '../../model/checkpoint.ts';
import type { WindowItem } from '../../ports/state-store.ts';
import { encodeCheckpointItem } from './item-codec.ts';
import type { CheckpointTakerProps } from './take-checkpoint.ts';

/** Reads of one key before a checkpoint of merging windows gives up on it. */
const MAX_SETTLE_READS = 8;

/**
 * One call's scan of the unfinished segments. Each segment's parts hold
 * exactly its items before its saved cursor, which is what makes a saved
 * state resumable: parts never mix segments, and a segment's cursor and its
 * new part enter the saved state together.
 */
export class SegmentScan {
  pages = 0;
  items = 0;
  partsWritten = 0;
  readonly #segments: Map<number, CheckpointSegmentState>;
  readonly #parts: CheckpointManifest['parts'][number][];
  #nextIndex: number;
  /** Saves run one after another, each with the state as it is when it runs. */
  #saving: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(
    private readonly p: Required<CheckpointTakerProps>,
    private readonly initial: CheckpointInProgress,
    private readonly deadline: number | undefined,
  ) {
    this.#segments = new Map(initial.segments.map((s) => [s.segment, s]));
    this.#parts = [...initial.parts];
    this.#nextIndex = initial.parts.reduce((n, part) => Math.max(n, part.index + 1), 0);
  }

  snapshot(): CheckpointInProgress {
    return {
      ...this.initial,
      updatedAt: this.p.clock.now(),
      segments: [...this.#segments.values()].sort((a, b) => a.segment - b.segment),
      parts: [...this.#parts].sort((a, b) => a.index - b.index),
    };
  }

  async run(): Promise<void> {
    const queue = [...this.#segments.values()].filter((s) => !s.done).map((s) => s.segment);
    const errors: unknown[] = [];
    const runner = async (): Promise<void> => {
      for (let s = queue.shift(); s !== undefined && !this.#failed; s = queue.shift()) {
        try {
          await this.#segment(s);
        } catch (e) {
          this.#failed = true;
          errors.push(e);
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.p.concurrency, queue.length) }, () => runner()),
    );
    if (errors.length > 0) throw errors[0];
  }

  #save(): Promise<void> {
    this.#saving = this.#saving.then(() => this.p.checkpoints.saveInProgress(this.snapshot()));
    return this.#saving;
  }

  async #segment(segment: number): Promise<void> {
    const { state, operator, clock, pageSize, partMaxItems, partMaxBytes } = this.p;
    const start = this.#segments.get(segment) as CheckpointSegmentState;
    let cursor = start.cursor;
    let settledKey = start.settledKey;
    /** The cursor moved since the last flush (a filtered page may move it without items). */
    let moved = false;
    let lines: string[] = [];
    let bytes = 0;
    const flush = async (done: boolean): Promise<void> => {
      if (lines.length > 0) {
        const index = this.#nextIndex++;
        const part = await this.p.checkpoints.writePart({
          operator,
          checkpointId: this.initial.id,
          index,
          segment,
          lines,
        });
        this.partsWritten++;
        this.#parts.push(part);
      }
      this.#segments.set(segment, {
        segment,
        cursor,
        done,
        ...(settledKey === undefined ? {} : { settledKey }),
      });
      lines = [];
      bytes = 0;
      moved = false;
      await this.#save();
    };
    for (;;) {
      if (this.#failed) return;
      if (this.deadline !== undefined && clock.now() >= this.deadline) break;
      const page = await state.scanWindows(operator, {
        segment,
        totalSegments: this.initial.totalSegments,
        cursor,
        limit: pageSize,
        generation: this.initial.restoreGeneration ?? 0,
      });
      this.pages++;
      let items = page.items;
      if (this.p.mergingWindows && items.length > 0) {
        items = await this.#settle(items, settledKey);
        settledKey = (page.items.at(-1) as WindowItem).key;
      }
      const pageLines = items.map(encodeCheckpointItem);
      let pageBytes = 0;
      for (const line of pageLines) pageBytes += utf8Length(line) + 1;
      if (
        lines.length > 0 &&
        (lines.length + pageLines.length > partMaxItems || bytes + pageBytes > partMaxBytes)
      ) {
        await flush(false);
      }
      for (const line of pageLines) lines.push(line);
      bytes += pageBytes;
      this.items += pageLines.length;
      cursor = page.cursor;
      moved = true;
      if (cursor === null) {
        await flush(true);
        return;
      }
    }
    if (moved) await flush(false);
  }

  /**
   * The windows of every key of a page, each key read whole until two
   * consecutive reads agree (the scanned items count as the first read).
   * Two reads that agree saw no write in between (every write changes a
   * revision, deletes or creates an item), so the second is the key's state
   * at one moment. `skip`: a key settled with the previous page, whose items
   * continue on this one.
   */
  async #settle(scanned: readonly WindowItem[], skip: string | undefined): Promise<WindowItem[]> {
    const previous = new Map<string, WindowItem[]>();
    for (const it of scanned) {
      if (it.key === skip) continue;
      const list = previous.get(it.key);
      if (list === undefined) previous.set(it.key, [it]);
      else list.push(it);
    }
    const settled = new Map<string, readonly WindowItem[]>();
    let open = [...previous.keys()];
    for (let read = 1; open.length > 0; read++) {
      if (read > MAX_SETTLE_READS) {
        throw new CheckpointError({
          operator: this.p.operator,
          checkpointId: this.initial.id,
          problem: CheckpointProblem.UnsettledKey,
          detail: `the windows of key ${JSON.stringify(open[0])} changed between each of ${MAX_SETTLE_READS} reads; resume the checkpoint later`,
        });
      }
      const now = await this.p.state.listKeyWindows(
        this.p.operator,
        open,
        this.initial.restoreGeneration ?? 0,
      );
      const again: string[] = [];
      for (const key of open) {
        const current = [...(now.get(key) ?? [])].sort(
          (a, b) => a.start - b.start || a.end - b.end,
        );
        if (sameRevisions(previous.get(key) ?? [], current)) settled.set(key, current);
        else {
          previous.set(key, current);
          again.push(key);
        }
      }
      open = again;
    }
    return [...previous.keys()].flatMap((key) => settled.get(key) ?? []);
  }
}

/** Same windows at the same revisions (order aside). */
function sameRevisions(a: readonly WindowItem[], b: readonly WindowItem[]): boolean {
  if (a.length !== b.length) return false;
  const ids = (items: readonly WindowItem[]): string =>
    items
      .map((it) => `${it.start}/${it.end}/${it.revision}`)
      .sort()
      .join(',');
  return ids(a) === ids(b);
}

/** Bytes of `s` in UTF-8 (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
