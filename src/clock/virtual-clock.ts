import { DEFAULT_EPOCH, type Clock, type TimerId } from './clock.js';
import { TimerHeap } from './timer-heap.js';

/** Most timers due at one instant that fire before the clock waits for their I/O. */
const SAME_INSTANT_BATCH = 256;

export interface VirtualClockOptions {
  /** Wall-clock instant that virtual t=0 stands for (certificate validity, audit records). */
  epoch?: number;
}

/**
 * Discrete-event clock. Time moves only when a test or scenario says so; timers fire in
 * (deadline, insertion) order. Between two timers it waits for tracked I/O and lets the event
 * loop turn, so real loopback sockets can take part in a virtual-time run.
 */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private nextId = 1;
  private readonly heap = new TimerHeap();
  /** Tracked operations not finished yet. A count, not a set: settle only asks "any left?". */
  private inflight = 0;
  /** Tracked operations finished so far (settle's progress signal). */
  private completed = 0;
  /** settle() waiting for the in-flight count to reach zero. */
  private readonly idleWaiters = new Set<() => void>();
  readonly epoch: number;

  constructor(opts: VirtualClockOptions = {}) {
    this.epoch = opts.epoch ?? DEFAULT_EPOCH;
  }

  now(): number {
    return this.t;
  }

  date(): Date {
    return new Date(this.epoch + this.t);
  }

  get pendingTimers(): number {
    return this.heap.size;
  }

  setTimer(delayMs: number, fn: () => void, label?: string): TimerId {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`timer delay must be a finite number ≥ 0, got ${delayMs}`);
    const id = this.nextId++;
    this.heap.push({ id, at: this.t + delayMs, seq: this.seq++, fn, label });
    return id;
  }

  cancel(id: TimerId): void {
    this.heap.cancel(id);
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.inflight++;
    const done = (): void => {
      this.inflight--;
      this.completed++;
      if (this.inflight === 0) for (const w of this.idleWaiters) w();
    };
    work.then(done, done);
    return work;
  }

  /**
   * Resolves when nothing tracked is in flight, or after `ms` of real time. One waiter per
   * settle round: with a fleet's 10,000 sends in flight, a `Promise.all` over a copy of the set
   * every round cost O(in-flight) per 5 ms round (profiled: ~20 % of issue #8 (a) in microtasks
   * and GC).
   */
  private idleOr(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.idleWaiters.add(finish);
    });
  }

  /**
   * Wait until tracked work is done and the event loop has had a turn to run its callbacks.
   * Tracked work that is itself waiting for a virtual timer (a session whose reply the device
   * delays) can only finish once time moves on, so settling stops when no tracked operation has
   * finished for `stallMs` of real time: loopback I/O never stalls that long.
   */
  async settle(stallMs = 1000): Promise<void> {
    let lastProgress = performance.now();
    let done = this.completed;
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.inflight === 0) return;
      await this.idleOr(5);
      if (this.completed !== done) {
        done = this.completed;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > stallMs) {
        return;
      }
    }
  }

  /** Advance by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance needs a finite number of ms ≥ 0, got ${ms}`);
    await this.runUntil(this.t + ms);
  }

  /**
   * Fire timers in order until virtual time reaches `target` (a time), or until `target`
   * (a predicate) holds after some timer. Returns true when a predicate was met.
   * `limitMs` bounds a predicate run so a scenario that never converges still ends.
   */
  async runUntil(target: number | (() => boolean), limitMs = 30 * 24 * 3600_000): Promise<boolean> {
    const deadline = typeof target === 'number' ? target : this.t + limitMs;
    const pred = typeof target === 'function' ? target : undefined;
    await this.settle();
    if (pred?.()) return true;
    for (;;) {
      const next = this.heap.peek();
      if (!next || next.at > deadline) break;
      this.heap.pop();
      this.t = next.at;
      next.fn();
      // Timers due at this same instant run before waiting for I/O (in insertion order), so a
      // fleet's simultaneous hellos overlap on the wire as they would on real PCs. Bounded, so
      // one instant never opens an unbounded number of sockets at once.
      for (let batch = 1; batch < SAME_INSTANT_BATCH && !pred?.(); batch++) {
        const same = this.heap.peek();
        if (!same || same.at !== this.t) break;
        this.heap.pop();
        same.fn();
      }
      await this.settle();
      if (pred?.()) return true;
    }
    this.t = Math.max(this.t, deadline);
    return pred ? pred() : false;
  }

  /** Jump the clock without firing timers in between as separate steps (a fault: clock jump). */
  async jump(ms: number): Promise<void> {
    await this.advance(ms);
  }
}
