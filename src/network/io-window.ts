/**
 * Bridging real sockets and virtual time. A VirtualClock fires its next timer as soon as the
 * tracked work is done; a request whose answer is still in the kernel would then "time out" in
 * virtual time before the reply is read. So after each send we track a short real-time window
 * that closes when the awaited reply arrives, or after `graceMs` of wall time when none comes
 * (a dropped packet). On real/scaled clocks `track` is a pass-through and this costs nothing.
 */
import type { Clock } from '../clock/clock.js';

/** Real milliseconds a virtual-time run waits for a loopback answer before treating it as lost. */
export const DEFAULT_GRACE_MS = 150;

export interface ReplyWindow {
  /** Call when the awaited reply has been handled. Idempotent. */
  close(): void;
}

export function openReplyWindow(clock: Clock, graceMs = DEFAULT_GRACE_MS): ReplyWindow {
  let done: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const p = new Promise<void>((resolve) => {
    done = () => {
      if (timer) clearTimeout(timer);
      resolve();
    };
    timer = setTimeout(resolve, graceMs);
    timer.unref?.();
  });
  void clock.track(p);
  return { close: () => done() };
}

/**
 * Track a send whose receiver is another component in this process (a fake server answering
 * after a virtual-time delay): the datagram needs a few loop turns to be read by the peer.
 */
export function trackDelivery(clock: Clock, send: Promise<unknown>, lingerMs = 10): void {
  void clock.track(
    send.then(
      () => new Promise<void>((r) => setTimeout(r, lingerMs).unref?.()),
      () => undefined,
    ),
  );
}
