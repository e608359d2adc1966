/**
 * End to end on loopback: an emulated device in setup state says hello to our provisioning
 * server, which reaches it only over the network (mutual TLS to the device's 16993 listener with
 * the test PKI's Client Setup chain) and configures it into ACM (reference §1.3).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import { digestHa1 } from '../../src/provisioning/digest.js';
import { PortListeners } from '../../src/network/listeners.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { ProvisioningServer, type DeviceRecord } from '../../src/provisioning/server.js';
import { WsmanClient } from '../../src/provisioning/wsman-client.js';
import { makeTestDevice } from '../fixtures/wsman/device.js';

const ADMIN = 'Adm1n!pass';
const MEBX = 'Mebx!2pass';
const HOUR = 3_600_000;

function sendHello(device: AmtDevice, port: number): Promise<void> {
  const bytes = device.buildHello(0);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: device.address! }, () => s.end(bytes));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

async function runUntilDone(clock: VirtualClock, server: ProvisioningServer, ip: string): Promise<DeviceRecord | undefined> {
  for (let i = 0; i < 400; i++) {
    const r = server.record(ip);
    if (r && r.status !== 'in-progress') return r;
    await clock.advance(250);
    await new Promise((r2) => setTimeout(r2, 5));
  }
  return server.record(ip);
}

describe('bare-metal remote configuration against the emulated device', () => {
  let pki: TestPki;
  let clock: VirtualClock;
  let listeners: PortListeners;
  let server: ProvisioningServer;
  const devices = new Map<string, AmtDevice>();

  beforeAll(async () => {
    clock = new VirtualClock({ epoch: Date.now() });
    pki = await createTestPki({ variants: [], now: clock.date() });
    listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0 });
    await listeners.start();
    server = new ProvisioningServer({
      clock,
      helloPort: 0,
      bind: '127.0.0.1',
      deviceWsmanPort: listeners.tlsPort,
      reverseLookup: async () => undefined,
      profiles: [{ name: 'acm', adminPassword: ADMIN, mebxPassword: MEBX, tls: false }],
      chains: [{ name: 'test-pki', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
      wsmanTimeoutMs: 10_000,
    });
    await server.start();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await listeners?.stop();
  });

  async function setupDevice(id: string, address: string, algorithm: 'SHA256' | 'SHA1'): Promise<AmtDevice> {
    const { device } = await makeTestDevice({
      deviceId: id,
      address,
      // ME 16 ignores SHA-1 table entries (reference §4.1); AMT 12 still trusts them.
      profile: algorithm === 'SHA1' ? 'amt12' : 'amt16',
      domain: 'corp.example.test',
      clock,
      image: (img) => {
        img.provisioning.state = 'In';
        img.mebx = { password: 'Mebx!0ld', passwordChanged: true };
        // The provisioning root first, so it is inside the hello's first 23 entries.
        const hash = algorithm === 'SHA256' ? pki.rootHashes.sha256 : pki.rootHashes.sha1;
        img.certHashes = [{ name: 'amtemu test root', algorithm, hash, isDefault: false, isActive: true }, ...img.certHashes.slice(0, 8)];
      },
    });
    devices.set(address, device);
    device.openWindow('bareMetal', 24 * HOUR, 'test: power-on in setup');
    return device;
  }

  it('configures a device whose NVRAM trusts the test root (SHA-256) into ACM', async () => {
    const device = await setupDevice('pc-bm1', '127.78.0.11', 'SHA256');
    await sendHello(device, helloPort(server));
    const rec = await runUntilDone(clock, server, device.address!);
    const steps = server.events.filter((e) => e.deviceIp === device.address).map((e) => `${e.step}${e.ok ? '' : ` ✗ ${e.code}`}`);
    expect(rec, steps.join('\n')).toMatchObject({ status: 'configured', controlMode: 'acm', chain: 'test-pki', uuid: device.nvram.uuid });
    expect(steps).toEqual(expect.arrayContaining([
      'hello.received', 'chain.selected', 'wsman.get-general-settings', 'wsman.set-mebx-password', 'wsman.set-admin-acl', 'wsman.commit-changes', 'device.configured',
    ]));
    // The device side agrees: Post/ACM, the ACL carries our password hash, the MEBx password is ours.
    expect(device.state).toBe('Post');
    expect(device.controlMode).toBe('ACM');
    expect(device.nvram.adminAcl.digestHash).toBe(digestHa1('admin', device.nvram.digestRealm, ADMIN));
    expect(device.nvram.mebx.password).toBe(MEBX);
    expect(device.timeline.query({ deviceId: device.id, type: 'pkich.accepted' })).toHaveLength(1);

    // And the new admin account works over the network.
    const c = new WsmanClient({ host: device.address!, port: listeners.tlsPort, username: 'admin', password: ADMIN, tls: {}, timeoutMs: 10_000 });
    const s = await clock.track(c.get(c.amt.SetupAndConfigurationService.Get(), 'AMT_SetupAndConfigurationService'));
    expect(s.ProvisioningState).toBe('2');
    c.close();
  }, 60_000);

  it('matches on a SHA-1 root entry too', async () => {
    const device = await setupDevice('pc-bm2', '127.78.0.12', 'SHA1');
    await sendHello(device, helloPort(server));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec, JSON.stringify([rec, device.timeline.query({ deviceId: device.id, type: 'pkich.' })])).toMatchObject({ status: 'configured' });
    expect(server.events.find((e) => e.deviceIp === device.address && e.step === 'chain.selected')?.detail.algorithm).toBe('SHA1');
    expect(device.controlMode).toBe('ACM');
  }, 60_000);

  it('fails with HASH_NOT_TRUSTED and leaves the device in setup when it trusts no configured root', async () => {
    const device = await setupDevice('pc-bm3', '127.78.0.13', 'SHA256');
    device.update((img) => {
      img.certHashes = img.certHashes.slice(1);
    });
    await sendHello(device, helloPort(server));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec).toMatchObject({ status: 'failed', code: 'HASH_NOT_TRUSTED' });
    expect(device.state).toBe('In');
  }, 60_000);
});

function helloPort(server: ProvisioningServer): number {
  const e = server.events.find((x) => x.step === 'server.listening');
  return e!.detail.port as number;
}
