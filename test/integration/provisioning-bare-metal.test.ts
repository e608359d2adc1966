/**
 * End to end on loopback: an emulated device in setup state says hello to our provisioning
 * server, which reaches it only over the network (mutual TLS to the device's 16993 listener with
 * the test PKI's Client Setup chain) and configures it into ACM (reference §1.3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import { digestHa1 } from '../../src/provisioning/digest.js';
import type { PortListeners } from '../../src/network/listeners.js';
import type { TestPki } from '../../src/pki/test-ca.js';
import type { ProvisioningServer } from '../../src/provisioning/server.js';
import { WsmanClient } from '../../src/provisioning/wsman-client.js';
import { makeTestDevice } from '../fixtures/wsman/device.js';
import { runUntilDone, sendHelloFrom, startProvisioningRig, type ProvisioningRig } from '../helpers/provisioning-rig.js';

const ADMIN = 'Adm1n!pass';
const MEBX = 'Mebx!2pass';
const HOUR = 3_600_000;

describe('bare-metal remote configuration against the emulated device', () => {
  let pki: TestPki;
  let clock: VirtualClock;
  let listeners: PortListeners;
  let server: ProvisioningServer;
  let rig: ProvisioningRig;
  let devices: Map<string, AmtDevice>;

  beforeAll(async () => {
    rig = await startProvisioningRig({ profiles: [{ name: 'acm', adminPassword: ADMIN, mebxPassword: MEBX, tls: false }] });
    ({ pki, clock, listeners, server } = rig);
    devices = rig.devices;
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
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
    await sendHelloFrom(device.address!, rig.helloPort, device.buildHello(0));
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
    await sendHelloFrom(device.address!, rig.helloPort, device.buildHello(0));
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
    await sendHelloFrom(device.address!, rig.helloPort, device.buildHello(0));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec).toMatchObject({ status: 'failed', code: 'HASH_NOT_TRUSTED' });
    expect(device.state).toBe('In');
  }, 60_000);
});
