/**
 * The built-in reference provisioning server wired to an Emulator: a test PKI (fresh, or the one
 * kept in the fleet's data directory, reference-pki.ts), the server on loopback, reverse DNS
 * through the fake DNS server (as MeshCentral resolves a hello's source), and the server's steps
 * recorded on the devices' timelines as `sca.*` events.
 */
import { promises as dns } from 'node:dns';
import type { Clock } from '../clock/clock.js';
import { addHash } from '../nvram/hash-table.js';
import type { NvramImage } from '../nvram/image.js';
import { getProfile } from '../nvram/profiles.js';
import { createTestPki, type TestPki } from '../pki/test-ca.js';
import { ProvisioningServer } from '../provisioning/server.js';
import type { ProvisioningEvent } from '../provisioning/steps.js';
import type { Emulator } from './emulator.js';

export interface ReferenceServerOptions {
  clock: Clock;
  /** 0 picks a free port. */
  helloPort: number;
  /** The devices' TLS WS-Man port (the fleet listener's). */
  deviceWsmanPort: number;
  fqdn: string;
  adminPassword: string;
  mebxPassword: string;
  /** Reuse a PKI (tests, several servers); default: a new one. */
  pki?: TestPki;
}

/** The name the built-in server's root gets in a PC's trusted-hash table (as an admin would type it in MEBx). */
export const REFERENCE_ROOT_NAME = 'amtemu reference root';

export interface ReferenceServer {
  server: ProvisioningServer;
  pki: TestPki;
  helloPort: number;
  /** NVRAM customisation: the PC trusts this server's root (first, so it is in the hello). */
  trustRoot: (img: NvramImage) => void;
  stop(): Promise<void>;
}

export async function startReferenceServer(emu: Emulator, opts: ReferenceServerOptions): Promise<ReferenceServer> {
  const pki = opts.pki ?? (await createTestPki({ fqdn: opts.fqdn, now: opts.clock.date() }));
  const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`${emu.options.network.serverAddress}:${emu.fake.dnsPort}`]);
  const server = new ProvisioningServer({
    clock: opts.clock,
    helloPort: opts.helloPort,
    bind: '127.0.0.1',
    deviceWsmanPort: opts.deviceWsmanPort,
    // On the in-process LAN the fake DNS server has no kernel socket: read its PTR records directly.
    reverseLookup: emu.lan ? async (ip) => emu.fake.dns.nameOf(ip) : async (ip) => (await resolver.reverse(ip).catch(() => []))[0],
    profiles: [{ name: 'acm', adminPassword: opts.adminPassword, mebxPassword: opts.mebxPassword, tls: false }],
    chains: [{ name: 'reference-pki', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
    wsmanTimeoutMs: 15_000,
  });
  const { port } = await server.start();
  // Hellos on the in-process LAN reach the server's hello handler directly (any address, its port).
  const unlisten = emu.lan?.listen('0.0.0.0', port, (bytes, from) => server.onHelloBytes(from.address, bytes));
  server.on('event', (e: ProvisioningEvent) => {
    const d = emu.deviceAt(e.deviceIp);
    if (d) emu.timeline.record(d.id, `sca.${e.step}`, e.detail, e.code);
  });
  return {
    server,
    pki,
    helloPort: port,
    // As an IT admin would in MEBx: add the company root as a custom hash (firmware rules apply).
    trustRoot: (img) => {
      if (img.certHashes.some((h) => h.hash === pki.rootHashes.sha256)) return;
      img.certHashes = addHash(img.certHashes, getProfile(img.firmware.profile), { name: REFERENCE_ROOT_NAME, algorithm: 'SHA256', hash: pki.rootHashes.sha256 });
    },
    stop: () => {
      unlisten?.();
      return server.stop();
    },
  };
}
