/**
 * The negative PKI-CH matrix end to end (issue 9 §5): rogue provisioning servers present real
 * certificate chains to a device in setup over the real 16993 listener (src/network/listeners.ts).
 * None of them configures the device; each rejection is on the device timeline with its reason.
 *
 * A. The reference provisioning server, given a rogue chain, runs the whole flow: hello → chain
 *    choice → mutual TLS back to 16993 (untrusted root — the server even lies about its root
 *    hash —, wrong OU, expired, wrong domain suffix).
 * B. A bare mutual-TLS WS-Man client (a server that skips hello and chain choice) for every other
 *    reason code a real chain can reach, with a valid chain as the positive control.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import type { PkiChCode } from '../../src/device/pkich.js';
import { PortListeners } from '../../src/network/listeners.js';
import type { CertHashEntry } from '../../src/nvram/image.js';
import { createTestPki, type TestChain, type TestPki, type TestPkiVariant } from '../../src/pki/test-ca.js';
import { ProvisioningServer, type DeviceRecord } from '../../src/provisioning/server.js';
import { WsmanClient } from '../../src/provisioning/wsman-client.js';
import { makeTestDevice } from '../fixtures/wsman/device.js';

const HOUR = 3_600_000;
const base = `127.${200 + (process.pid % 50)}.${((process.pid >> 8) % 250) + 1}`;
let n = 10;

let pki: TestPki;
let clock: VirtualClock;
let listeners: PortListeners;
const devices = new Map<string, AmtDevice>();

beforeAll(async () => {
  clock = new VirtualClock({ epoch: Date.now() });
  pki = await createTestPki({ now: clock.date() });
  listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0 });
  await listeners.start();
}, 120_000);
afterAll(async () => {
  await listeners?.stop();
});

/** A device in setup that trusts the test root (first in its table) with an open 24 h window. */
async function setupDevice(opts: { domain?: string; rootActive?: boolean } = {}): Promise<AmtDevice> {
  const address = `${base}.${n++}`;
  const { device } = await makeTestDevice({
    deviceId: `rogue${n}`,
    address,
    profile: 'amt16',
    domain: opts.domain ?? 'corp.example.test',
    clock,
    image: (img) => {
      img.provisioning.state = 'In';
      img.mebx = { password: 'Mebx!0ld', passwordChanged: true };
      const root: CertHashEntry = { name: 'amtemu test root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: opts.rootActive ?? true };
      img.certHashes = [root, ...img.certHashes.slice(0, 8)];
    },
  });
  devices.set(address, device);
  device.openWindow('bareMetal', 24 * HOUR, 'test: power-on in setup');
  return device;
}

function expectUntouched(device: AmtDevice, code: string): void {
  expect(device.state).toBe('In');
  expect(device.controlMode).not.toBe('ACM');
  expect(device.nvram.adminAcl.digestHash).toBeUndefined();
  expect(device.nvram.mebx.password).toBe('Mebx!0ld');
  expect(device.timeline.query({ deviceId: device.id, type: 'pkich.accepted' })).toHaveLength(0);
  const rejected = device.timeline.query({ deviceId: device.id, type: 'pkich.rejected' });
  expect(rejected.length, JSON.stringify(device.timeline.query({ deviceId: device.id, type: /^(pkich|tls)\./ }))).toBeGreaterThan(0);
  expect(rejected.map((e) => e.code)).toContain(code);
}

function variant(v: TestPkiVariant): TestChain {
  const c = pki.variants[v];
  if (!c) throw new Error(`test PKI variant ${v} missing`);
  return c;
}

describe('A. the reference provisioning server with a rogue chain never configures the device', () => {
  function sendHello(device: AmtDevice, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: device.address! }, () => s.end(device.buildHello(0)));
      s.on('error', reject);
      s.on('close', () => resolve());
    });
  }
  async function runRogue(chain: TestChain): Promise<{ device: AmtDevice; rec: DeviceRecord | undefined }> {
    const server = new ProvisioningServer({
      clock,
      helloPort: 0,
      bind: '127.0.0.1',
      deviceWsmanPort: listeners.tlsPort,
      reverseLookup: async () => undefined,
      profiles: [{ name: 'acm', adminPassword: 'Rogue!pass1', mebxPassword: 'Rogue!mebx1', tls: false }],
      // A rogue server claims the root the device trusts, whatever chain it really holds.
      chains: [{ name: 'rogue', chainPem: chain.chainPem, keyPem: chain.keyPem, rootHashes: pki.rootHashes }],
      wsmanTimeoutMs: 10_000,
    });
    await server.start();
    try {
      const device = await setupDevice();
      const port = server.events.find((x) => x.step === 'server.listening')!.detail.port as number;
      await sendHello(device, port);
      let rec: DeviceRecord | undefined;
      for (let i = 0; i < 400; i++) {
        rec = server.record(device.address!);
        if (rec && rec.status !== 'in-progress') break;
        await clock.advance(250);
        await new Promise((r) => setTimeout(r, 5));
      }
      return { device, rec };
    } finally {
      await server.stop();
    }
  }

  it.each<[TestPkiVariant, PkiChCode]>([
    ['untrustedRoot', 'HASH_NOT_TRUSTED'],
    ['wrongOu', 'MISSING_SETUP_OID_OR_OU'],
    ['expired', 'CERT_EXPIRED'],
    ['wrongCn', 'SUFFIX_MISMATCH'],
  ])('%s → %s on the device timeline, server fails, device stays in setup', async (v, code) => {
    const { device, rec } = await runRogue(variant(v));
    expect(rec?.status).toBe('failed');
    expectUntouched(device, code);
  }, 60_000);
});

describe('B. a bare mutual-TLS client: every reason code a real chain reaches', () => {
  async function attempt(device: AmtDevice, chain: TestChain | undefined): Promise<string> {
    const c = new WsmanClient({
      host: device.address!,
      port: listeners.tlsPort,
      username: 'admin',
      password: 'whatever',
      // SECLEVEL=0: a rogue server's OpenSSL may well send a SHA-1 signed or 1024-bit chain; ours
      // would refuse to load one ("ca md too weak") and the device would never get to judge it.
      tls: chain ? { certPem: chain.chainPem, keyPem: chain.keyPem, ciphers: 'DEFAULT:@SECLEVEL=0' } : { ciphers: 'DEFAULT:@SECLEVEL=0' },
      timeoutMs: 5_000,
    });
    try {
      const s = await c.get(c.amt.SetupAndConfigurationService.Get(), 'AMT_SetupAndConfigurationService');
      return `ok ${s['ProvisioningState']}`;
    } catch (e) {
      return `refused: ${(e as Error).message}`;
    } finally {
      c.close();
    }
  }

  it('positive control: the valid chain passes PKI-CH and WS-Man answers over the session', async () => {
    const device = await setupDevice();
    expect(await attempt(device, pki.valid)).toBe('ok 1');
    expect(device.timeline.query({ deviceId: device.id, type: 'pkich.accepted' })).toHaveLength(1);
  });

  it.each<[TestPkiVariant, PkiChCode]>([
    ['untrustedRoot', 'HASH_NOT_TRUSTED'],
    ['noOid', 'MISSING_SETUP_OID_OR_OU'],
    ['notServerAuth', 'NOT_SERVER_AUTH'],
    ['notYetValid', 'CERT_NOT_YET_VALID'],
    ['sha1Signature', 'SHA1_NOT_ALLOWED'],
    ['weakKey', 'WEAK_KEY'],
    ['badSignature', 'BAD_SIGNATURE'],
    ['missingIntermediate', 'CHAIN_INCOMPLETE'],
    ['noRoot', 'CHAIN_INCOMPLETE'],
  ])('%s → %s', async (v, code) => {
    const device = await setupDevice();
    expect(await attempt(device, variant(v))).toMatch(/^refused/);
    expectUntouched(device, code);
  });

  it('an inactive root entry → HASH_INACTIVE', async () => {
    const device = await setupDevice({ rootActive: false });
    expect(await attempt(device, pki.valid)).toMatch(/^refused/);
    expectUntouched(device, 'HASH_INACTIVE');
  });

  it('no DHCP domain and no MEBx PKI DNS suffix → NO_DNS_SUFFIX', async () => {
    const device = await setupDevice({ domain: '' });
    expect(await attempt(device, pki.valid)).toMatch(/^refused/);
    expectUntouched(device, 'NO_DNS_SUFFIX');
  });

  it('no client certificate at all → NO_CLIENT_CERT', async () => {
    const device = await setupDevice();
    expect(await attempt(device, undefined)).toMatch(/^refused/);
    expectUntouched(device, 'NO_CLIENT_CERT');
  });
});
