import type { TimerId } from './clock.js';

export interface TimerEntry {
  id: TimerId;
  at: number;
  /** Insertion sequence: equal deadlines fire in the order they were set (deterministic runs). */
  seq: number;
  fn: () => void;
  label: string | undefined;
}

/** Binary min-heap keyed by (at, seq). One heap serves a whole fleet; cancel is lazy. */
export class TimerHeap {
  private heap: TimerEntry[] = [];
  private cancelled = new Set<TimerId>();
  private liveIds = new Set<TimerId>();

  get size(): number {
    return this.liveIds.size;
  }

  push(entry: TimerEntry): void {
    this.heap.push(entry);
    this.liveIds.add(entry.id);
    this.up(this.heap.length - 1);
  }

  cancel(id: TimerId): boolean {
    // Only ids still waiting in the heap can be cancelled; firing removes them from liveIds.
    if (!this.liveIds.delete(id)) return false;
    this.cancelled.add(id);
    return true;
  }

  /** The earliest live entry, without removing it. */
  peek(): TimerEntry | undefined {
    this.dropCancelled();
    return this.heap[0];
  }

  pop(): TimerEntry | undefined {
    this.dropCancelled();
    const top = this.heap[0];
    if (!top) return undefined;
    const last = this.heap.pop() as TimerEntry;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    this.liveIds.delete(top.id);
    return top;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.cancelled.has(this.heap[0]!.id)) {
      const top = this.heap[0]!;
      this.cancelled.delete(top.id);
      const last = this.heap.pop() as TimerEntry;
      if (this.heap.length > 0 && last !== top) {
        this.heap[0] = last;
        this.down(0);
      }
    }
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
