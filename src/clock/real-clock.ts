import type { Clock, TimerId } from './clock.js';

/**
 * Wall time, optionally scaled: with `scale` F, one real millisecond is F virtual milliseconds,
 * so `--time-scale 3600` runs an hour of firmware timers per real second while real clients
 * still talk to the device over real sockets.
 */
export class ScaledClock implements Clock {
  private readonly startReal: number;
  private readonly startVirtualDate: number;
  private nextId = 1;
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();

  constructor(
    readonly scale: number = 1,
    startDate: number = Date.now(),
  ) {
    if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`time scale must be a number > 0, got ${scale}`);
    this.startReal = performance.now();
    this.startVirtualDate = startDate;
  }

  now(): number {
    return (performance.now() - this.startReal) * this.scale;
  }

  date(): Date {
    return new Date(this.startVirtualDate + this.now());
  }

  setTimer(delayMs: number, fn: () => void): TimerId {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`timer delay must be a finite number ≥ 0, got ${delayMs}`);
    const id = this.nextId++;
    const deadline = this.now() + delayMs;
    // Node caps timeouts at 2^31-1 ms, and setTimeout may fire a little before performance.now()
    // reaches the deadline: re-arm until the clock has really passed it, so a callback never
    // sees now() earlier than its own deadline.
    const MAX = 2_147_000_000;
    const arm = (): void => {
      const remainingReal = (deadline - this.now()) / this.scale;
      if (remainingReal <= 0) {
        this.timers.delete(id);
        fn();
        return;
      }
      const h = setTimeout(arm, Math.min(Math.ceil(remainingReal), MAX));
      h.unref?.();
      this.timers.set(id, h);
    };
    const h = setTimeout(arm, Math.min(Math.ceil(delayMs / this.scale), MAX));
    h.unref?.();
    this.timers.set(id, h);
    return id;
  }

  cancel(id: TimerId): void {
    const h = this.timers.get(id);
    if (h) clearTimeout(h);
    this.timers.delete(id);
  }

  track<T>(work: Promise<T>): Promise<T> {
    return work;
  }

  /** Keep the process alive while timers are pending (serve mode wants that, tests do not). */
  get pendingTimers(): number {
    return this.timers.size;
  }
}

export class RealClock extends ScaledClock {
  constructor() {
    super(1);
  }
}
