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
import { addHash, deleteHash, hashAlgorithmOf, setHashActive } from '../nvram/hash-table.js';
import { getProfile } from '../nvram/profiles.js';
import { parseDuration } from '../scenario/duration.js';
import { FaultRules } from '../scenario/faults.js';
import { Emulator, type DeviceStateName } from './emulator.js';
import type { FleetDevice, FleetDeviceFields, FleetFile } from './fleet-file.js';
import { attachListeners, type AttachedListeners, type ListenerPorts } from './listeners.js';
import { acquireDataDirLock, type DataDirLock } from '../nvram/data-dir-lock.js';
import { referencePkiIn, type StoredReferencePki } from './reference-pki.js';
import { REFERENCE_ROOT_NAME, startReferenceServer, type ReferenceServer, type ReferenceServerOptions } from './reference-server.js';

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
  // One fleet per data directory: it writes the images back from memory, so anything else
  // writing there meanwhile would be lost (the offline nvram commands check this lock).
  const lock: DataDirLock | undefined = plan.dataDir ? acquireDataDirLock(plan.dataDir) : undefined;
  let emu: Emulator;
  try {
    emu = await startEmulator(plan, clock);
  } catch (e) {
    lock?.release();
    throw e;
  }
  let listeners: AttachedListeners | undefined;
  let reference: ReferenceServer | undefined;
  // One registry for the fleet: the API edits it, the WS-Man listeners apply it per request.
  const faults = new FaultRules({ ...(plan.seed ? { seed: plan.seed } : {}), timeline: emu.timeline });
  try {
    listeners = await attachListeners(emu, { ...plan.ports, faults });
    let stored: StoredReferencePki | undefined;
    if (p.kind === 'builtin') {
      const opts: ReferenceServerOptions = {
        clock,
        helloPort: p.helloPort,
        deviceWsmanPort: listeners.ports.https,
        fqdn: p.fqdn,
        adminPassword: p.adminPassword,
        mebxPassword: p.mebxPassword,
      };
      if (plan.dataDir) {
        // The PCs' NVRAM remembers this server's root and port: keep both across restarts.
        stored = await referencePkiIn(plan.dataDir, p.fqdn, clock.date());
        reference = await startStoredReferenceServer(emu, { ...opts, pki: stored.pki }, stored.previousHelloPort);
        stored.rememberHelloPort(reference.helloPort);
      } else {
        reference = await startReferenceServer(emu, opts);
      }
    }
    const helloPort = reference?.helloPort ?? (p.kind === 'address' ? p.port : 9971);
    for (const d of plan.devices) addFleetDevice(emu, d, plan.defaults, helloPort, reference, stored?.previousHelloPort);
  } catch (e) {
    await reference?.stop().catch(() => undefined);
    await listeners?.close().catch(() => undefined);
    await emu.stop();
    lock?.release();
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
      try {
        await reference?.stop().catch(() => undefined);
        await attached.close().catch(() => undefined);
        await emu.stop();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * With --hello-port 0 the server takes the port it had last time when that port is free, so the
 * PCs' NVRAM stays as it was; only when it is taken does the server move (and the PCs follow).
 */
async function startStoredReferenceServer(emu: Emulator, opts: ReferenceServerOptions, previousPort: number | undefined): Promise<ReferenceServer> {
  if (opts.helloPort !== 0 || previousPort === undefined) return startReferenceServer(emu, opts);
  try {
    return await startReferenceServer(emu, { ...opts, helloPort: previousPort });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' && (e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
    return startReferenceServer(emu, opts);
  }
}

function startEmulator(plan: FleetPlan, clock: Clock): Promise<Emulator> {
  const p = plan.provisioning;
  return Emulator.start({
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
}

/**
 * One fleet device into the emulator, its NVRAM shaped by the file's fields. A device whose
 * NVRAM was kept in the data directory is not reshaped; it is only brought in line with the
 * built-in server that runs now (alignWithReference).
 */
export function addFleetDevice(
  emu: Emulator,
  d: FleetDevice,
  defaults: FleetPlan['defaults'],
  helloPort: number,
  reference: ReferenceServer | undefined,
  previousHelloPort?: number,
): AmtDevice {
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
    ...(reference ? { reconcile: (img: NvramImage) => alignWithReference(img, f, reference, previousHelloPort) } : {}),
  });
}

/**
 * A stored PC and the built-in server that runs now. The PC says hello where the server listened
 * last time: when the server had to move (--hello-port 0, the old port taken), the PC follows —
 * unless the fleet gives the PC its own port, or its port was set to something else on purpose.
 * The entry the fleet put in the PC's hash table for the server's root (REFERENCE_ROOT_NAME) is
 * updated when the root is another one (a data directory from before the PKI was kept, or the
 * PKI file removed); a PC whose entry was removed or deactivated stays that way.
 * Returns what changed, for the `nvram.aligned` event.
 */
export function alignWithReference(img: NvramImage, f: FleetDeviceFields, reference: ReferenceServer, previousHelloPort: number | undefined): Record<string, unknown> | undefined {
  const changed: Record<string, unknown> = {};
  const ps = img.setup.provisioningServer;
  const ownPort = f.provisioningServer?.port ?? f.helloPort;
  if (ownPort === undefined && previousHelloPort !== undefined && ps.port === previousHelloPort && ps.port !== reference.helloPort) {
    changed['helloPort'] = { from: ps.port, to: reference.helloPort };
    ps.port = reference.helloPort;
  }
  const root = reference.pki.rootHashes.sha256;
  const entry = img.certHashes.find((h) => h.name === REFERENCE_ROOT_NAME && !h.isDefault);
  if (entry && entry.algorithm === 'SHA256' && entry.hash !== root && !img.certHashes.some((h) => h.hash === root)) {
    changed['trustedRoot'] = { name: REFERENCE_ROOT_NAME, from: entry.hash, to: root };
    img.certHashes = img.certHashes.map((h) => (h === entry ? { ...h, hash: root } : h));
  }
  return Object.keys(changed).length > 0 ? changed : undefined;
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
      // Written without an algorithm: the hash's length says it (as in MEBx), a root reference is SHA-256.
      const algorithm = h.algorithm ?? (h.hash !== undefined ? hashAlgorithmOf(h.hash) : undefined) ?? 'SHA256';
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
