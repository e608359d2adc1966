/**
 * Checks the schema cannot express: one action per step, durations that parse, device names that
 * exist, marks defined before use, hash entries that say where their hash comes from. Each
 * problem carries the JSON path of the offending value so the loader can print file:line:column.
 */
import { isAmtError } from '../common/errors.js';
import { EVENT_AREAS } from '../common/timeline.js';
import { checkMebxParams, findMebxOperation } from '../device/mebx-ops.js';
import { canonicalPskText } from '../device/psk.js';
import { tryParseDuration } from './duration.js';
import { STEP_ACTIONS, type MebxStepSpec, type Scenario, type StepSpec, type WsmanStepSpec } from './types.js';

export type JsonPath = Array<string | number>;

export interface SemanticProblem {
  path: JsonPath;
  message: string;
  /** Point at the key rather than the value (unknown names in a map). */
  atKey?: boolean;
}

/** Device ids a scenario defines: copies are `<id>-<n>`; a group name stands for all its copies. */
export function deviceNames(s: Scenario): { ids: string[]; groups: Map<string, string[]> } {
  const ids: string[] = [];
  const groups = new Map<string, string[]>();
  for (const d of s.devices ?? []) {
    const members = d.count && d.count > 1 ? Array.from({ length: d.count }, (_, i) => `${d.id}-${i + 1}`) : [d.id];
    groups.set(d.id, members);
    ids.push(...members);
  }
  return { ids, groups };
}

/**
 * Devices per run. kernel: each run owns a /22 of 127/8 (world.ts allocateBlock) and devices
 * start at .10, so more would spill into a parallel run's addresses. memory: nothing binds the
 * device addresses in the kernel, so the bound is only what a CI machine can hold.
 */
export const MAX_DEVICES = { kernel: 1000, memory: 20_000 } as const;

export function checkSemantics(s: Scenario): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  const duration = (v: unknown, path: JsonPath): void => {
    if (v === undefined) return;
    const r = tryParseDuration(v);
    if (!r.ok) out.push({ path, message: r.message });
  };
  const { ids, groups } = deviceNames(s);
  const known = new Set([...ids, ...groups.keys()]);
  const seen = new Set<string>();
  const reference = typeof s.provisioningServer === 'object' && 'reference' in s.provisioningServer ? s.provisioningServer.reference : undefined;
  const transport = s.network?.transport ?? 'kernel';
  if (transport === 'memory' && typeof s.provisioningServer === 'object' && 'external' in s.provisioningServer) {
    // The in-process LAN delivers hellos only to listeners inside this process (memory-lan.ts).
    out.push({ path: ['provisioningServer', 'external'], atKey: true, message: 'provisioningServer: external cannot be reached on network.transport: memory (the in-process LAN has no route out of this process); use transport: kernel, or provisioningServer: down to simulate a server nobody can reach' });
  }
  const maxDevices = MAX_DEVICES[transport];
  let total = 0;
  (s.devices ?? []).forEach((d, i) => {
    if (seen.has(d.id)) out.push({ path: ['devices', i, 'id'], message: `device id "${d.id}" is used twice` });
    const before = total;
    total += d.count ?? 1;
    if (before <= maxDevices && total > maxDevices) {
      const hint = transport === 'kernel' ? ` (each run owns a /22 of loopback addresses); use network.transport: memory for discovery runs of up to ${MAX_DEVICES.memory}` : '';
      out.push({ path: ['devices', i, d.count !== undefined ? 'count' : 'id'], message: `this entry brings the run to ${total} devices; network.transport: ${transport} takes at most ${maxDevices}${hint}` });
    }
    seen.add(d.id);
    if ((d.pid === undefined) !== (d.pps === undefined)) {
      out.push({ path: ['devices', i, d.pid === undefined ? 'pps' : 'pid'], atKey: true, message: `a TLS-PSK device needs both pid and pps (this one has only ${d.pid === undefined ? 'pps' : 'pid'})` });
    }
    if (d.pid !== undefined && d.state === 'factory') {
      // Entering PID/PPS is what moves a PC out of factory state (seed 002): the pair cannot exist in Pre.
      out.push({ path: ['devices', i, 'state'], message: 'a device with PID/PPS is not in factory state (entering them moves it to setup); leave state out or say setup' });
    } else if (d.mebxPassword !== undefined && d.state === 'factory') {
      // The forced first change of 'admin' is the factory → setup transition (seed 002 Stage 1).
      out.push({ path: ['devices', i, 'state'], message: "a device whose MEBx password was changed is not in factory state (the first change moves it to setup); leave state out or say setup, or use a mebx step" });
    }
    d.hashes?.add?.forEach((h, j) => {
      const p: JsonPath = ['devices', i, 'hashes', 'add', j];
      if (h.root && h.hash) out.push({ path: p, message: 'a hash entry takes either hash or root, not both' });
      else if (!h.root && !h.hash) out.push({ path: p, message: 'a hash entry needs hash (hex) or root: reference' });
      else if (h.hash && !h.algorithm) out.push({ path: p, message: 'a hash entry with hash needs algorithm (SHA1, SHA256 or SHA384)' });
      if (h.root && !(typeof s.provisioningServer === 'object' && 'reference' in s.provisioningServer)) {
        out.push({ path: [...p, 'root'], message: 'root: reference needs provisioningServer: {reference: …}' });
      }
    });
  });
  if (groups.size > 0) {
    for (const name of ids) {
      if (groups.has(name) && (groups.get(name)!.length > 1 || groups.get(name)![0] !== name)) {
        out.push({ path: ['devices'], message: `device id "${name}" clashes with a copy name` });
      }
    }
  }
  const pids = new Map<string, number>();
  reference?.pskPairs?.forEach((pair, j) => {
    const pid = canonicalPskText(pair.pid);
    const first = pids.get(pid);
    if (first !== undefined) out.push({ path: ['provisioningServer', 'reference', 'pskPairs', j, 'pid'], message: `PID ${pair.pid} is listed twice (first at pskPairs[${first}]); the server finds one PPS per PID` });
    else pids.set(pid, j);
  });
  duration(s.network?.dhcp?.delay, ['network', 'dhcp', 'delay']);
  for (const [name, f] of Object.entries(s.network?.dns?.failures ?? {})) {
    if (typeof f === 'object') duration(f.delay, ['network', 'dns', 'failures', name, 'delay']);
  }

  const checkRef = (ref: unknown, path: JsonPath): void => {
    if (ref === undefined) return;
    const list = Array.isArray(ref) ? ref : [ref];
    list.forEach((r, k) => {
      if (typeof r === 'string' && !known.has(r)) {
        const hint = known.size ? ` (devices: ${[...known].slice(0, 12).join(', ')})` : ' (the scenario has no devices)';
        out.push({ path: Array.isArray(ref) ? [...path, k] : path, message: `unknown device "${r}"${hint}` });
      }
    });
  };

  const marks = new Set<string>();
  s.steps.forEach((step, i) => {
    const p: JsonPath = ['steps', i];
    const actions = STEP_ACTIONS.filter((a) => (step as Record<string, unknown>)[a] !== undefined);
    if (actions.length === 0) out.push({ path: p, message: `a step needs one action: ${STEP_ACTIONS.join(', ')}` });
    else if (actions.length > 1) out.push({ path: [...p, actions[1]!], atKey: true, message: `a step has one action; this one has ${actions.join(' and ')} (split it into two steps)` });
    checkRef(step.device, [...p, 'device']);
    // A fault rule may name devices (one rule each); the other faults act on the whole network.
    const networkFault = step.fault !== undefined && (step.fault.rule === undefined || Object.keys(step.fault).length > 1);
    if (step.device !== undefined && (step.advance !== undefined || step.mark !== undefined || step.note !== undefined || networkFault)) {
      out.push({ path: [...p, 'device'], atKey: true, message: step.fault ? 'device applies to a fault step with only a rule (the other faults act on the whole network)' : `device does not apply to ${actions[0]} (it acts on the whole network)` });
    }
    duration(step.advance, [...p, 'advance']);
    checkAgent(step, [...p, 'agent'], out, duration);
    if (step.fault) {
      duration(step.fault.clockJump, [...p, 'fault', 'clockJump']);
      // A jump moves the virtual clock; scaled time follows the wall clock and cannot leap.
      if (step.fault.clockJump !== undefined && typeof s.time === 'object') out.push({ path: [...p, 'fault', 'clockJump'], message: 'clockJump needs time: virtual (scaled time follows the wall clock)' });
      if (typeof step.fault.dhcp === 'object') duration(step.fault.dhcp.delay, [...p, 'fault', 'dhcp', 'delay']);
      for (const [name, f] of Object.entries(step.fault.dns ?? {})) {
        if (typeof f === 'object') duration(f.delay, [...p, 'fault', 'dns', name, 'delay']);
      }
      const rule = step.fault.rule;
      if (rule) {
        duration(rule.delay, [...p, 'fault', 'rule', 'delay']);
        if (rule.effect === 'delay' && rule.delay === undefined) out.push({ path: [...p, 'fault', 'rule'], message: 'effect: delay needs delay: <duration>' });
      }
    }
    if (step.expect) {
      const e = step.expect;
      checkRef(e.device, [...p, 'expect', 'device']);
      duration(e.within, [...p, 'expect', 'within']);
      e.noEvents?.forEach((type, j) => checkEventType(type, [...p, 'expect', 'noEvents', j], out));
      e.events?.forEach((ev, j) => {
        const ep: JsonPath = [...p, 'expect', 'events', j];
        checkEventType(ev.type, [...ep, 'type'], out);
        duration(ev.within, [...ep, 'within']);
        if (ev.count !== undefined && (ev.min !== undefined || ev.max !== undefined)) out.push({ path: ep, message: 'use count, or min/max, not both' });
        if (ev.min !== undefined && ev.max !== undefined && ev.min > ev.max) out.push({ path: [...ep, 'min'], message: `min ${ev.min} is greater than max ${ev.max}` });
        if (ev.since !== undefined && ev.since !== 'start' && ev.since !== 'step' && !marks.has(ev.since)) {
          out.push({ path: [...ep, 'since'], message: `no mark "${ev.since}" before this step (add a step "- mark: ${ev.since}" earlier, or use start/step)` });
        }
      });
      const h = e.hellos;
      if (typeof h === 'object' && h.min !== undefined && h.max !== undefined && h.min > h.max) out.push({ path: [...p, 'expect', 'hellos'], message: `min ${h.min} is greater than max ${h.max}` });
    }
    if (step.mark !== undefined) {
      if (marks.has(step.mark)) out.push({ path: [...p, 'mark'], message: `mark "${step.mark}" is defined twice` });
      marks.add(step.mark);
    }
    if (step.remote && step.remote.hostBased === undefined) out.push({ path: [...p, 'remote'], message: 'remote needs hostBased: CCM or ACM' });
    if (step.remote?.tls && step.remote.hostBased === 'CCM') out.push({ path: [...p, 'remote', 'tls'], message: 'tls: true is secure host-based ACM; use hostBased: ACM' });
    if (step.mebx) checkMebx(step.mebx, [...p, 'mebx'], reference !== undefined, out);
    if (step.wsman) checkWsman(step.wsman, [...p, 'wsman'], out);
  });
  return out;
}

/** An event type (or `area.` prefix) must name an area the timeline records, else the check is vacuous. */
function checkEventType(type: string, p: JsonPath, out: SemanticProblem[]): void {
  const area = type.split('.')[0] ?? '';
  if ((EVENT_AREAS as readonly string[]).includes(area)) return;
  out.push({ path: p, message: `no timeline event is of type "${type}": "${area}" is not an area the emulator records (areas: ${EVENT_AREAS.join(', ')})` });
}

/** A wsman step names one operation, and expects only what that operation returns. */
function checkWsman(w: WsmanStepSpec, p: JsonPath, out: SemanticProblem[]): void {
  const ops = (['get', 'enumerate', 'put', 'invoke'] as const).filter((k) => w[k] !== undefined);
  if (ops.length !== 1) {
    out.push({ path: p, message: ops.length === 0 ? 'wsman needs one of get, enumerate, put, invoke' : `wsman does one call: ${ops.join(' and ')} given` });
    return;
  }
  const op = ops[0]!;
  if (w.expect !== undefined && w.expectCode !== undefined) out.push({ path: [...p, 'expectCode'], message: 'use expect (the call succeeds) or expectCode (it fails), not both' });
  if (w.expect?.returnValue !== undefined && op !== 'invoke') out.push({ path: [...p, 'expect', 'returnValue'], message: `returnValue is a method's answer; ${op} has none` });
  if (w.expect?.count !== undefined && op !== 'enumerate') out.push({ path: [...p, 'expect', 'count'], message: `count is for enumerate, not ${op}` });
}

/** The keys of a mebx step that are not the operation's parameters. */
export const MEBX_STEP_KEYS = ['op', 'password', 'expectCode'] as const;

/** A mebx step's parameters: everything beside op, password and expectCode. */
export function mebxStepParams(m: MebxStepSpec): Record<string, unknown> {
  return Object.fromEntries(Object.entries(m).filter(([k]) => !(MEBX_STEP_KEYS as readonly string[]).includes(k)));
}

/**
 * A mebx step's parameters are checked by the same table the CLI and the API use
 * (src/device/mebx-ops.ts checkMebxParams), so the words match; this only finds where to point.
 */
function checkMebx(m: MebxStepSpec, path: JsonPath, hasReference: boolean, out: SemanticProblem[]): void {
  const o = findMebxOperation(m.op);
  if (!o) return; // the schema's enum already said which ops exist
  const raw = mebxStepParams(m);
  try {
    checkMebxParams(o, raw);
  } catch (e) {
    if (!isAmtError(e)) throw e;
    const names = new Set(o.params.map((q) => q.name));
    const unknown = Object.keys(raw).find((k) => !names.has(k));
    // Point at the offending key or value: try each given parameter alone with the shared check.
    const culprit = unknown ?? o.params.find((q) => {
      if (raw[q.name] === undefined) return false;
      try {
        checkMebxParams({ ...o, params: [q] }, { [q.name]: raw[q.name] });
        return false;
      } catch {
        return true;
      }
    })?.name;
    out.push(culprit ? { path: [...path, culprit], atKey: culprit === unknown, message: e.message } : { path, message: e.message });
    return;
  }
  if (m.op === 'hash-add' && raw['hash'] === 'reference' && !hasReference) {
    out.push({ path: [...path, 'hash'], message: 'hash: reference needs provisioningServer: {reference: …}' });
  }
}

function checkAgent(step: StepSpec, path: JsonPath, out: SemanticProblem[], duration: (v: unknown, p: JsonPath) => void): void {
  const a = step.agent;
  if (a === undefined || typeof a === 'string') return;
  const keys = (['extendProvisioningPeriod', 'setOtp', 'setPkiDnsSuffix', 'command', 'run'] as const).filter((k) => a[k] !== undefined);
  if (keys.length !== 1) {
    out.push({ path, message: `an agent step has one command (extendProvisioningPeriod, setOtp, setPkiDnsSuffix, command, run); got ${keys.length ? keys.join(', ') : 'none'}` });
  }
  if (a.setOtp !== undefined && !/^([0-9a-fA-F]{2}){8,32}$/.test(a.setOtp) && (a.setOtp.length < 8 || a.setOtp.length > 32)) {
    out.push({ path: [...path, 'setOtp'], message: 'setOtp is 8–32 bytes: hex (16–64 digits) or 8–32 characters of text' });
  }
  if (a.run) duration(a.run.restartDelay, [...path, 'run', 'restartDelay']);
}
