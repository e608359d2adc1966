/**
 * TLS-PSK remote configuration on loopback (seed 001/002, issue 10 item 1): a device with PID/PPS
 * in NVRAM says a PSK hello (version 2, reference §1.2); the reference provisioning server looks
 * the PPS up by PID and opens TLS-PSK to the device's 16993 (identity = PID, key = PPS), then runs
 * the same WS-Man steps as PKI remote configuration. Wrong pairs and profiles without PSK fail
 * with codes on both sides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import { encodeHelloV2 } from '../../src/device/hello.js';
import type { PortListeners } from '../../src/network/listeners.js';
import type { FirmwareProfileId } from '../../src/nvram/image.js';
import { digestHa1 } from '../../src/provisioning/digest.js';
import type { ProvisioningServer } from '../../src/provisioning/server.js';
import { makeTestDevice } from '../fixtures/wsman/device.js';
import { runUntilDone, sendHelloFrom, startProvisioningRig, type ProvisioningRig } from '../helpers/provisioning-rig.js';

const ADMIN = 'Adm1n!pass';
const MEBX = 'Mebx!2pass';
const HOUR = 3_600_000;
const PID = 'PSK1-0001';
const PPS = 'ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789';

describe('TLS-PSK remote configuration (PID/PPS)', () => {
  let clock: VirtualClock;
  let listeners: PortListeners;
  let server: ProvisioningServer;
  let helloPort = 0;
  let rig: ProvisioningRig;
  let devices: Map<string, AmtDevice>;

  beforeAll(async () => {
    rig = await startProvisioningRig({
      profiles: [{ name: 'psk', adminPassword: ADMIN, mebxPassword: MEBX, tls: false }],
      chains: [],
      pskPairs: [
        { pid: PID, pps: PPS },
        // Same PID as pc-psk3's but a different PPS: the device must refuse the key.
        { pid: 'PSK1-0003', pps: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ' },
      ],
    });
    ({ clock, listeners, server } = rig);
    devices = rig.devices;
    helloPort = rig.helloPort;
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
  });

  async function pskDevice(id: string, address: string, profile: FirmwareProfileId, pid = PID, pps = PPS): Promise<AmtDevice> {
    const { device } = await makeTestDevice({ deviceId: id, address, profile, clock, image: (img) => { img.mebx = { password: 'Mebx!0ld', passwordChanged: true }; } });
    device.setPidPps(pid, pps); // factory → setup (seed 002: PID/PPS entered in MEBx or by the OEM)
    devices.set(address, device);
    device.openWindow('bareMetal', 24 * HOUR, 'test: power-on in setup');
    return device;
  }

  const steps = (ip: string) => server.events.filter((e) => e.deviceIp === ip).map((e) => `${e.step}${e.ok ? '' : ` ✗ ${e.code}`}`);

  it('amt6: PSK hello, TLS-PSK on 16993 with the right pair, configured into ACM with a psk audit record', async () => {
    const device = await pskDevice('pc-psk1', '127.79.0.11', 'amt6');
    const hello = device.buildHello(0);
    expect(hello.readUInt16LE(2)).toBe(2);
    await sendHelloFrom(device.address!, helloPort, hello);
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec, steps(device.address!).join('\n')).toMatchObject({ status: 'configured', controlMode: 'acm' });
    expect(steps(device.address!)).toEqual(expect.arrayContaining(['hello.received', 'psk.pair-found', 'wsman.set-mebx-password', 'wsman.commit-changes', 'device.configured']));
    expect([device.state, device.controlMode]).toEqual(['Post', 'ACM']);
    expect(device.nvram.auditRecord).toMatchObject({ kind: 'psk', provServerIp: '127.0.0.1' });
    expect(device.nvram.adminAcl.digestHash).toBe(digestHa1('admin', device.nvram.digestRealm, ADMIN));
    const hs = device.timeline.query({ deviceId: device.id, type: 'tls.handshake' })[0]!;
    expect(String(hs.data.cipher)).toMatch(/PSK/);
    expect(device.timeline.query({ deviceId: device.id, type: 'pskch.accepted' })[0]!.data).toMatchObject({ identity: 'PSK10001' });
  }, 60_000);

  it('amt3 (TLS 1.0 only) is configured the same way', async () => {
    const device = await pskDevice('pc-psk2', '127.79.0.12', 'amt3');
    await sendHelloFrom(device.address!, helloPort, device.buildHello(0));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec, steps(device.address!).join('\n')).toMatchObject({ status: 'configured' });
    expect(device.timeline.query({ deviceId: device.id, type: 'tls.handshake' })[0]!.data.protocol).toBe('TLSv1');
  }, 60_000);

  it('a wrong PPS fails the handshake: PSK_MISMATCH on the device, the device stays in setup', async () => {
    const device = await pskDevice('pc-psk3', '127.79.0.13', 'amt6', 'PSK1-0003');
    await sendHelloFrom(device.address!, helloPort, device.buildHello(0));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec).toMatchObject({ status: 'failed', code: 'WSMAN_TLS_FAILED' });
    expect(device.timeline.query({ deviceId: device.id, type: 'pskch.rejected' }).map((e) => e.code)).toContain('PSK_MISMATCH');
    expect(device.state).toBe('In');
    expect(device.remoteSession).toBeUndefined();
  }, 60_000);

  it('an unknown PID is refused by the server (PSK_UNKNOWN_PID) before any TLS', async () => {
    const device = await pskDevice('pc-psk4', '127.79.0.14', 'amt6', 'NOPE-0000');
    await sendHelloFrom(device.address!, helloPort, device.buildHello(0));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec).toMatchObject({ status: 'failed', code: 'PSK_UNKNOWN_PID' });
    expect(device.timeline.query({ deviceId: device.id, type: 'tls.' })).toHaveLength(0);
  }, 60_000);

  it('a profile without TLS-PSK (amt16) refuses the PSK session with PSK_NOT_SUPPORTED and sends PKI hellos', async () => {
    const device = await pskDevice('pc-psk5', '127.79.0.15', 'amt16');
    expect(device.buildHello(0).readUInt16LE(2)).toBe(3); // reference §1.2: PSK hello removed in AMT 11
    // A PSK hello forged for this device's UUID and PID: the server tries TLS-PSK, the firmware refuses.
    await sendHelloFrom(device.address!, helloPort, encodeHelloV2({ adminCredentialsSet: true, retryCount: 0, uuid: device.nvram.uuid, pid: PID }));
    const rec = await runUntilDone(clock, server, device.address!);
    expect(rec).toMatchObject({ status: 'failed', code: 'WSMAN_TLS_FAILED' });
    expect(device.timeline.query({ deviceId: device.id, type: 'pskch.rejected' }).map((e) => e.code)).toEqual(['PSK_NOT_SUPPORTED']);
    expect(device.state).toBe('In');
  }, 60_000);
});
