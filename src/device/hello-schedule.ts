/**
 * When the firmware says hello, in accumulated powered-on time since its window opened.
 * Microsoft ConfigMgr (reference §2.1): "once every minute for 5 minutes, then once every 5
 * minutes for an hour, then once an hour for 23 hours" — 5 + 11 + 23 = 39 hellos in 24 h.
 * No source gives the schedule inside an agent-opened 6 h window (§9 item 4); we use the same
 * progression cut at the window's length, and say so in the README.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export function helloOffsets(windowLengthMs: number): number[] {
  const out: number[] = [];
  for (let m = 0; m < 5; m++) out.push(m * MINUTE);
  for (let m = 5; m < 60; m += 5) out.push(m * MINUTE);
  for (let h = 1; h * HOUR < windowLengthMs; h++) out.push(h * HOUR);
  return out.filter((t) => t < windowLengthMs);
}

/** The first scheduled offset at or after `elapsedMs`, or undefined when the window has none left. */
export function nextHelloOffset(windowLengthMs: number, elapsedMs: number): number | undefined {
  // Hourly tail can be long (a window extended to many hours); compute instead of listing.
  if (elapsedMs >= windowLengthMs) return undefined;
  let next: number;
  if (elapsedMs <= 4 * MINUTE) next = Math.ceil(elapsedMs / MINUTE) * MINUTE;
  else if (elapsedMs <= 55 * MINUTE) next = Math.ceil(elapsedMs / (5 * MINUTE)) * 5 * MINUTE;
  else next = Math.max(HOUR, Math.ceil(elapsedMs / HOUR) * HOUR);
  return next < windowLengthMs ? next : undefined;
}

/** Offset of the hello after `sent` hellos in a window, so a restarted device does not repeat a slot. */
export function helloSlotOffset(sent: number): number {
  if (sent === 0) return 0;
  // Slots: 5 one-minute, 11 five-minute, then hourly.
  if (sent < 5) return sent * MINUTE;
  if (sent < 16) return (sent - 4) * 5 * MINUTE;
  return (sent - 15) * HOUR;
}

export const HELLO_TIMING = { MINUTE, HOUR, BARE_METAL_WINDOW_MS: 24 * HOUR, AGENT_WINDOW_MS: 6 * HOUR, MAX_PERIOD_MS: 255 * HOUR } as const;
