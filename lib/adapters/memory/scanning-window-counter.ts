/**
 * {@link WindowCounter} by reading every window item through a
 * {@link WindowScanner}: exact, and the counter of the in-memory store (any
 * scannable store works; on DynamoDB prefer `DynamoDbWindowCounter`, which
 * counts the indexes without reading items).
 */
import type { WindowCounter, WindowCounts } from '../../ports/operator-status.ts';
import type { WindowScanner } from '../../ports/state-store.ts';

/** Counts windows by scanning them (one segment, pages of `pageSize`). */
export class ScanningWindowCounter implements WindowCounter {
  constructor(
    private readonly store: WindowScanner,
    private readonly pageSize = 1000,
  ) {}

  async countWindows(operator: string, watermark: number | null): Promise<WindowCounts> {
    let open = 0;
    let pending = 0;
    let due = 0;
    let outbox = 0;
    let cursor: string | null = null;
    do {
      const page = await this.store.scanWindows(operator, {
        segment: 0,
        totalSegments: 1,
        cursor,
        limit: this.pageSize,
      });
      for (const item of page.items) {
        if (item.outbox !== null) outbox++;
        if (item.purged) continue;
        open++;
        if (!item.pending) continue;
        pending++;
        if (watermark !== null && item.end - 1 <= watermark) due++;
      }
      cursor = page.cursor;
    } while (cursor !== null);
    return { open, pending, due, outbox, exact: true };
  }
}
