/**
 * MeshCentral's own hello server (node_modules/meshcentral/amtprovisioningserver.js, MC-hello)
 * receives our device's hello bytes over a real loopback TCP connection and parses them with its
 * own parseHelloData; its checkAcmActivation then picks its certificate by our root hash. The
 * module is loaded from node_modules at test time, never copied. Only `net` (to bind loopback on
 * an ephemeral port instead of 0.0.0.0:9971) and `dns` (no real reverse lookups) are stubbed;
 * the stub parent object carries just the fields the hello path reads.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { encodeHelloV2, encodeHelloV3 } from '../../src/device/hello.js';
import { sendHello } from '../../src/network/hello-transport.js';
import { makeDevice } from '../helpers/device-fixture.js';

const require = createRequire(import.meta.url);
const modulePath = require.resolve('meshcentral/amtprovisioningserver.js');
const realRequire = createRequire(modulePath);

interface McHello {
  addr: string;
  guid: string;
  helloversion: number;
  retryCount: number;
  adminCredentialsSet: boolean;
  hashes: string[];
}
interface McServer {
  server: net.Server;
  devices: Record<string, unknown>;
}

const debug: string[] = [];
const parsed: McHello[] = [];
const chainRequests: Array<{ fqdn: string; sha256: string }> = [];
const servers: net.Server[] = [];

const loopbackNet = {
  ...net,
  createServer: (...args: Parameters<typeof net.createServer>) => {
    const s = net.createServer(...args);
    const listen = s.listen.bind(s) as (port: number, host: string) => net.Server;
    // MeshCentral calls listen(port): bind it to loopback only.
    (s as unknown as { listen: (port: number) => net.Server }).listen = (port: number) => listen(port, '127.0.0.1');
    servers.push(s);
    return s;
  },
};
const fakeDns = { reverse: (_addr: string, cb: (err: Error | null, names?: string[]) => void) => cb(new Error('ENOTFOUND (stub)')) };

function loadMeshCentral(ourRootSha256: string): McServer {
  const src = readFileSync(modulePath, 'utf8');
  const mod = { exports: {} as Record<string, unknown> };
  const stubRequire = (id: string): unknown => (id === 'net' ? loopbackNet : id === 'dns' ? fakeDns : realRequire(id));
  const fn = vm.compileFunction(src, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: modulePath });
  fn(mod.exports, stubRequire, mod, modulePath, modulePath.replace(/\/[^/]+$/, ''));
  const parent = {
    debug: (...a: unknown[]) => debug.push(a.map(String).join(' ')),
    certificates: { root: { cert: 'stub' } },
    certificateOperations: {
      forge: { pki: { certificateFromPem: () => ({ subject: { getField: () => ({ value: 'MeshCentralRoot' }) } }) } },
      // Record which of our certificates MeshCentral chose, and stop there (no TLS in this test).
      getAcmCertChain: (_domain: unknown, fqdn: string, sha256: string) => {
        chainRequests.push({ fqdn, sha256 });
        return null;
      },
    },
    webserver: { meshes: { 'mesh//amt': { _id: 'mesh//amt', mtype: 1, domain: '', amt: { type: 3 } } } },
    config: { domains: { '': { amtacmactivation: { certs: [{ cn: '*', sha256: ourRootSha256, sha1: '00'.repeat(20) }] } } } },
  };
  const create = mod.exports.CreateAmtProvisioningServer as (p: unknown, c: unknown) => McServer;
  const obj = create(parent, { devicegroup: 'mesh//amt', newmebxpassword: 'Mebx!2pass', port: 0, trustedfqdn: 'prov.corp.example.test' });
  // Watch devices MeshCentral accepts (obj.devices[addr] = parseHelloData(...)).
  obj.devices = new Proxy({} as Record<string, unknown>, {
    set(target, key, value) {
      if (typeof key === 'string' && value && typeof value === 'object') parsed.push({ ...(value as McHello) });
      target[key as string] = value;
      return true;
    },
  });
  return obj;
}

async function waitFor(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('MeshCentral hello server parses our hellos', () => {
  const ROOT = 'c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4';
  let mc: McServer;
  let port: number;

  beforeAll(async () => {
    mc = loadMeshCentral(ROOT);
    await new Promise<void>((r) => (mc.server.listening ? r() : mc.server.once('listening', () => r())));
    port = (mc.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  });

  it('a device hello sent by our hello transport parses to the same UUID and hashes', async () => {
    const { device } = makeDevice({
      deviceId: 'mc-hello-1',
      image: (img) => {
        img.provisioning.state = 'In';
        img.certHashes = [...img.certHashes.slice(0, 5), { name: 'MC root', algorithm: 'SHA256', hash: ROOT, isDefault: false, isActive: true }];
      },
    });
    const bytes = device.buildHello(3);
    const from = '127.0.0.61';
    const r = await sendHello({ clock: new VirtualClock() }, from, { host: '127.0.0.1', port }, bytes);
    expect(r.ok).toBe(true);
    await waitFor(() => parsed.some((p) => p.addr === from));
    const got = parsed.find((p) => p.addr === from)!;
    expect(got.guid).toBe(device.nvram.uuid);
    expect(got.helloversion).toBe(3);
    expect(got.retryCount).toBe(3);
    expect(got.adminCredentialsSet).toBe(device.nvram.mebx.passwordChanged);
    // Custom roots are announced first, then the factory defaults (README: hashes in the hello).
    const active = device.nvram.certHashes.filter((h) => h.isActive);
    expect(got.hashes).toEqual([...active.filter((h) => !h.isDefault), ...active.filter((h) => h.isDefault)].map((h) => h.hash));
    expect(got.hashes[0]).toBe(ROOT);
    // checkAcmActivation matched its certificate on our root hash and asked for that chain.
    await waitFor(() => chainRequests.length > 0);
    expect(chainRequests).toEqual([{ fqdn: 'prov.corp.example.test', sha256: ROOT }]);
    expect(debug.some((l) => l.includes(`Got hello from ${from}`))).toBe(true);
  });

  it('SHA-1 and SHA-384 entries, 24 entries: parsed as we encoded them', async () => {
    const hashes = [
      { algorithm: 'SHA1' as const, hash: 'ab'.repeat(20) },
      { algorithm: 'SHA384' as const, hash: 'cd'.repeat(48) },
      ...Array.from({ length: 22 }, (_, i) => ({ algorithm: 'SHA256' as const, hash: i.toString(16).padStart(2, '0').repeat(32) })),
    ];
    const from = '127.0.0.62';
    const bytes = encodeHelloV3({ adminCredentialsSet: false, retryCount: 14, uuid: '939b524b-13d4-1d18-e487-1c697a6b7a2b', hashes });
    expect((await sendHello({ clock: new VirtualClock() }, from, { host: '127.0.0.1', port }, bytes)).ok).toBe(true);
    await waitFor(() => parsed.some((p) => p.addr === from));
    const got = parsed.find((p) => p.addr === from)!;
    expect(got.guid).toBe('939b524b-13d4-1d18-e487-1c697a6b7a2b');
    expect(got.hashes).toEqual(hashes.map((h) => h.hash));
    expect(got.retryCount).toBe(14);
  });

  it('rejects our PSK (v2) hello the way it rejects any non-v3 hello', async () => {
    const from = '127.0.0.63';
    const bytes = encodeHelloV2({ adminCredentialsSet: true, retryCount: 0, uuid: '939b524b-13d4-1d18-e487-1c697a6b7a2b', pid: 'ABCD1234' });
    expect((await sendHello({ clock: new VirtualClock() }, from, { host: '127.0.0.1', port }, bytes)).ok).toBe(true);
    await waitFor(() => debug.some((l) => l.includes(`Got invalid hello from: ${from}`)));
    expect(debug.some((l) => l.includes(`Got invalid hello from: ${from}`))).toBe(true);
    expect(parsed.some((p) => p.addr === from)).toBe(false);
  });
});
