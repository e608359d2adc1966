/**
 * The only source of time for device logic. Firmware timers (hello back-off over 24 h, the
 * 6-hour window, nonce lifetimes) all go through a Clock so that a unit test or a scenario can
 * run a day of firmware life in milliseconds, and `amtemu serve` can run it in real time.
 */
export type TimerId = number;

export interface Clock {
  /** Milliseconds since the clock's epoch (virtual ms for VirtualClock, wall ms for RealClock). */
  now(): number;
  /** Wall-clock time that `now()` corresponds to, for certificate validity and audit records. */
  date(): Date;
  /** Run `fn` once after `delayMs` of this clock's time. */
  setTimer(delayMs: number, fn: () => void, label?: string): TimerId;
  cancel(id: TimerId): void;
  /**
   * Register an operation that is in flight (a socket write, a DNS query). Virtual time does not
   * advance past the next timer while tracked work is pending, so real I/O and virtual timers
   * interleave the way they would on a device. Real clocks just pass the promise through.
   */
  track<T>(work: Promise<T>): Promise<T>;
}

export const DEFAULT_EPOCH = Date.UTC(2026, 0, 5, 9, 0, 0);
