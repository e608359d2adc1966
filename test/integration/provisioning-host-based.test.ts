/**
 * RPS-style host-based activation (reference §5.2) against the emulated device's local port:
 * the connection comes from the device's own address (the host OS through LMS) with the Local
 * System Account, and the TLS-profile variant of remote configuration (§1.3 step 5.5).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import type { PortListeners } from '../../src/network/listeners.js';
import { issueCertificate } from '../../src/pki/cert-builder.js';
import { generateRsaKeyPair } from '../../src/pki/keys.js';
import type { TestPki } from '../../src/pki/test-ca.js';
import { digestHa1 } from '../../src/provisioning/digest.js';
import type { ProvisioningServer } from '../../src/provisioning/server.js';
import { makeTestDevice } from '../fixtures/wsman/device.js';
import { startProvisioningRig, type ProvisioningRig } from '../helpers/provisioning-rig.js';

const ADMIN = 'Adm1n!pass';
const HOUR = 3_600_000;

describe('host-based activation and TLS setup against the emulated device', () => {
  let pki: TestPki;
  let clock: VirtualClock;
  let listeners: PortListeners;
  let server: ProvisioningServer;
  let rig: ProvisioningRig;
  let devices: Map<string, AmtDevice>;

  beforeAll(async () => {
    rig = await startProvisioningRig(async ({ clock: c }) => ({ reverseLookup: async () => 'pc.corp.example.test', profiles: [{ name: 'tls', adminPassword: ADMIN, mebxPassword: 'Mebx!2pass', tls: true }], tlsCa: await tlsCa(c.date()) }));
    ({ pki, clock, listeners, server } = rig);
    devices = rig.devices;
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
  });

  async function device(id: string, address: string, profile: 'amt12' | 'amt16' = 'amt16'): Promise<AmtDevice> {
    const { device: d } = await makeTestDevice({
      deviceId: id,
      address,
      profile,
      clock,
      image: (img) => {
        img.certHashes = [{ name: 'amtemu test root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: true }, ...img.certHashes.slice(0, 8)];
      },
    });
    devices.set(address, d);
    return d;
  }

  it('CCM: Setup(2, md5hex) with the LSA over the local port', async () => {
    const d = await device('pc-hb1', '127.79.0.11', 'amt12');
    const lsa = d.host.getLocalSystemAccount().value!;
    const rec = await clock.track(server.activateHostBased({ address: d.address!, port: listeners.httpPort, localAddress: d.address!, lsa, mode: 'ccm', adminPassword: ADMIN, timeoutMs: 10_000 }));
    expect(rec, JSON.stringify(server.events.filter((e) => e.deviceIp === d.address))).toMatchObject({ status: 'configured', controlMode: 'ccm' });
    expect(d.state).toBe('Post');
    expect(d.controlMode).toBe('CCM');
    expect(d.nvram.adminAcl.digestHash).toBe(digestHa1('admin', d.nvram.digestRealm, ADMIN));
  }, 60_000);

  it('ACM: AddNextCertInChain leaf…root, then AdminSetup with the signed nonces', async () => {
    const d = await device('pc-hb2', '127.79.0.12', 'amt12');
    const lsa = d.host.getLocalSystemAccount().value!;
    const rec = await clock.track(server.activateHostBased({
      address: d.address!, port: listeners.httpPort, localAddress: d.address!, lsa, mode: 'acm', adminPassword: ADMIN,
      chain: { chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem }, timeoutMs: 10_000,
    }));
    const steps = server.events.filter((e) => e.deviceIp === d.address).map((e) => `${e.step}${e.ok ? '' : ` ✗ ${e.code} ${JSON.stringify(e.detail)}`}`);
    expect(rec, steps.join('\n')).toMatchObject({ status: 'configured', controlMode: 'acm' });
    expect(steps.filter((s) => s === 'ips.add-next-cert-in-chain')).toHaveLength(pki.valid.chain.length);
    expect(d.controlMode).toBe('ACM');
  }, 60_000);

  it('ACM with a wrong LSA password fails with WSMAN_AUTH_FAILED and leaves the device alone', async () => {
    const d = await device('pc-hb3', '127.79.0.13', 'amt12');
    const lsa = d.host.getLocalSystemAccount().value!;
    const rec = await clock.track(server.activateHostBased({
      address: d.address!, port: listeners.httpPort, localAddress: d.address!, lsa: { ...lsa, password: 'nope' }, mode: 'acm', adminPassword: ADMIN,
      chain: { chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem }, timeoutMs: 10_000,
    }));
    expect(rec).toMatchObject({ status: 'failed', code: 'WSMAN_AUTH_FAILED' });
    expect(d.state).toBe('Pre');
  }, 60_000);

  it('remote configuration with a TLS profile: key pair, signed certificate, TLS on the remote port', async () => {
    const d = await device('pc-tls', '127.79.0.14');
    d.update((img) => {
      img.provisioning.state = 'In';
      img.mebx = { password: 'Mebx!0ld', passwordChanged: true };
    });
    d.openWindow('bareMetal', 24 * HOUR, 'test');
    const bytes = d.buildHello(0);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: server.events.find((e) => e.step === 'server.listening')!.detail.port as number, localAddress: d.address! }, () => s.end(bytes));
      s.on('error', reject);
      s.on('close', () => resolve());
    });
    for (let i = 0; i < 400; i++) {
      const r = server.record(d.address!);
      if (r && r.status !== 'in-progress') break;
      await clock.advance(250);
      await new Promise((r2) => setTimeout(r2, 5));
    }
    const steps = server.events.filter((e) => e.deviceIp === d.address).map((e) => `${e.step}${e.ok ? '' : ` ✗ ${e.code} ${JSON.stringify(e.detail)}`}`);
    expect(server.record(d.address!), steps.join('\n')).toMatchObject({ status: 'configured' });
    expect(steps).toEqual(expect.arrayContaining(['tls.generate-key-pair', 'tls.add-certificate', 'tls.create-credential-context', 'tls.put-remote-settings']));
    expect(d.nvram.tls.remote.enabled).toBe(true);
    expect(d.controlMode).toBe('ACM');
  }, 60_000);
});

/** A CA that signs device TLS certificates (MeshCentral uses its own root for this). */
async function tlsCa(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateRsaKeyPair(2048);
  const name = { cn: 'amtemu TLS CA', o: 'amtemu test' };
  const cert = issueCertificate({ subject: name, subjectKey: key, notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 3650 * 86_400_000), ca: true });
  return { certPem: cert.pem, keyPem: key.privateKeyPem };
}
