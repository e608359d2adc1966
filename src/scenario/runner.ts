/**
 * Runs a loaded scenario: builds the world, applies the steps in order, evaluates expectations
 * (waiting out `within` in virtual time), and returns a result a reporter can print. A failed
 * step never stops the run: later expectations still report, so one run shows everything wrong.
 * Nothing here throws for a scenario problem; setup errors become a failed result.
 */
import { formatEvent, type TimelineEvent } from '../common/timeline.js';
import { isAmtError } from '../common/errors.js';
import { pthiStatusName } from '../device/pthi.js';
import { OsAgent } from '../provisioning/agent.js';
import { formatDuration, parseDuration } from './duration.js';
import { describeCheck, evaluate, resolveDevices, type Check } from './expect.js';
import { baseDirOf } from './files.js';
import { loadScenarioFile, loadScenarioObject } from './loader.js';
import { runMebx, runUsbSetup, type UsbKeys } from './setup-steps.js';
import { deviceNames } from './semantics.js';
import { runWsmanStep } from './wsman-step.js';
import { STEP_ACTIONS, type AgentSpec, type LoadedScenario, type Scenario, type StepKind, type StepSpec } from './types.js';
import { buildWorld, DEFAULT_REMOTE_PASSWORD, toDhcpBehaviour, toDnsFailure, type AttachListeners, type World } from './world.js';

export interface StepResult {
  index: number;
  kind: StepKind;
  line?: number;
  ok: boolean;
  message: string;
  /** Virtual ms when the step started. */
  t: number;
}

export interface ScenarioFailure {
  /** Step index, or -1 for setup. */
  step: number;
  line?: number;
  message: string;
  checks: Check[];
  deviceId?: string;
  t: number;
  /** Formatted timeline lines around the failure for the device involved. */
  excerpt: string[];
}

export interface ScenarioResult {
  file: string;
  name: string;
  passed: boolean;
  durationVirtualMs: number;
  /** Wall-clock milliseconds the run took (informational, never asserted). */
  wallMs: number;
  steps: StepResult[];
  failures: ScenarioFailure[];
  timeline: TimelineEvent[];
  /** Oldest events the run dropped at the timeline's capacity (0: `timeline` is the whole run). */
  timelineDropped: number;
}

export interface RunOptions {
  /** Timeline events either side of a failure in its excerpt. Default 8. */
  excerptEvents?: number;
  /** Plug-in that starts the 16992–16995 listeners for the run's emulator. */
  attachListeners?: AttachListeners;
  /** Live progress, one line per step. */
  onStep?: (s: StepResult) => void;
}

/** Load (file path or object) and run. A file that does not load gives a failed result, not a throw. */
export async function runScenario(input: string | Scenario | LoadedScenario, opts: RunOptions = {}): Promise<ScenarioResult> {
  let loaded: LoadedScenario;
  try {
    loaded = typeof input === 'string' ? loadScenarioFile(input) : 'scenario' in input && 'stepPos' in input ? input : loadScenarioObject(input);
  } catch (e) {
    const file = typeof input === 'string' ? input : '<inline>';
    return setupFailure(file, typeof input === 'object' && 'name' in input ? String(input.name) : file, e);
  }
  return runLoaded(loaded, opts);
}

function setupFailure(file: string, name: string, e: unknown, timeline: TimelineEvent[] = [], t = 0): ScenarioResult {
  const message = isAmtError(e) ? e.message : e instanceof Error ? e.message : String(e);
  return { file, name, passed: false, durationVirtualMs: t, wallMs: 0, steps: [], failures: [{ step: -1, message, checks: [], t, excerpt: [] }], timeline, timelineDropped: 0 };
}

export async function runLoaded(loaded: LoadedScenario, opts: RunOptions = {}): Promise<ScenarioResult> {
  const s = loaded.scenario;
  const started = performance.now();
  let world: World;
  try {
    world = await buildWorld(s, { attachListeners: opts.attachListeners });
  } catch (e) {
    return setupFailure(loaded.file, s.name, e);
  }
  const steps: StepResult[] = [];
  const failures: ScenarioFailure[] = [];
  const marks = new Map<string, number>();
  const agents = new Map<string, OsAgent>();
  const usbKeys: UsbKeys = new Map();
  const baseDir = loaded.baseDir ?? baseDirOf(loaded.file);
  const adminPasswords = new AdminPasswords(s);
  try {
    for (let i = 0; i < s.steps.length; i++) {
      const step = s.steps[i]!;
      const kind = STEP_ACTIONS.find((a) => step[a] !== undefined)!;
      const t = world.clock.now();
      const line = loaded.stepPos[i]?.line;
      let outcome: { ok: boolean; message: string; checks?: Check[]; deviceId?: string };
      try {
        outcome = await runStep(step, kind, world, { marks, agents, stepStart: t, baseDir, usbKeys, adminPasswords });
      } catch (e) {
        outcome = { ok: false, message: isAmtError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e) };
      }
      const r: StepResult = { index: i, kind, ...(line ? { line } : {}), ok: outcome.ok, message: outcome.message, t };
      steps.push(r);
      opts.onStep?.(r);
      if (!outcome.ok) {
        failures.push({
          step: i, ...(line ? { line } : {}), message: outcome.message, checks: (outcome.checks ?? []).filter((c) => !c.ok),
          ...(outcome.deviceId ? { deviceId: outcome.deviceId } : {}), t: world.clock.now(), excerpt: [],
        });
      }
    }
  } finally {
    for (const a of agents.values()) if (a.active) a.stop();
    if (world.virtual) await world.virtual.settle();
  }
  const timeline = [...world.emu.timeline.all()];
  const timelineDropped = world.emu.timeline.dropped;
  const n = opts.excerptEvents ?? 8;
  for (const f of failures) f.excerpt = excerpt(timeline, f, n);
  const durationVirtualMs = world.clock.now();
  await world.close();
  return { file: loaded.file, name: s.name, passed: failures.length === 0, durationVirtualMs, wallMs: Math.round(performance.now() - started), steps, failures, timeline, timelineDropped };
}

/** The device's events up to the failure time and a few after, ±n around the failure point. */
function excerpt(timeline: TimelineEvent[], f: ScenarioFailure, n: number): string[] {
  const mine = f.deviceId ? timeline.filter((e) => e.deviceId === f.deviceId) : timeline;
  let cut = mine.findIndex((e) => e.t > f.t);
  if (cut < 0) cut = mine.length;
  return mine.slice(Math.max(0, cut - n), cut + n).map((e) => formatEvent(e));
}

interface StepState {
  marks: Map<string, number>;
  agents: Map<string, OsAgent>;
  stepStart: number;
  /** Where relative step paths (usbSetup files) start. */
  baseDir: string;
  usbKeys: UsbKeys;
  /** The admin password a console would try on a device (wsman steps without `password`). */
  adminPasswords: AdminPasswords;
}

/**
 * A device's admin password as the scenario set it: its own `adminPassword`; else P@ssw0rd for
 * one that starts configured (the emulator's default); else the reference server's, which
 * configures it during the run — or the password of the `remote` step that configured it.
 */
export class AdminPasswords {
  private readonly byId = new Map<string, string>();
  private readonly fallback: string;

  constructor(s: Scenario) {
    const ps = s.provisioningServer;
    this.fallback = typeof ps === 'object' && 'reference' in ps ? ps.reference.adminPassword ?? DEFAULT_REMOTE_PASSWORD : DEFAULT_REMOTE_PASSWORD;
    const { groups } = deviceNames(s);
    for (const d of s.devices ?? []) {
      const pw = d.adminPassword ?? (d.state === 'configured' ? 'P@ssw0rd' : this.fallback);
      for (const id of groups.get(d.id) ?? [d.id]) this.byId.set(id, pw);
    }
  }

  of(id: string): string {
    return this.byId.get(id) ?? this.fallback;
  }

  /** A remote (host-based) step configured the device with this password. */
  set(id: string, password: string): void {
    this.byId.set(id, password);
  }
}

async function advance(world: World, ms: number): Promise<void> {
  if (world.virtual) {
    await world.virtual.advance(ms);
    return;
  }
  const end = world.clock.now() + ms;
  // Scaled time: wait in real time, in slices so a long advance stays interruptible.
  for (let i = 0; i < 1_000_000 && world.clock.now() < end; i++) await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, end - world.clock.now()))));
}

async function waitFor(world: World, pred: () => boolean, ms: number): Promise<boolean> {
  if (world.virtual) return world.virtual.runUntil(pred, ms);
  const end = world.clock.now() + ms;
  for (let i = 0; i < 1_000_000; i++) {
    if (pred()) return true;
    if (world.clock.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pred();
}

/** Let everything due now happen: timers at the current instant (a DHCP DISCOVER scheduled
 *  at +0 after power-on) and the socket I/O they start. */
async function settle(world: World): Promise<void> {
  if (world.virtual) await world.virtual.advance(0);
}

async function runStep(step: StepSpec, kind: StepKind, world: World, st: StepState): Promise<{ ok: boolean; message: string; checks?: Check[]; deviceId?: string }> {
  const targets = (): string[] => resolveDevices(world, step.device);
  switch (kind) {
    case 'power': {
      for (const id of targets()) {
        const d = world.emu.device(id);
        if (step.power === 'on') d.powerOn();
        else d.powerOff(step.power === 'loss' ? 'loss' : 'off');
      }
      await settle(world);
      return { ok: true, message: `power ${step.power}: ${targets().join(', ')}` };
    }
    case 'link': {
      for (const id of targets()) world.emu.device(id).setLink(step.link === 'up');
      await settle(world);
      return { ok: true, message: `link ${step.link}: ${targets().join(', ')}` };
    }
    case 'advance': {
      const ms = parseDuration(step.advance!);
      await advance(world, ms);
      return { ok: true, message: `advance ${formatDuration(ms)}` };
    }
    case 'mark':
      st.marks.set(step.mark!, world.clock.now());
      return { ok: true, message: `mark ${step.mark}` };
    case 'note':
      return { ok: true, message: step.note! };
    case 'mebxPassword': {
      for (const id of targets()) world.emu.device(id).setMebxPassword(step.mebxPassword!, 'mebx');
      await settle(world);
      return { ok: true, message: `MEBx password set: ${targets().join(', ')}` };
    }
    case 'unprovision': {
      for (const id of targets()) world.emu.device(id).unprovision(step.unprovision!);
      await settle(world);
      return { ok: true, message: `${step.unprovision} unprovision: ${targets().join(', ')}` };
    }
    case 'usbSetup': {
      const r = runUsbSetup(step.usbSetup!, targets(), world, st.baseDir, st.usbKeys);
      await settle(world);
      return r;
    }
    case 'mebx': {
      const r = runMebx(step.mebx!, targets(), world);
      await settle(world);
      return r;
    }
    case 'agent':
      return runAgent(step.agent!, targets(), world, st);
    case 'remote': {
      const r = await runRemote(step, targets(), world);
      for (const id of targets()) if (world.emu.device(id).state === 'Post') st.adminPasswords.set(id, step.remote!.password ?? DEFAULT_REMOTE_PASSWORD);
      return r;
    }
    case 'fault':
      return runFault(step, world);
    case 'wsman': {
      const out: string[] = [];
      for (const id of targets()) {
        const r = await runWsmanStep(step.wsman!, world.emu.device(id), world, { password: st.adminPasswords.of(id) });
        if (!r.ok) return { ok: false, message: r.message, deviceId: id };
        out.push(r.message);
      }
      await settle(world);
      return { ok: true, message: out.join('; ') };
    }
    case 'expect': {
      const spec = step.expect!;
      const ctx = { world, stepStart: st.stepStart, marks: st.marks };
      // "5 hellos within 4m30s" cannot be judged before 4m30s: wait until the latest bound.
      const horizon = eventHorizon(spec, ctx.stepStart, ctx.marks);
      if (horizon > world.clock.now()) await advance(world, horizon - world.clock.now());
      let checks = evaluate(spec, ctx);
      const within = spec.within !== undefined ? parseDuration(spec.within) : 0;
      if (within > 0 && !checks.every((c) => c.ok)) {
        await waitFor(world, () => evaluate(spec, ctx).every((c) => c.ok), within);
        checks = evaluate(spec, ctx);
      } else await settle(world);
      if (!checks.every((c) => c.ok)) {
        // The far side of a loopback socket (a sink's 'end', a server's log) may lag the
        // device's own record by a loop turn or two: give real I/O a moment before judging.
        for (let i = 0; i < 5 && !checks.every((c) => c.ok); i++) {
          await new Promise((r) => setTimeout(r, 10));
          await settle(world);
          checks = evaluate(spec, ctx);
        }
      }
      const bad = checks.filter((c) => !c.ok);
      if (bad.length === 0) return { ok: true, message: `expect: ${checks.length} check${checks.length === 1 ? '' : 's'} hold${within ? ` (after ${formatDuration(world.clock.now() - st.stepStart)})` : ''}`, checks };
      const first = bad[0]!;
      return {
        ok: false,
        message: `expectation failed${within ? ` within ${formatDuration(within)}` : ''}: ${bad.map(describeCheck).join('; ')}`,
        checks,
        ...(first.deviceId ? { deviceId: first.deviceId } : {}),
      };
    }
  }
}

/** The latest `since + within` among the event expectations (0 when none is bounded). */
function eventHorizon(spec: NonNullable<StepSpec['expect']>, stepStart: number, marks: Map<string, number>): number {
  let end = 0;
  for (const ev of spec.events ?? []) {
    if (ev.within === undefined) continue;
    const since = ev.since === undefined || ev.since === 'start' ? 0 : ev.since === 'step' ? stepStart : (marks.get(ev.since) ?? 0);
    end = Math.max(end, since + parseDuration(ev.within));
  }
  return end;
}

function runAgent(a: AgentSpec, ids: string[], world: World, st: StepState): { ok: boolean; message: string; deviceId?: string } {
  const results: string[] = [];
  const bad: string[] = [];
  let badDevice: string | undefined;
  for (const id of ids) {
    const d = world.emu.device(id);
    if (a === 'run' || (typeof a === 'object' && a.run)) {
      const cfg = typeof a === 'object' ? a.run ?? {} : {};
      const agent = new OsAgent({
        device: d,
        ...(cfg.useEx !== undefined ? { useEx: cfg.useEx } : {}),
        ...(cfg.maxRestarts !== undefined ? { maxRestarts: cfg.maxRestarts } : {}),
        ...(cfg.restartDelay !== undefined ? { restartDelayMs: parseDuration(cfg.restartDelay) } : {}),
      });
      st.agents.get(id)?.stop();
      st.agents.set(id, agent);
      const r = agent.start();
      results.push(`${id}: agent ${r.status}`);
      if (r.status === 'failed') {
        bad.push(`${id}: agent failed: ${r.reason ?? r.code}`);
        badDevice ??= id;
      }
      continue;
    }
    if (a === 'stop') {
      st.agents.get(id)?.stop();
      results.push(`${id}: agent stopped`);
      continue;
    }
    const want = typeof a === 'object' && a.status ? a.status : 'SUCCESS';
    let name: string;
    let status: number;
    const cmd = typeof a === 'string' ? a : a.command;
    if (cmd === 'startConfiguration' || cmd === 'startConfigurationEx') {
      name = cmd;
      status = d.host.startConfiguration(cmd === 'startConfigurationEx').status;
    } else if (cmd === 'stopConfiguration') {
      name = cmd;
      status = d.host.stopConfiguration().status;
    } else if (typeof a === 'object' && a.extendProvisioningPeriod !== undefined) {
      name = `extendProvisioningPeriod ${a.extendProvisioningPeriod}h`;
      status = d.host.extendProvisioningPeriod(a.extendProvisioningPeriod).status;
    } else if (typeof a === 'object' && a.setOtp !== undefined) {
      name = 'setOtp';
      const hex = /^([0-9a-fA-F]{2}){8,32}$/.test(a.setOtp);
      status = d.host.setProvisioningServerOtp(Buffer.from(a.setOtp, hex ? 'hex' : 'utf8')).status;
    } else if (typeof a === 'object' && a.setPkiDnsSuffix !== undefined) {
      name = 'setPkiDnsSuffix';
      status = d.host.setPkiFqdnSuffix(a.setPkiDnsSuffix).status;
    } else {
      return { ok: false, message: `unknown agent command ${JSON.stringify(a)}` };
    }
    const got = pthiStatusName(status);
    results.push(`${id}: ${name} → ${got}`);
    if (got !== want) {
      bad.push(`${id} ${name}: expected ${want}, got ${got}`);
      badDevice ??= id;
    }
  }
  if (bad.length) return { ok: false, message: bad.join('; '), ...(badDevice ? { deviceId: badDevice } : {}) };
  return { ok: true, message: results.join('; ') };
}

async function runRemote(step: StepSpec, ids: string[], world: World): Promise<{ ok: boolean; message: string; deviceId?: string }> {
  const server = world.endpoint.server;
  if (!server) return { ok: false, message: 'remote steps need provisioningServer: {reference: …}' };
  if (!world.listeners?.ports.http) return { ok: false, message: 'remote steps need the WS-Man listeners (src/fleet/listeners.ts attachListeners), which this build does not have' };
  const mode = step.remote!.hostBased === 'ACM' ? (step.remote!.tls ? 'acm-tls' : 'acm') : 'ccm';
  if (mode === 'acm-tls' && !world.listeners.ports.https) return { ok: false, message: 'remote {tls: true} needs the 16993 listener' };
  const out: string[] = [];
  for (const id of ids) {
    const d = world.emu.device(id);
    const lsa = d.host.getLocalSystemAccount().value;
    const address = d.address ?? world.emu.plannedAddress(id);
    if (!lsa || !address) return { ok: false, message: `${id}: not powered on or no address (power it on first)`, deviceId: id };
    const rec = await server.activateHostBased({
      address,
      // Secure host-based ACM (§5.4): the OS agent's PTHI side is the device's host interface.
      port: mode === 'acm-tls' ? world.listeners.ports.https : world.listeners.ports.http,
      lsa,
      mode,
      adminPassword: step.remote!.password ?? DEFAULT_REMOTE_PASSWORD,
      ...(mode !== 'ccm' && world.chain ? { chain: { chainPem: world.chain.chainPem, keyPem: world.chain.keyPem } } : {}),
      ...(mode === 'acm-tls' ? { agent: d.host } : {}),
      localAddress: address,
    });
    out.push(`${id}: host-based ${mode === 'acm-tls' ? 'ACM over TLS' : mode.toUpperCase()} ${rec.status}${rec.code ? ` (${rec.code})` : ''}`);
  }
  await settle(world);
  return { ok: true, message: out.join('; ') };
}

async function runFault(step: StepSpec, world: World): Promise<{ ok: boolean; message: string }> {
  const f = step.fault!;
  const did: string[] = [];
  const tl = world.emu.timeline;
  if (f.dhcp !== undefined) {
    if (f.dhcp === 'reset') world.emu.fake.dhcp.resetBehaviour();
    else world.emu.fake.dhcp.setBehaviour(toDhcpBehaviour(f.dhcp));
    tl.record('network', 'fault.dhcp', { behaviour: f.dhcp });
    did.push(`dhcp ${JSON.stringify(f.dhcp)}`);
  }
  for (const [name, mode] of Object.entries(f.dns ?? {})) {
    world.emu.fake.dns.setFailure(name, mode === 'ok' ? undefined : toDnsFailure(mode));
    tl.record('network', 'fault.dns', { name, mode });
    did.push(`dns ${name} ${JSON.stringify(mode)}`);
  }
  if (f.clockJump !== undefined) {
    const ms = parseDuration(f.clockJump);
    tl.record('network', 'fault.clock-jump', { ms });
    if (world.virtual) await world.virtual.jump(ms);
    else return { ok: false, message: 'clockJump needs virtual time' };
    did.push(`clock jumped ${formatDuration(ms)}`);
  }
  if (f.provisioningServer !== undefined) {
    if (f.provisioningServer === 'down') await world.endpoint.down();
    else await world.endpoint.up();
    tl.record('network', `fault.provisioning-server-${f.provisioningServer}`, { address: `${world.endpoint.address}:${world.endpoint.port}` });
    did.push(`provisioning server ${f.provisioningServer}`);
  }
  if (f.clearRules) {
    world.faults.clear();
    did.push('fault rules cleared');
  }
  if (f.rule) {
    const r = f.rule;
    const effect =
      r.effect === 'delay'
        ? { kind: 'delay' as const, ms: parseDuration(r.delay!) }
        : r.effect === 'fail' && r.returnValue !== undefined
          ? { kind: 'fail' as const, returnValue: r.returnValue }
          : { kind: r.effect };
    const rule = {
      effect,
      ...(r.name ? { name: r.name } : {}),
      ...(r.port !== undefined ? { port: r.port } : {}),
      ...(r.action ? { action: r.action } : {}),
      ...(r.firstN !== undefined ? { firstN: r.firstN } : {}),
      ...(r.probability !== undefined ? { probability: r.probability } : {}),
    };
    // With `device:` one rule per named device (each counts its own firstN); without, every device.
    const devices = step.device !== undefined ? resolveDevices(world, step.device) : [undefined];
    for (const deviceId of devices) world.faults.add({ ...rule, ...(deviceId ? { deviceId } : {}) });
    did.push(`rule ${r.name ?? r.effect}${r.action ? ` on ${r.action}` : ''}${r.port ? ` port ${r.port}` : ''}${step.device !== undefined ? ` for ${devices.join(', ')}` : ''}`);
  }
  await settle(world);
  return { ok: true, message: `fault: ${did.join(', ')}` };
}
