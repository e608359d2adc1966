/**
 * The in-process API behind src/index.ts: start an emulated network (fake DHCP/DNS, a hello
 * sink or the reference provisioning server, devices at their own loopback addresses) in
 * virtual time, drive it, and wait for expectations — the same machinery scenario files use.
 *
 *   const net = await startNetwork({ domain: 'corp.example.test' });
 *   const pc = net.addDevice({ id: 'pc1', state: 'setup' });
 *   pc.powerOn();
 *   await net.advance('10m');
 *   expect(net.timeline.count({ deviceId: 'pc1', type: 'hello.sent' })).toBe(7);
 *   await net.stop();
 */
import type { Timeline } from '../common/timeline.js';
import type { AmtDevice } from '../device/device.js';
import type { ProvisioningServer } from '../provisioning/server.js';
import { parseDuration, type DurationInput } from './duration.js';
import { describeCheck, evaluate, type Check } from './expect.js';
import type { DeviceSpecYaml, ExpectSpec, NetworkSpec, ProvisioningServerSpec } from './types.js';
import { addScenarioDevice, buildWorld, type World } from './world.js';
import { AmtError } from '../common/errors.js';

export interface StartNetworkOptions {
  /** DHCP option 15; leave out for a network without it. */
  domain?: string;
  /** Extra network knobs as in a scenario's `network:` (DHCP faults, DNS records and failures). */
  network?: NetworkSpec;
  /** 'sink' (default), 'down', {reference: {...}} or {external: {...}}. */
  provisioningServer?: ProvisioningServerSpec;
  seed?: string;
}

export type DeviceOptions = DeviceSpecYaml;

export class ExpectationError extends Error {
  constructor(readonly checks: Check[]) {
    super(checks.filter((c) => !c.ok).map(describeCheck).join('; '));
    this.name = 'ExpectationError';
  }
}

export class EmulatedNetwork {
  private readonly marks = new Map<string, number>();
  constructor(private readonly world: World) {}

  get timeline(): Timeline {
    return this.world.emu.timeline;
  }
  /** Virtual milliseconds since the network started. */
  get now(): number {
    return this.world.clock.now();
  }
  /** The reference provisioning server, when started with provisioningServer: {reference: …}. */
  get provisioningServer(): ProvisioningServer | undefined {
    return this.world.endpoint.server;
  }
  get devices(): AmtDevice[] {
    return [...this.world.emu.devices.values()];
  }

  addDevice(spec: DeviceOptions): AmtDevice {
    if (this.world.emu.devices.has(spec.id)) throw new AmtError('BAD_INPUT', `device "${spec.id}" already exists`);
    const d = addScenarioDevice(this.world.emu, spec.id, spec, this.world.endpoint, this.world.pki);
    this.world.ids.push(spec.id);
    this.world.groups.set(spec.id, [spec.id]);
    return d;
  }

  device(id: string): AmtDevice {
    return this.world.emu.device(id);
  }

  /** Move virtual time forward ("90s", "6h", "1d 2h", or ms), firing every timer on the way. */
  async advance(d: DurationInput): Promise<void> {
    const ms = parseDuration(d);
    if (this.world.virtual) await this.world.virtual.advance(ms);
    else await new Promise((r) => setTimeout(r, ms / ((this.world.clock as { scale?: number }).scale ?? 1)));
  }

  /** Let everything due now happen (timers at this instant, socket I/O they start). */
  async settle(): Promise<void> {
    if (this.world.virtual) await this.world.virtual.advance(0);
  }

  /** Remember the current time under a name, for `since` in expectations. */
  mark(name: string): void {
    this.marks.set(name, this.now);
  }

  /** Evaluate an expectation (the scenario `expect:` block) now; returns the checks. */
  check(spec: ExpectSpec): Check[] {
    return evaluate(spec, { world: this.world, stepStart: this.now, marks: this.marks });
  }

  /**
   * Wait (in virtual time, up to `spec.within`, default 0) until the expectation holds; throws
   * ExpectationError with expected vs actual when it does not.
   */
  async expect(spec: ExpectSpec): Promise<void> {
    const start = this.now;
    const ctx = { world: this.world, stepStart: start, marks: this.marks };
    const ok = (): boolean => evaluate(spec, ctx).every((c) => c.ok);
    const within = spec.within !== undefined ? parseDuration(spec.within) : 0;
    await this.settle();
    if (!ok() && within > 0 && this.world.virtual) await this.world.virtual.runUntil(ok, within);
    for (let i = 0; i < 5 && !ok(); i++) {
      await new Promise((r) => setTimeout(r, 10));
      await this.settle();
    }
    const checks = evaluate(spec, ctx);
    if (!checks.every((c) => c.ok)) throw new ExpectationError(checks);
  }

  async stop(): Promise<void> {
    await this.world.close();
  }
}

export async function startNetwork(opts: StartNetworkOptions = {}): Promise<EmulatedNetwork> {
  const network: NetworkSpec = { ...(opts.network ?? {}) };
  if (opts.domain) network.dhcp = { ...(network.dhcp ?? {}), domain: opts.domain };
  const world = await buildWorld({
    name: opts.seed ?? 'api',
    network,
    ...(opts.provisioningServer ? { provisioningServer: opts.provisioningServer } : {}),
    steps: [],
    ...(opts.seed ? { seed: opts.seed } : {}),
  }, {});
  return new EmulatedNetwork(world);
}
