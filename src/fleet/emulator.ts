/**
 * A running emulated network: one clock, one timeline, the fake DHCP and DNS servers, the
 * devices at planned 127.x addresses and (when started) the shared port listeners. `amtemu
 * serve`, `amtemu demo`, scenarios and users' own test suites all build on this.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock/clock.js';
import { AmtError } from '../common/errors.js';
import { Timeline, TIMELINE_CAPACITY_MAX, TIMELINE_CAPACITY_MIN } from '../common/timeline.js';
import { AmtDevice } from '../device/device.js';
import { createFactoryImage } from '../nvram/defaults.js';
import type { FirmwareProfileId, NvramImage, ProvisioningState } from '../nvram/image.js';
import { getProfile } from '../nvram/profiles.js';
import { NvramStore } from '../nvram/store.js';
import { deviceAddress, planAddresses } from '../network/address-plan.js';
import { MemoryLan } from '../network/memory-lan.js';
import { startFakeNetwork, type DhcpBehaviour, type FakeNetwork, type ZoneRecord } from '../network/fake/index.js';
import { SocketNetwork } from '../network/socket-network.js';

export type DeviceStateName = 'factory' | 'setup' | 'configured';

export interface EmulatorNetworkOptions {
  /** Where the fake DHCP and DNS servers listen (also option 6 and option 54). */
  serverAddress: string;
  dhcpPort: number;
  dnsPort: number;
  /** DHCP option 15; absent = the lease carries no domain. */
  domain?: string;
  /** Address that ProvisionServer.<domain> resolves to. */
  provisionServer?: string;
  zone?: ZoneRecord[];
  /** Device i gets ipBase + i. */
  ipBase: string;
  dhcpBehaviour?: DhcpBehaviour;
  /**
   * `kernel` (default): DHCP, DNS and hellos over real loopback sockets, reachable by any client.
   * `memory`: the same firmware client, fake servers and packets on an in-process LAN
   * (src/network/memory-lan.ts) — for discovery simulations at fleet scale; hellos reach only
   * listeners registered with `emu.lan.listen`, and are refused otherwise. WS-Man ports
   * (attachListeners) stay on real sockets either way.
   */
  transport?: 'kernel' | 'memory';
}

export interface EmulatorOptions {
  clock: Clock;
  network: EmulatorNetworkOptions;
  /** NVRAM directory; without it images live in memory only. */
  dataDir?: string;
  /** Seed for reproducible UUIDs, MACs and secrets. */
  seed?: string;
  /** Timeline events kept before the oldest are dropped (default DEFAULT_TIMELINE_CAPACITY). */
  timelineCapacity?: number;
}

export interface DeviceSpec {
  deviceId: string;
  profile?: FirmwareProfileId;
  state?: DeviceStateName;
  /** Admin password for a configured device (stored as MD5(admin:realm:password)). */
  adminPassword?: string;
  /** Hello destination port written to NVRAM (firmware default 9971). */
  helloPort?: number;
  uuid?: string;
  /** Last word on the image before the device starts (scenarios, fleets). */
  customize?: (img: NvramImage) => void;
  /**
   * For an image loaded from the data directory (customize is not applied to those): bring it in
   * line with what runs now (the built-in server's port and root). Returns what it changed, or
   * undefined; a change is saved and recorded on the timeline as `nvram.aligned`.
   */
  reconcile?: (img: NvramImage) => Record<string, unknown> | undefined;
}

/** The names the CLI, fleet files and scenarios use for the firmware's ProvisioningState. */
export const PROVISIONING_STATE_OF: Readonly<Record<DeviceStateName, ProvisioningState>> = { factory: 'Pre', setup: 'In', configured: 'Post' };
export const STATE_NAME_OF: Readonly<Record<ProvisioningState, DeviceStateName>> = { Pre: 'factory', In: 'setup', Post: 'configured' };

export function digestHash(user: string, realm: string, password: string): string {
  return createHash('md5').update(`${user}:${realm}:${password}`).digest('hex');
}

export class Emulator {
  readonly timeline: Timeline;
  readonly devices = new Map<string, AmtDevice>();
  private readonly byAddress = new Map<string, AmtDevice>();
  private readonly store: NvramStore | undefined;
  private readonly addresses: string[] = [];
  private readonly addressOf = new Map<string, string>();
  private readonly network: SocketNetwork;
  /**
   * The device's 16993 TLS leaf (DER), from the listeners' certificate store once they are
   * attached (src/fleet/listeners.ts); CFG_StartConfigurationHBased answers its hash (§5.4).
   */
  tlsCertificateOf: ((device: AmtDevice) => Promise<Buffer>) | undefined;

  private constructor(
    readonly clock: Clock,
    readonly options: EmulatorOptions,
    readonly fake: FakeNetwork,
    /** MAC → planned address; the fake DHCP server reads it on every request. */
    private readonly reservations: Record<string, string>,
    /** The in-process LAN when `network.transport` is `memory`. */
    readonly lan: MemoryLan | undefined,
  ) {
    this.timeline = new Timeline(clock, options.timelineCapacity);
    this.store = options.dataDir ? new NvramStore(options.dataDir) : undefined;
    this.network = new SocketNetwork({
      clock,
      mode: 'loopback',
      dhcpServer: { address: options.network.serverAddress, port: fake.dhcpPort },
      dnsPort: fake.dnsPort,
      ...(lan ? { lan } : {}),
    });
  }

  static async start(options: EmulatorOptions): Promise<Emulator> {
    const cap = options.timelineCapacity;
    if (cap !== undefined && !(Number.isInteger(cap) && cap >= TIMELINE_CAPACITY_MIN && cap <= TIMELINE_CAPACITY_MAX)) {
      throw new AmtError('BAD_INPUT', `timelineCapacity must be a whole number from ${TIMELINE_CAPACITY_MIN} to ${TIMELINE_CAPACITY_MAX}, got ${String(cap)}`);
    }
    const n = options.network;
    const zone: ZoneRecord[] = [...(n.zone ?? [])];
    if (n.provisionServer && n.domain) zone.push({ name: `ProvisionServer.${n.domain}`, type: 'A', value: n.provisionServer });
    const reservations: Record<string, string> = {};
    const transport = n.transport ?? 'kernel';
    if (transport !== 'kernel' && transport !== 'memory') throw new AmtError('BAD_INPUT', `network.transport must be "kernel" or "memory", got "${String(transport)}"`);
    const lan = transport === 'memory' ? new MemoryLan() : undefined;
    const udp = lan ? { udp: lan.udp } : {};
    const fake = await startFakeNetwork({
      clock: options.clock,
      dhcp: {
        address: n.serverAddress,
        port: n.dhcpPort,
        mode: 'loopback',
        // The address plan is enforced by reservations; the pool only serves unknown MACs.
        pool: { start: '127.254.0.10', end: '127.254.0.250' },
        reservations,
        dnsServers: [n.serverAddress],
        ...(n.domain ? { domain: n.domain } : {}),
        ...(n.dhcpBehaviour ? { behaviour: n.dhcpBehaviour } : {}),
        ...udp,
      },
      dns: { address: n.serverAddress, port: n.dnsPort, zone, ...udp },
    });
    return new Emulator(options.clock, options, fake, reservations, lan);
  }

  /** Add `count` devices named `${prefix}${i}` with consecutive addresses from ipBase. */
  addDevices(count: number, spec: Omit<DeviceSpec, 'deviceId'> & { prefix?: string }): AmtDevice[] {
    const plan = planAddresses(this.options.network.ipBase, this.addresses.length + count);
    if (!plan.ok) throw new AmtError('BAD_INPUT', plan.message);
    const out: AmtDevice[] = [];
    for (let i = 0; i < count; i++) out.push(this.addDevice({ ...spec, deviceId: `${spec.prefix ?? 'pc'}${this.addresses.length + 1}` }));
    return out;
  }

  addDevice(spec: DeviceSpec): AmtDevice {
    if (this.devices.has(spec.deviceId)) throw new AmtError('BAD_INPUT', `device "${spec.deviceId}" already exists`);
    const planned = deviceAddress(this.options.network.ipBase, this.addresses.length);
    if (!planned.ok) throw new AmtError('BAD_INPUT', planned.message);
    const address = planned.value;
    const factory = (): NvramImage =>
      createFactoryImage({
        deviceId: spec.deviceId,
        ...(spec.profile ? { profile: spec.profile } : {}),
        ...(spec.uuid ? { uuid: spec.uuid } : {}),
        ...(this.options.seed !== undefined ? { seed: this.options.seed } : {}),
      });
    let image: NvramImage;
    let aligned: Record<string, unknown> | undefined;
    if (this.store?.exists(spec.deviceId)) {
      // A device that already has NVRAM keeps it: that is what NVRAM is for.
      image = this.store.load(spec.deviceId);
      aligned = spec.reconcile?.(image);
      if (aligned) image = this.store.save(image);
    } else {
      image = factory();
      applyInitialState(image, spec);
      spec.customize?.(image);
      if (this.store) image = this.store.save(image);
    }
    const device: AmtDevice = new AmtDevice({
      image,
      profile: getProfile(image.firmware.profile),
      clock: this.clock,
      timeline: this.timeline,
      network: this.network,
      factoryImage: factory,
      ...(this.store ? { persist: (img: Readonly<NvramImage>) => this.store!.save(img as NvramImage) } : {}),
      tlsCertificate: (): Promise<Buffer> => {
        const of = this.tlsCertificateOf;
        return of ? of(device) : Promise.reject(new Error('no TLS listener is attached to this emulator'));
      },
    });
    const mac = image.macs[0];
    if (mac) this.reservations[mac] = address;
    this.addresses.push(address);
    this.addressOf.set(spec.deviceId, address);
    this.devices.set(spec.deviceId, device);
    this.byAddress.set(address, device);
    if (aligned) this.timeline.record(spec.deviceId, 'nvram.aligned', aligned);
    return device;
  }

  /** The device that owns an address (the listeners route by local address). */
  deviceAt(address: string): AmtDevice | undefined {
    return this.byAddress.get(address);
  }

  plannedAddress(deviceId: string): string | undefined {
    return this.addressOf.get(deviceId);
  }

  device(id: string): AmtDevice {
    const d = this.devices.get(id);
    if (!d) throw new AmtError('BAD_INPUT', `no device "${id}" (have: ${[...this.devices.keys()].slice(0, 10).join(', ')})`);
    return d;
  }

  powerOnAll(): void {
    for (const d of this.devices.values()) d.powerOn();
  }

  async stop(): Promise<void> {
    for (const d of this.devices.values()) d.powerOff();
    await this.network.close();
    await this.fake.stop();
  }
}

function applyInitialState(img: NvramImage, spec: DeviceSpec): void {
  if (spec.helloPort !== undefined) img.setup.provisioningServer.port = spec.helloPort;
  const state = spec.state ?? 'factory';
  img.provisioning.state = PROVISIONING_STATE_OF[state];
  if (state !== 'factory') {
    // A PC reaches setup when the OEM or a technician changed the MEBx password (issue 3).
    img.mebx.passwordChanged = true;
    img.mebx.password = 'Mebx-Passw0rd!';
  }
  if (state === 'configured') {
    img.provisioning.controlMode = 'ACM';
    img.adminAcl.digestHash = digestHash(img.adminAcl.username, img.digestRealm, spec.adminPassword ?? 'P@ssw0rd');
    img.provisioning.window.bareMetalUsed = true;
  }
}
