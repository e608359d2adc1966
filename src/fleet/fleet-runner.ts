/**
 * A fleet brought to life: the clock (virtual or scaled), the emulator with its fake DHCP/DNS,
 * the shared port listeners, the built-in reference provisioning server when asked, a fault
 * registry for the control API, and the devices of a fleet file (or of `serve` flags) with
 * their NVRAM set as the file says. `amtemu serve` and the API tests both start fleets here.
 */
import type { Clock } from '../clock/clock.js';
import { ScaledClock } from '../clock/real-clock.js';
import { VirtualClock } from '../clock/virtual-clock.js';
import { AmtError } from '../common/errors.js';
import type { AmtDevice } from '../device/device.js';
import type { DhcpBehaviour } from '../network/fake/index.js';
import type { FirmwareProfileId, NvramImage } from '../nvram/image.js';
import { addHash, deleteHash, setHashActive } from '../nvram/hash-table.js';
import { getProfile } from '../nvram/profiles.js';
import { parseDuration } from '../scenario/duration.js';
import { FaultRules } from '../scenario/faults.js';
import { Emulator, type DeviceStateName } from './emulator.js';
import type { FleetDevice, FleetDeviceFields, FleetFile } from './fleet-file.js';
import { attachListeners, type AttachedListeners, type ListenerPorts } from './listeners.js';
import { startReferenceServer, type ReferenceServer } from './reference-server.js';

export type FleetProvisioning =
  | { kind: 'builtin'; fqdn: string; adminPassword: string; mebxPassword: string; helloPort: number }
  | { kind: 'address'; address: string; port: number };

/** Everything needed to start a fleet, defaults filled in. */
export interface FleetPlan {
  time: 'virtual' | { scaled: number };
  seed?: string;
  dataDir?: string;
  timelineCapacity?: number;
  network: { domain?: string; ipBase: string; serverAddress: string; dhcpPort: number; dnsPort: number; dhcp?: DhcpBehaviour; transport?: 'kernel' | 'memory' };
  provisioning: FleetProvisioning;
  ports: ListenerPorts;
  /** Fields every device gets unless it sets its own. */
  defaults: { state: DeviceStateName; profile: FirmwareProfileId; adminPassword: string };
  devices: FleetDevice[];
}

export interface RunningFleet {
  plan: FleetPlan;
  clock: Clock;
  /** Set when time moves only on request (`--time virtual`). */
  virtual: VirtualClock | undefined;
  emu: Emulator;
  listeners: AttachedListeners;
  reference: ReferenceServer | undefined;
  faults: FaultRules;
  stop(): Promise<void>;
}

export function toDhcpBehaviour(d: NonNullable<NonNullable<FleetFile['network']>['dhcp']>): DhcpBehaviour {
  return {
    ...(d.lateDomain !== undefined ? { domainLateAcks: d.lateDomain } : {}),
    ...(d.drop !== undefined ? { drop: d.drop } : {}),
    ...(d.nak !== undefined ? { nak: d.nak } : {}),
    ...(d.delay !== undefined ? { delayMs: parseDuration(d.delay) } : {}),
  };
}

/** Start clock, network, listeners and server, then add (but do not power on) the devices. */
export async function startFleet(plan: FleetPlan): Promise<RunningFleet> {
  const virtual = plan.time === 'virtual' ? new VirtualClock() : undefined;
  const clock: Clock = virtual ?? new ScaledClock((plan.time as { scaled: number }).scaled);
  const p = plan.provisioning;
  const emu = await Emulator.start({
    clock,
    ...(plan.dataDir ? { dataDir: plan.dataDir } : {}),
    ...(plan.seed ? { seed: plan.seed } : {}),
    ...(plan.timelineCapacity ? { timelineCapacity: plan.timelineCapacity } : {}),
    network: {
      serverAddress: plan.network.serverAddress,
      dhcpPort: plan.network.dhcpPort,
      dnsPort: plan.network.dnsPort,
      ...(plan.network.domain ? { domain: plan.network.domain } : {}),
      provisionServer: p.kind === 'builtin' ? '127.0.0.1' : p.address,
      ipBase: plan.network.ipBase,
      ...(plan.network.dhcp ? { dhcpBehaviour: plan.network.dhcp } : {}),
      ...(plan.network.transport ? { transport: plan.network.transport } : {}),
    },
  });
  let listeners: AttachedListeners | undefined;
  let reference: ReferenceServer | undefined;
  // One registry for the fleet: the API edits it, the WS-Man listeners apply it per request.
  const faults = new FaultRules({ ...(plan.seed ? { seed: plan.seed } : {}), timeline: emu.timeline });
  try {
    listeners = await attachListeners(emu, { ...plan.ports, faults });
    if (p.kind === 'builtin') {
      reference = await startReferenceServer(emu, {
        clock,
        helloPort: p.helloPort,
        deviceWsmanPort: listeners.ports.https,
        fqdn: p.fqdn,
        adminPassword: p.adminPassword,
        mebxPassword: p.mebxPassword,
      });
    }
    const helloPort = reference?.helloPort ?? (p.kind === 'address' ? p.port : 9971);
    for (const d of plan.devices) addFleetDevice(emu, d, plan.defaults, helloPort, reference);
  } catch (e) {
    await reference?.stop().catch(() => undefined);
    await listeners?.close().catch(() => undefined);
    await emu.stop();
    throw e;
  }
  const attached = listeners;
  return {
    plan,
    clock,
    virtual,
    emu,
    listeners: attached,
    reference,
    faults,
    stop: async () => {
      await reference?.stop().catch(() => undefined);
      await attached.close().catch(() => undefined);
      await emu.stop();
    },
  };
}

/** One fleet device into the emulator, its NVRAM shaped by the file's fields. */
export function addFleetDevice(emu: Emulator, d: FleetDevice, defaults: FleetPlan['defaults'], helloPort: number, reference: ReferenceServer | undefined): AmtDevice {
  const f: FleetDeviceFields = d.fields;
  return emu.addDevice({
    deviceId: d.id,
    profile: f.profile ?? defaults.profile,
    state: f.state ?? defaults.state,
    adminPassword: f.adminPassword ?? defaults.adminPassword,
    helloPort: f.provisioningServer?.port ?? f.helloPort ?? helloPort,
    ...(f.uuid ? { uuid: f.uuid.toLowerCase() } : {}),
    customize: (img) => {
      // The built-in server's root is trusted first, as an IT admin adds it in MEBx; the file's
      // own hash edits come after so "deactivate: [all]" can still make an untrusting PC.
      reference?.trustRoot(img);
      applyFleetFields(img, d.id, f, reference);
    },
  });
}

export function applyFleetFields(img: NvramImage, id: string, f: FleetDeviceFields, reference: ReferenceServer | undefined): void {
  const fail = (what: string, e: unknown): never => {
    throw new AmtError(e instanceof AmtError ? e.code : 'BAD_INPUT', `device ${id}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
  };
  const profile = getProfile(img.firmware.profile);
  const p = img.provisioning;
  if (f.macs) img.macs = f.macs.map((m) => m.toLowerCase().replace(/-/g, ':'));
  if (f.hostname) img.network.hostname = f.hostname;
  if (f.mode) p.mode = f.mode;
  if (f.trigger) p.trigger = f.trigger;
  if (f.remoteConfigTimerHours !== undefined) p.remoteConfigTimerHours = f.remoteConfigTimerHours;
  if (f.pkiDnsSuffix !== undefined) img.setup.pkiDnsSuffix = f.pkiDnsSuffix;
  if (f.domain !== undefined) img.network.domain = f.domain;
  if (f.wiredLan !== undefined) img.network.wiredLan = f.wiredLan;
  if (f.mebxPassword !== undefined) {
    img.mebx.password = f.mebxPassword;
    img.mebx.passwordChanged = true;
  }
  if (f.provisioningServer?.address) img.setup.provisioningServer.address = f.provisioningServer.address;
  if (f.provisioningServer?.fqdn) img.setup.provisioningServer.fqdn = f.provisioningServer.fqdn;
  for (const key of f.hashes?.deactivate ?? []) {
    try {
      img.certHashes = key === 'all' ? img.certHashes.map((e) => ({ ...e, isActive: false })) : setHashActive(img.certHashes, key, false);
    } catch (e) {
      fail(`hashes.deactivate "${key}"`, e);
    }
  }
  for (const key of f.hashes?.remove ?? []) {
    try {
      img.certHashes = deleteHash(img.certHashes, key);
    } catch (e) {
      fail(`hashes.remove "${key}"`, e);
    }
  }
  (f.hashes?.add ?? []).forEach((h, i) => {
    try {
      const algorithm = h.algorithm ?? 'SHA256';
      const rootHashes = reference?.pki.rootHashes;
      const hash = h.root === 'builtin' ? rootHashes?.[algorithm === 'SHA1' ? 'sha1' : algorithm === 'SHA256' ? 'sha256' : 'sha384'] : h.hash;
      if (!hash) throw new AmtError('BAD_INPUT', 'no hash (root "builtin" needs the built-in provisioning server)');
      // The built-in root may already be in the table (trusted by default above): re-adding is a no-op.
      if (img.certHashes.some((e) => e.hash === hash.toLowerCase())) {
        img.certHashes = img.certHashes.map((e) => (e.hash === hash.toLowerCase() ? { ...e, isActive: h.active ?? true } : e));
        return;
      }
      img.certHashes = addHash(img.certHashes, profile, { name: h.name, algorithm, hash, isActive: h.active ?? true });
    } catch (e) {
      fail(`hashes.add[${i}]`, e);
    }
  });
}
