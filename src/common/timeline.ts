import type { Clock } from '../clock/clock.js';

/**
 * The user-facing record of everything a device did. Event types are dotted names grouped by
 * area: `lifecycle.*`, `power.*` (AC), `hostpower.*` (the host's S0–S5), `dhcp.*`, `dns.*`,
 * `hello.*`, `window.*`, `host.*` (host/MEI commands), `tls.*`, `pkich.*`, `wsman.*`,
 * `redirection.*`, `consent.*` (user consent), `nvram.*`, `fault.*`.
 */
/**
 * Every area a timeline event type starts with (`<area>.<what>`), so a scenario that expects or
 * forbids events of an area nothing records (`noEvents: [helo.sent]`) is refused at load time
 * instead of passing for ever. A new area is added here with the code that records it.
 */
export const EVENT_AREAS = [
  'acl', 'agent', 'clock', 'consent', 'dhcp', 'dns', 'environment', 'fault', 'hello', 'host', 'hostbased', 'hostpower',
  'http', 'lifecycle', 'link', 'mebx', 'nvram', 'pkich', 'power', 'pskch', 'redirection', 'rmcp', 'sca', 'server', 'tls',
  'usb', 'window', 'wsman',
] as const;

export interface TimelineEvent {
  /** Virtual milliseconds on the run's clock. */
  t: number;
  deviceId: string;
  type: string;
  data: Record<string, unknown>;
  /** Set when the event reports a failure; the same codes as AmtError. */
  code?: string;
}

export interface TimelineQuery {
  deviceId?: string;
  /** Exact type, or a prefix ending in `.` (e.g. `hello.`), or a RegExp. */
  type?: string | RegExp;
  since?: number;
  until?: number;
  code?: string;
}

export type TimelineListener = (e: TimelineEvent) => void;

/** Default number of events kept; a fleet file, `serve --timeline-capacity` or a scenario can change it. */
export const DEFAULT_TIMELINE_CAPACITY = 1_000_000;
/** Bounds a user may choose: below the minimum a single PC's day would not fit; above the maximum memory would. */
export const TIMELINE_CAPACITY_MIN = 1_000;
export const TIMELINE_CAPACITY_MAX = 10_000_000;

export class Timeline {
  private readonly events: TimelineEvent[] = [];
  private readonly listeners = new Set<TimelineListener>();
  private droppedCount = 0;

  constructor(
    private readonly clock: Clock,
    /**
     * Oldest events are dropped past this many (a 10,000-device week must not grow forever).
     * Smaller keeps big simulations out of the old generation's GC; larger keeps more history.
     */
    readonly capacity = DEFAULT_TIMELINE_CAPACITY,
  ) {}

  record(deviceId: string, type: string, data: Record<string, unknown> = {}, code?: string): TimelineEvent {
    const e: TimelineEvent = code ? { t: this.clock.now(), deviceId, type, data, code } : { t: this.clock.now(), deviceId, type, data };
    this.events.push(e);
    // Drop the oldest tenth at once when full: amortised O(1) instead of shifting the array per event.
    if (this.events.length > this.capacity) {
      const drop = this.events.length - this.capacity + Math.ceil(this.capacity / 10);
      this.events.splice(0, drop);
      this.droppedCount += drop;
    }
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A broken subscriber (a closed SSE stream) must never stop the firmware.
      }
    }
    return e;
  }

  subscribe(l: TimelineListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  query(q: TimelineQuery = {}): TimelineEvent[] {
    return this.events.filter((e) => matches(e, q));
  }

  count(q: TimelineQuery = {}): number {
    let n = 0;
    for (const e of this.events) if (matches(e, q)) n++;
    return n;
  }

  all(): readonly TimelineEvent[] {
    return this.events;
  }

  get length(): number {
    return this.events.length;
  }

  /** Events dropped from the head so far (queries and reports say the history is not whole). */
  get dropped(): number {
    return this.droppedCount;
  }
}

export function matches(e: TimelineEvent, q: TimelineQuery): boolean {
  if (q.deviceId !== undefined && e.deviceId !== q.deviceId) return false;
  if (q.since !== undefined && e.t < q.since) return false;
  if (q.until !== undefined && e.t > q.until) return false;
  if (q.code !== undefined && e.code !== q.code) return false;
  if (q.type !== undefined) {
    if (q.type instanceof RegExp) return q.type.test(e.type);
    if (q.type.endsWith('.')) return e.type.startsWith(q.type);
    return e.type === q.type;
  }
  return true;
}

/** `+1d 02:03:04.005` — virtual time as a person reads it. */
export function formatVirtualTime(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  let rest = Math.abs(Math.round(ms));
  const d = Math.floor(rest / 86_400_000);
  rest -= d * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${sign}${d > 0 ? `${d}d ` : ''}${p(h)}:${p(m)}:${p(s)}.${p(milli, 3)}`;
}

function summarise(data: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (v === undefined) continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k}=${s.length > 80 ? `${s.slice(0, 77)}...` : s}`);
  }
  return parts.join(' ');
}

export interface FormatOptions {
  colour?: boolean;
}

const COLOURS: Record<string, string> = {
  lifecycle: '\x1b[1;32m',
  power: '\x1b[2m',
  dhcp: '\x1b[36m',
  dns: '\x1b[34m',
  hello: '\x1b[33m',
  window: '\x1b[35m',
  host: '\x1b[35m',
  tls: '\x1b[32m',
  pkich: '\x1b[32m',
  wsman: '\x1b[37m',
};

export function formatEvent(e: TimelineEvent, opts: FormatOptions = {}): string {
  const area = e.type.split('.')[0] ?? '';
  const code = e.code ? ` [${e.code}]` : '';
  const line = `${formatVirtualTime(e.t)}  ${e.deviceId.padEnd(10)} ${e.type.padEnd(26)} ${summarise(e.data)}${code}`;
  if (!opts.colour) return line;
  const c = e.code ? '\x1b[1;31m' : (COLOURS[area] ?? '');
  return c ? `${c}${line}\x1b[0m` : line;
}

export function formatTimeline(events: readonly TimelineEvent[], opts: FormatOptions = {}): string {
  return events.map((e) => formatEvent(e, opts)).join('\n');
}
