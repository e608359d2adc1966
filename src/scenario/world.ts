/**
 * Builds the world a scenario describes: a clock, the emulator (fake DHCP/DNS at a loopback
 * block of its own, so scenarios run in parallel), the provisioning-server endpoint, and the
 * devices with their NVRAM overrides. Listeners (16992–16995) plug in when the fleet module
 * provides them; scenarios that need them say so in their failure instead of hanging.
 * With `network.transport: memory` DHCP, DNS and the hello endpoint live on the emulator's
 * in-process LAN instead (the block's addresses are then only names there); WS-Man stays real.
 */
import { threadId } from 'node:worker_threads';
import type { Clock } from '../clock/clock.js';
import { ScaledClock } from '../clock/real-clock.js';
import { VirtualClock } from '../clock/virtual-clock.js';
import { AmtError, isAmtError } from '../common/errors.js';
import type { AmtDevice } from '../device/device.js';
import { mebxSetPidPps } from '../device/mebx.js';
import { canonicalPskText } from '../device/psk.js';
import { Emulator } from '../fleet/emulator.js';
import { attachListeners } from '../fleet/listeners.js';
import type { DnsFailureMode, DhcpBehaviour, ZoneRecord } from '../network/fake/index.js';
import type { NvramImage } from '../nvram/image.js';
import { addHash, deleteHash, hashAlgorithmOf, setHashActive } from '../nvram/hash-table.js';
import { getProfile } from '../nvram/profiles.js';
import { createTestPki, type TestChain, type TestPki, type TestPkiVariant } from '../pki/test-ca.js';
import { ProvisioningServer } from '../provisioning/server.js';
import type { ProvisioningEvent } from '../provisioning/steps.js';
import { parseDuration } from './duration.js';
import { FaultRules } from './faults.js';
import { FixedEndpoint, HelloSink, ReferenceEndpoint, reservePort, type HelloEndpoint } from './hello-endpoint.js';
import { deviceNames } from './semantics.js';
import type { DeviceSpecYaml, DhcpSpec, DnsFailureSpec, Scenario } from './types.js';

/** Handle returned by a listener plug-in (WS-Man 16992/16993, redirection). */
export interface ListenerHandle {
  /** Ports actually bound (0 in the request picks a free one). */
  ports: { http?: number; https?: number; redirection?: number; redirectionTls?: number };
  close(): Promise<void>;
}
/** `ports` 0 = any free port (the default); an external server needs AMT's own (16992/16993). */
export type AttachListeners = (emu: Emulator, faults: FaultRules, ports?: { http: number; https: number }) => Promise<ListenerHandle>;

/** The WS-Man ports a provisioning server of the user's connects back to (reference §6.1). */
const AMT_WSMAN_PORTS = { http: 16992, https: 16993 } as const;

export interface World {
  clock: Clock;
  virtual: VirtualClock | undefined;
  emu: Emulator;
  endpoint: HelloEndpoint;
  faults: FaultRules;
  pki: TestPki | undefined;
  chain: TestChain | undefined;
  listeners: ListenerHandle | undefined;
  /** Where a management console sits on the run's LAN (`wsman:` steps connect from here: remote). */
  consoleAddress: string;
  /** Device ids and group names → device ids. */
  groups: Map<string, string[]>;
  ids: string[];
  close(): Promise<void>;
}

let runCounter = 0;

/** The admin password the reference server and `remote` steps set when a scenario names none. */
export const DEFAULT_REMOTE_PASSWORD = 'P@ssw0rd-amtemu';

/** The firmware's hello port (NVRAM default), used on a run's own in-process LAN. */
const DEFAULT_HELLO_PORT = 9971;

/**
 * A /22 of 127.0.0.0/8 for this run: 127.A.B.0 with A from the process and thread and B from a
 * counter, so parallel vitest workers and consecutive runs never share device addresses.
 * .1 is the DHCP/DNS server, .2 the provisioning server, .3 a management console, devices start at .10.
 */
export function allocateBlock(): { server: string; provisioning: string; console: string; ipBase: string } {
  const a = 64 + ((process.pid * 7 + threadId * 13) % 160);
  const b = ((runCounter++ % 63) * 4) + 1;
  return { server: `127.${a}.${b}.1`, provisioning: `127.${a}.${b}.2`, console: `127.${a}.${b}.3`, ipBase: `127.${a}.${b}.10` };
}

const pkiCache = new Map<string, Promise<TestPki>>();

/** Test PKIs are cached per process: key generation is the slow part of a scenario. */
function testPki(fqdn: string, variant: TestPkiVariant | 'valid', now: Date): Promise<TestPki> {
  const day = Math.floor(now.getTime() / 86_400_000);
  const key = `${fqdn}|${variant}|${day}`;
  let p = pkiCache.get(key);
  if (!p) {
    p = createTestPki({ fqdn, variants: variant === 'valid' ? [] : [variant], now });
    pkiCache.set(key, p);
    p.catch(() => pkiCache.delete(key));
  }
  return p;
}

export function toDhcpBehaviour(d: DhcpSpec): DhcpBehaviour {
  return {
    // In a fault step: the DHCP server now hands out another option 15 (the PC moved networks).
    ...(d.domain !== undefined ? { domain: d.domain } : {}),
    ...(d.lateDomain !== undefined ? { domainLateAcks: d.lateDomain } : {}),
    ...(d.drop !== undefined ? { drop: d.drop } : {}),
    ...(d.nak !== undefined ? { nak: d.nak } : {}),
    ...(d.delay !== undefined ? { delayMs: parseDuration(d.delay) } : {}),
  };
}

export function toDnsFailure(f: DnsFailureSpec): DnsFailureMode {
  if (typeof f === 'object') return { kind: 'delay', delayMs: parseDuration(f.delay) };
  return { kind: f };
}

/** The fleet's WS-Man listeners on free ports (redirection and RMCP are not needed by scenarios). */
export const fleetListeners: AttachListeners = async (emu, faults, ports = { http: 0, https: 0 }) => {
  const h = await attachListeners(emu, { ...ports, redirection: null, redirectionTls: null, rmcp: null, faults });
  return { ports: h.ports, close: () => h.close() };
};

/**
 * An external provisioning server connects to each PC's 16993 (and 16992), as to real firmware,
 * so those ports must be AMT's own. Only one process can hold them: a clear refusal instead of
 * a scenario whose PCs are silently unreachable.
 */
async function externalListeners(attach: AttachListeners, emu: Emulator, faults: FaultRules): Promise<ListenerHandle> {
  try {
    return await attach(emu, faults, { ...AMT_WSMAN_PORTS });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw e;
    throw new AmtError('BAD_INPUT', `provisioningServer: external needs the WS-Man ports ${AMT_WSMAN_PORTS.http} and ${AMT_WSMAN_PORTS.https} (your server connects to them) and they are ${code === 'EACCES' ? 'not available to this user' : 'in use'}: stop amtemu serve, and run scenarios with an external server one at a time (--jobs 1)`);
  }
}

export interface BuildOptions {
  attachListeners?: AttachListeners | undefined;
}

export async function buildWorld(s: Scenario, opts: BuildOptions = {}): Promise<World> {
  const virtual = s.time === undefined || s.time === 'virtual' ? new VirtualClock() : undefined;
  const clock: Clock = virtual ?? new ScaledClock((s.time as { scaled: number }).scaled);
  const block = allocateBlock();
  const dhcp = s.network?.dhcp ?? {};
  const domain = dhcp.domain;
  const ps = s.provisioningServer ?? 'sink';

  let pki: TestPki | undefined;
  let chain: TestChain | undefined;
  if (typeof ps === 'object' && 'reference' in ps) {
    const fqdn = ps.reference.fqdn ?? `prov.${domain ?? 'corp.example.test'}`;
    const variant = ps.reference.certificate ?? 'valid';
    pki = await testPki(fqdn, variant, clock.date());
    chain = variant === 'valid' ? pki.valid : pki.variants[variant];
    if (!chain) throw new AmtError('BAD_INPUT', `test PKI has no "${variant}" chain`);
  }

  const transport = s.network?.transport ?? 'kernel';
  if (transport === 'memory' && typeof ps === 'object' && 'external' in ps) {
    // The loader refuses this with a position; API callers (startNetwork) come straight here.
    throw new AmtError('BAD_INPUT', 'provisioningServer: external cannot be reached on network.transport: memory (the in-process LAN has no route out of this process)');
  }
  const serverAddress = typeof ps === 'object' && 'external' in ps ? ps.external.address : block.provisioning;
  const zone: ZoneRecord[] = (s.network?.dns?.records ?? []).map((r) => ({
    name: r.name,
    type: r.type,
    value: r.value === 'provisioningServer' ? serverAddress : r.value,
    ...(r.ttl !== undefined ? { ttl: r.ttl } : {}),
  }));
  const publish = s.network?.dns?.provisionServerRecord ?? true;
  const emu = await Emulator.start({
    clock,
    seed: s.seed ?? s.name,
    ...(s.timeline?.capacity ? { timelineCapacity: s.timeline.capacity } : {}),
    network: {
      serverAddress: block.server,
      dhcpPort: 0,
      dnsPort: 0,
      ipBase: block.ipBase,
      zone,
      ...(domain ? { domain } : {}),
      ...(publish && domain ? { provisionServer: serverAddress } : {}),
      dhcpBehaviour: toDhcpBehaviour(dhcp),
      transport,
    },
  });
  const lan = emu.lan;
  const faults = new FaultRules({ seed: s.seed ?? s.name, timeline: emu.timeline });
  let endpoint: HelloEndpoint | undefined;
  let listeners: ListenerHandle | undefined;
  try {
    for (const [name, f] of Object.entries(s.network?.dns?.failures ?? {})) emu.fake.dns.setFailure(name, toDnsFailure(f));

    if (typeof ps === 'object' && 'external' in ps) {
      listeners = await externalListeners(opts.attachListeners ?? fleetListeners, emu, faults);
      endpoint = new FixedEndpoint('external', ps.external.address, ps.external.port ?? 9971);
    } else {
      // The run's LAN is its own: the firmware's default hello port is free there by construction.
      const port = lan ? DEFAULT_HELLO_PORT : await reservePort(block.provisioning);
      if (ps === 'down') endpoint = new FixedEndpoint('down', block.provisioning, port);
      else if (ps === 'sink') endpoint = new HelloSink(block.provisioning, port, () => clock.now(), lan);
      else {
        listeners = await (opts.attachListeners ?? fleetListeners)(emu, faults);
        const ref = ps.reference;
        const server = new ProvisioningServer({
          clock,
          bind: block.provisioning,
          helloPort: port,
          ...(listeners?.ports.https ? { deviceWsmanPort: listeners.ports.https } : {}),
          profiles: [{ name: 'default', adminPassword: ref.adminPassword ?? DEFAULT_REMOTE_PASSWORD, mebxPassword: ref.mebxPassword ?? 'Mebx-P@ssw0rd', tls: ref.tls ?? false }],
          chains: [{ name: chain!.variant, chainPem: chain!.chainPem, keyPem: chain!.keyPem, rootHashes: chain!.rootHashes }],
          ...(ref.pskPairs?.length ? { pskPairs: ref.pskPairs.map((p) => ({ pid: p.pid, pps: p.pps })) } : {}),
          // The fake DNS knows every leased name; the server asks it, not the host's resolver.
          reverseLookup: async () => undefined,
          wsmanTimeoutMs: 20_000,
        });
        // The server's steps join the device's timeline (as `server.*`), so a failure excerpt
        // shows both sides of the conversation.
        server.on('event', (e: ProvisioningEvent) => {
          const id = emu.deviceAt(e.deviceIp)?.id;
          if (!id) return;
          emu.timeline.record(id, `server.${e.step}`, e.detail, e.ok ? undefined : e.code ?? 'FAILED');
        });
        endpoint = new ReferenceEndpoint(block.provisioning, port, server, lan);
      }
      await endpoint.up();
    }

    // A console's wsman steps need the WS-Man ports even without the reference server.
    if (!listeners && s.steps.some((st) => st.wsman !== undefined)) listeners = await (opts.attachListeners ?? fleetListeners)(emu, faults);

    const { ids, groups } = deviceNames(s);
    for (const d of s.devices ?? []) {
      const members = groups.get(d.id)!;
      for (const id of members) addScenarioDevice(emu, id, d, endpoint, pki);
    }
    const world: World = {
      clock, virtual, emu, endpoint, faults, pki, chain, listeners, consoleAddress: block.console, groups, ids,
      close: async () => {
        await stopEndpoint(endpoint!, virtual);
        await listeners?.close().catch(() => undefined);
        await emu.stop();
      },
    };
    return world;
  } catch (e) {
    await endpoint?.down().catch(() => undefined);
    await listeners?.close().catch(() => undefined);
    await emu.stop();
    throw e;
  }
}

/**
 * Stop the hello endpoint. A reference server waits for its sessions, and a session may be
 * sleeping on the virtual clock (MeshCentral's 5 s after CommitChanges): keep time moving while
 * it finishes, bounded in virtual and real time, so a run never hangs on its own shutdown.
 */
async function stopEndpoint(endpoint: HelloEndpoint, virtual: VirtualClock | undefined): Promise<void> {
  let done = false;
  const closing = endpoint.down().catch(() => undefined).finally(() => {
    done = true;
  });
  for (let i = 0; i < 120 && !done && virtual; i++) await virtual.advance(1000);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise<void>((r) => { timer = setTimeout(r, 10_000); })]);
  clearTimeout(timer);
}

export function addScenarioDevice(emu: Emulator, id: string, d: DeviceSpecYaml, endpoint: HelloEndpoint, pki: TestPki | undefined): AmtDevice {
  // Entering PID/PPS or changing the MEBx password leaves factory state (seed 002): a device with
  // either starts in setup unless its state says otherwise.
  const state = d.state ?? (d.pid !== undefined || d.mebxPassword !== undefined ? 'setup' : undefined);
  const device = emu.addDevice({
    deviceId: id,
    ...(d.profile ? { profile: d.profile } : {}),
    ...(state ? { state } : {}),
    helloPort: d.provisioningServer?.port ?? endpoint.port,
    ...(d.adminPassword ? { adminPassword: d.adminPassword } : {}),
    ...(d.uuid ? { uuid: d.uuid.toLowerCase() } : {}),
    customize: (img: NvramImage) => {
      const where = (what: string, e: unknown): never => {
        const msg = e instanceof Error ? e.message : String(e);
        throw new AmtError(e instanceof AmtError ? e.code : 'BAD_INPUT', `device ${id}: ${what}: ${msg}`);
      };
      const profile = getProfile(img.firmware.profile);
      const p = img.provisioning;
      if (d.mode) p.mode = d.mode;
      if (d.trigger) p.trigger = d.trigger;
      if (d.remoteConfigTimerHours !== undefined) p.remoteConfigTimerHours = d.remoteConfigTimerHours;
      if (d.pkiDnsSuffix !== undefined) img.setup.pkiDnsSuffix = d.pkiDnsSuffix;
      if (d.domain !== undefined) img.network.domain = d.domain;
      if (d.wiredLan !== undefined) img.network.wiredLan = d.wiredLan;
      if (d.mebxPassword !== undefined) {
        img.mebx.password = d.mebxPassword;
        img.mebx.passwordChanged = true;
      }
      if (d.pid !== undefined && d.pps !== undefined && profile.setup.tlsPsk) {
        img.setup.pid = canonicalPskText(d.pid);
        img.setup.pps = canonicalPskText(d.pps);
      }
      if (d.homeDomains !== undefined) img.setup.homeDomains = d.homeDomains.map((h) => h.replace(/\.$/, '').toLowerCase());
      const server = d.provisioningServer;
      if (server?.address) img.setup.provisioningServer.address = server.address === 'provisioningServer' ? endpoint.address : server.address;
      if (server?.fqdn) img.setup.provisioningServer.fqdn = server.fqdn;
      for (const key of d.hashes?.deactivate ?? []) {
        try {
          img.certHashes = key === 'all' ? img.certHashes.map((e) => ({ ...e, isActive: false })) : setHashActive(img.certHashes, key, false);
        } catch (e) {
          where(`hashes.deactivate "${key}"`, e);
        }
      }
      for (const key of d.hashes?.remove ?? []) {
        try {
          img.certHashes = deleteHash(img.certHashes, key);
        } catch (e) {
          where(`hashes.remove "${key}"`, e);
        }
      }
      // Adds last: "deactivate: [all]" then add = a device that trusts only the added roots.
      (d.hashes?.add ?? []).forEach((h, i) => {
        try {
          // Written without an algorithm: the hash's length says it (as in MEBx), a root reference is SHA-256.
          const algorithm = h.algorithm ?? (h.hash !== undefined ? hashAlgorithmOf(h.hash) : undefined) ?? 'SHA256';
          const hash = h.root === 'reference' ? pki!.rootHashes[algorithm === 'SHA1' ? 'sha1' : algorithm === 'SHA256' ? 'sha256' : 'sha384'] : h.hash!;
          img.certHashes = addHash(img.certHashes, profile, { name: h.name, algorithm, hash, isActive: h.active ?? true });
        } catch (e) {
          where(`hashes.add[${i}]`, e);
        }
      });
    },
  });
  if (d.pid !== undefined && d.pps !== undefined && !device.profile.setup.tlsPsk) {
    // A profile without TLS-PSK has no PID/PPS screen and no place for them: the device's own MEBx
    // rule refuses (mebx.refused PSK_NOT_SUPPORTED on the timeline) and the run goes on, so a
    // scenario can expect that code instead of failing before it starts.
    try {
      mebxSetPidPps(device, device.nvram.mebx.password, d.pid, d.pps);
    } catch (e) {
      if (!isAmtError(e)) throw e;
    }
  }
  return device;
}
