/**
 * Evaluates an `expect` block against the running world. Each assertion becomes a Check with
 * what was expected and what was found, so a failure reads "pc1 state: expected configured,
 * got setup" rather than "false". Checks are synchronous: the runner re-evaluates them after
 * every timer while waiting out a `within`.
 */
import { STATE_NAME_OF } from '../fleet/emulator.js';
import { matches, type TimelineEvent } from '../common/timeline.js';
import type { AmtDevice } from '../device/device.js';
import { digestHa1 } from '../device/http/digest.js';
import { canonicalPskText } from '../device/psk.js';
import { parseDuration } from './duration.js';
import type { CountBound, EventExpectation, ExpectSpec } from './types.js';
import type { World } from './world.js';

export interface Check {
  deviceId?: string;
  what: string;
  expected: string;
  actual: string;
  ok: boolean;
}

export interface ExpectContext {
  world: World;
  /** When the expect step began (virtual ms). */
  stepStart: number;
  marks: Map<string, number>;
}


export function resolveDevices(world: World, ref: string | string[] | undefined): string[] {
  if (ref === undefined) return world.ids;
  const list = Array.isArray(ref) ? ref : [ref];
  return [...new Set(list.flatMap((r) => world.groups.get(r) ?? [r]))];
}

function bound(b: CountBound | { count?: number; min?: number; max?: number }): { min: number; max: number; text: string } {
  if (typeof b === 'number') return { min: b, max: b, text: String(b) };
  if ('count' in b && b.count !== undefined) return { min: b.count, max: b.count, text: String(b.count) };
  const min = b.min ?? 0;
  const max = b.max ?? Number.POSITIVE_INFINITY;
  const text = b.min !== undefined && b.max !== undefined ? `${min}–${max}` : b.min !== undefined ? `≥ ${min}` : `≤ ${max}`;
  return { min, max, text };
}

function countCheck(deviceId: string | undefined, what: string, n: number, b: CountBound | EventExpectation): Check {
  const { min, max, text } = bound(b);
  return { ...(deviceId ? { deviceId } : {}), what, expected: text, actual: String(n), ok: n >= min && n <= max };
}

/** `data` fields must equal (deeply, by JSON) the event's fields. */
function dataMatches(e: TimelineEvent, want: Record<string, unknown> | undefined): boolean {
  if (!want) return true;
  return Object.entries(want).every(([k, v]) => JSON.stringify(e.data[k]) === JSON.stringify(v));
}

function subsetDiff(actual: Record<string, unknown> | null | undefined, want: Record<string, unknown>): string | undefined {
  if (!actual) return 'no record';
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(actual[k]) !== JSON.stringify(v)) return `${k}=${JSON.stringify(actual[k])}`;
  }
  return undefined;
}

/**
 * The timeline split by device, built once per evaluation: per-device checks over a scan of the
 * whole timeline cost devices × events, which for 2000 PCs × a week is billions of comparisons.
 */
function byDevice(events: readonly TimelineEvent[]): Map<string, TimelineEvent[]> {
  const m = new Map<string, TimelineEvent[]>();
  for (const e of events) {
    const list = m.get(e.deviceId);
    if (list) list.push(e);
    else m.set(e.deviceId, [e]);
  }
  return m;
}

export function evaluate(spec: ExpectSpec, ctx: ExpectContext): Check[] {
  const { world } = ctx;
  const checks: Check[] = [];
  const ids = resolveDevices(world, spec.device);
  let index: Map<string, TimelineEvent[]> | undefined;
  const eventsOf = (id: string): readonly TimelineEvent[] => (index ??= byDevice(world.emu.timeline.all())).get(id) ?? [];
  for (const id of ids) {
    const d: AmtDevice = world.emu.device(id);
    if (spec.state) checks.push({ deviceId: id, what: 'state', expected: spec.state, actual: STATE_NAME_OF[d.state], ok: STATE_NAME_OF[d.state] === spec.state });
    if (spec.controlMode) checks.push({ deviceId: id, what: 'controlMode', expected: spec.controlMode, actual: d.controlMode, ok: d.controlMode === spec.controlMode });
    if (spec.window) checks.push({ deviceId: id, what: 'window', expected: spec.window, actual: d.window.kind, ok: d.window.kind === spec.window });
    if (spec.powered !== undefined) checks.push({ deviceId: id, what: 'powered', expected: String(spec.powered), actual: String(d.powered), ok: d.powered === spec.powered });
    if (spec.hellos !== undefined) checks.push(countCheck(id, 'hellos sent', eventsOf(id).filter((e) => e.type === 'hello.sent').length, spec.hellos));
    for (const ev of spec.events ?? []) checks.push(eventCheck(id, ev, ctx, eventsOf(id)));
    for (const type of spec.noEvents ?? []) {
      const hits = eventsOf(id).filter((e) => matches(e, { type }));
      checks.push({ deviceId: id, what: `no ${type} events`, expected: '0', actual: hits.length ? `${hits.length} (first at ${hits[0]!.t} ms)` : '0', ok: hits.length === 0 });
    }
    if (spec.audit !== undefined) {
      const rec = d.nvram.auditRecord as Record<string, unknown> | null;
      if (spec.audit === null) checks.push({ deviceId: id, what: 'audit record', expected: 'none', actual: rec ? `kind=${String(rec['kind'])}` : 'none', ok: rec === null });
      else {
        const diff = subsetDiff(rec, spec.audit);
        checks.push({ deviceId: id, what: 'audit record', expected: JSON.stringify(spec.audit), actual: diff ?? 'matches', ok: diff === undefined });
      }
    }
    if (spec.nvram) {
      const n = spec.nvram;
      const img = d.nvram;
      if (n.pkiDnsSuffix !== undefined) checks.push({ deviceId: id, what: 'nvram pkiDnsSuffix', expected: JSON.stringify(n.pkiDnsSuffix), actual: JSON.stringify(img.setup.pkiDnsSuffix), ok: img.setup.pkiDnsSuffix === n.pkiDnsSuffix });
      if (n.mebxPasswordChanged !== undefined) checks.push({ deviceId: id, what: 'nvram mebxPasswordChanged', expected: String(n.mebxPasswordChanged), actual: String(img.mebx.passwordChanged), ok: img.mebx.passwordChanged === n.mebxPasswordChanged });
      if (n.bareMetalUsed !== undefined) checks.push({ deviceId: id, what: 'nvram bareMetalUsed', expected: String(n.bareMetalUsed), actual: String(img.provisioning.window.bareMetalUsed), ok: img.provisioning.window.bareMetalUsed === n.bareMetalUsed });
      if (n.customHashes !== undefined) checks.push(countCheck(id, 'custom hashes', img.certHashes.filter((h) => !h.isDefault).length, n.customHashes));
      if (n.activeHashes !== undefined) checks.push(countCheck(id, 'active hashes', img.certHashes.filter((h) => h.isActive).length, n.activeHashes));
      if (n.mode !== undefined) checks.push({ deviceId: id, what: 'nvram mode', expected: n.mode, actual: img.provisioning.mode, ok: img.provisioning.mode === n.mode });
      if (n.adminPassword !== undefined) {
        // The admin digest account keeps HA1 only: compare what this password would hash to.
        const acl = img.adminAcl;
        const ok = acl.digestHash !== undefined && acl.digestHash === digestHa1(acl.username, img.digestRealm, n.adminPassword);
        checks.push({ deviceId: id, what: `nvram admin account (${acl.username}) password`, expected: 'accepts the given password', actual: ok ? 'accepts it' : acl.digestHash ? 'a different password' : 'no password set', ok });
      }
      if (n.pid !== undefined) {
        const have = img.setup.pid;
        const ok = typeof n.pid === 'boolean' ? Boolean(have) === n.pid : have === canonicalPskText(n.pid);
        checks.push({ deviceId: id, what: 'nvram pid', expected: typeof n.pid === 'boolean' ? (n.pid ? 'a PID' : 'none') : canonicalPskText(n.pid), actual: have ?? 'none', ok });
      }
    }
    if (spec.ports) {
      const origin = spec.ports.origin ?? 'remote';
      for (const port of spec.ports.open ?? []) checks.push({ deviceId: id, what: `port ${port} (${origin})`, expected: 'open', actual: d.portOpen(port, origin) ? 'open' : 'closed', ok: d.portOpen(port, origin) });
      for (const port of spec.ports.closed ?? []) checks.push({ deviceId: id, what: `port ${port} (${origin})`, expected: 'closed', actual: d.portOpen(port, origin) ? 'open' : 'closed', ok: !d.portOpen(port, origin) });
    }
    if (spec.server) {
      const address = world.emu.plannedAddress(id) ?? '';
      if (spec.server.hellos !== undefined) checks.push(countCheck(id, `hellos received by the ${world.endpoint.kind} server`, world.endpoint.hellosFrom(address), spec.server.hellos));
      if (spec.server.status !== undefined || spec.server.code !== undefined) {
        const rec = world.endpoint.server?.record(address);
        if (spec.server.status !== undefined) checks.push({ deviceId: id, what: 'server status', expected: spec.server.status, actual: rec?.status ?? 'no record', ok: rec?.status === spec.server.status });
        if (spec.server.code !== undefined) checks.push({ deviceId: id, what: 'server code', expected: spec.server.code, actual: rec?.code ?? 'none', ok: rec?.code === spec.server.code });
      }
    }
  }
  if (ids.length === 0 && (spec.events?.length ?? 0) > 0) {
    for (const ev of spec.events ?? []) checks.push(eventCheck(undefined, ev, ctx, world.emu.timeline.all()));
  }
  return checks;
}

/** `events` is what to search: the device's own events, or the whole timeline for no device. */
function eventCheck(deviceId: string | undefined, ev: EventExpectation, ctx: ExpectContext, events: readonly TimelineEvent[]): Check {
  const since = ev.since === undefined || ev.since === 'start' ? 0 : ev.since === 'step' ? ctx.stepStart : (ctx.marks.get(ev.since) ?? 0);
  const until = ev.within !== undefined ? since + parseDuration(ev.within) : undefined;
  const q = { ...(deviceId ? { deviceId } : {}), type: ev.type, since, ...(until !== undefined ? { until } : {}), ...(ev.code ? { code: ev.code } : {}) };
  const n = events.filter((e) => matches(e, q) && dataMatches(e, ev.data)).length;
  const label = [`${ev.type} events`, ev.code ? `code ${ev.code}` : '', ev.data ? `data ${JSON.stringify(ev.data)}` : '',
    ev.since && ev.since !== 'start' ? `since ${ev.since}` : '', ev.within !== undefined ? `within ${String(ev.within)}` : ''].filter(Boolean).join(', ');
  const b = ev.count === undefined && ev.min === undefined && ev.max === undefined ? { min: 1 } : ev;
  return countCheck(deviceId, label, n, b);
}

export function describeCheck(c: Check): string {
  return `${c.deviceId ? `${c.deviceId} ` : ''}${c.what}: expected ${c.expected}, got ${c.actual}`;
}
