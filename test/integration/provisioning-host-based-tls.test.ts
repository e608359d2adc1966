/**
 * Secure host-based ("Local-PKI") ACM on real loopback sockets (reference §5.4): the reference
 * server + OS agent run CFG_StartConfigurationHBased, then mutual TLS to the device's local 16993
 * with the provisioning chain, pinning the device leaf to AMTCertHash, and GeneralSettings →
 * SetAdminAclEntryEx → SetMEBxPassword → CommitChanges.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import type { FirmwareProfileId } from '../../src/nvram/image.js';
import type { PortListeners } from '../../src/network/listeners.js';
import type { TestPki } from '../../src/pki/test-ca.js';
import { digestHa1 } from '../../src/provisioning/digest.js';
import type { HostBasedTlsAgent } from '../../src/provisioning/host-based.js';
import type { ProvisioningServer } from '../../src/provisioning/server.js';
import { WsmanClient } from '../../src/provisioning/wsman-client.js';
import { makeTestDevice } from '../fixtures/wsman/device.js';
import { startProvisioningRig, type ProvisioningRig } from '../helpers/provisioning-rig.js';

const ADMIN = 'Adm1n!pass';

describe('secure host-based ACM (TLS, StartConfigurationHBased) against the emulated device', () => {
  let pki: TestPki;
  let clock: VirtualClock;
  let listeners: PortListeners;
  let server: ProvisioningServer;
  let rig: ProvisioningRig;
  let devices: Map<string, AmtDevice>;

  beforeAll(async () => {
    rig = await startProvisioningRig({ reverseLookup: async () => 'pc.corp.example.test' });
    ({ pki, clock, listeners, server } = rig);
    devices = rig.devices;
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
  });

  async function device(id: string, address: string, profile: FirmwareProfileId = 'amt19'): Promise<AmtDevice> {
    const { device: d } = await makeTestDevice({
      deviceId: id,
      address,
      profile,
      clock,
      image: (img) => {
        img.certHashes = [{ name: 'amtemu test root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: true }, ...img.certHashes.slice(0, 8)];
      },
    });
    d.tlsCertificate = async () => (await listeners.tls.identity(d)).certDer;
    devices.set(address, d);
    return d;
  }

  const activate = (d: AmtDevice, agent: HostBasedTlsAgent = d.host) =>
    clock.track(server.activateHostBased({
      address: d.address!, port: listeners.tlsPort, localAddress: d.address!, lsa: d.host.getLocalSystemAccount().value!,
      mode: 'acm-tls', adminPassword: ADMIN, mebxPassword: 'Mebx!2pass', agent,
      chain: { chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem }, dnsSuffixList: ['corp.example.test'], timeoutMs: 10_000,
    }));
  const stepsOf = (d: AmtDevice) => server.events.filter((e) => e.deviceIp === d.address).map((e) => `${e.step}${e.ok ? '' : ` ✗ ${e.code} ${JSON.stringify(e.detail)}`}`);

  it.each(['amt19', 'amt15'] as const)('%s: Pre → Post/ACM over the local 16993 with the pinned chain', async (profile) => {
    const d = await device(`pc-hbtls-${profile}`, profile === 'amt19' ? '127.79.2.11' : '127.79.2.12', profile);
    const rec = await activate(d);
    const steps = stepsOf(d);
    expect(rec, steps.join('\n')).toMatchObject({ status: 'configured', controlMode: 'acm' });
    expect(steps).toEqual(['host-based.start', 'pthi.start-configuration-hbased', 'wsman.get-general-settings', 'wsman.set-admin-acl', 'wsman.set-mebx-password', 'wsman.commit-changes', 'pthi.get-control-mode', 'device.configured']);
    expect(d.state).toBe('Post');
    expect(d.controlMode).toBe('ACM');
    expect(d.nvram.adminAcl.digestHash).toBe(digestHa1('admin', d.nvram.digestRealm, ADMIN));
    expect(d.nvram.mebx).toEqual({ password: 'Mebx!2pass', passwordChanged: true });
    expect(d.nvram.auditRecord).toMatchObject({ kind: 'hostBasedACM', hostInitiated: true, certificateCn: pki.valid.leaf.cn, selectedHash: pki.rootHashes.sha256 });
    const tl = d.timeline.query({ deviceId: d.id });
    const start = tl.find((e) => e.type === 'host.StartConfigurationHBased')!;
    expect(start.data).toMatchObject({ status: 'SUCCESS', serverCertHash: createHash('sha256').update(pki.valid.leaf.der).digest('hex') });
    // The server pinned the device's own leaf: AMTCertHash is its SHA-256.
    expect(start.data['amtCertHash']).toBe((await listeners.tls.identity(d)).fingerprintSha256);
    expect(tl.find((e) => e.type === 'pkich.accepted')!.data).toMatchObject({ hostBased: true });
    expect(tl.filter((e) => e.type === 'lifecycle.transition').map((e) => e.data['reason'])).toEqual(['startConfigurationHBased', 'hostBasedACM']);
    expect(tl.filter((e) => e.type === 'hello.sent')).toHaveLength(0);
    // §5.4: the commit restarts the local port stack; the answer never arrives, the server does
    // not re-send CommitChanges, and reads the control mode over the host interface instead.
    expect(tl.filter((e) => e.type === 'wsman.connection-dropped')).toHaveLength(1);
    expect(tl.filter((e) => e.type === 'wsman.AMT_SetupAndConfigurationService.CommitChanges')).toHaveLength(1);
    expect(server.events.find((e) => e.deviceIp === d.address && e.step === 'wsman.commit-changes')!.detail).toMatchObject({ connectionDropped: true });
  }, 60_000);

  it('amt12 (before CSME 14) refuses StartConfigurationHBased: NOT_PERMITTED, device stays in Pre', async () => {
    const d = await device('pc-hbtls-12', '127.79.2.13', 'amt12');
    const rec = await activate(d);
    expect(rec).toMatchObject({ status: 'failed', code: 'PTHI_STATUS' });
    expect(d.timeline.query({ deviceId: d.id, type: 'host.StartConfigurationHBased' })[0]!.code).toBe('NOT_PERMITTED');
    expect(d.state).toBe('Pre');
  }, 60_000);

  it('a server leaf other than the pinned one: the device drops the session (SERVER_CERT_HASH_MISMATCH), the agent stops configuration', async () => {
    const d = await device('pc-hbtls-pin', '127.79.2.14');
    const wrongPin: HostBasedTlsAgent = {
      startConfigurationHBased: (req) => d.host.startConfigurationHBased({ ...req, serverCertHash: createHash('sha256').update('someone else').digest() }),
      stopConfiguration: () => d.host.stopConfiguration(),
    };
    const rec = await activate(d, wrongPin);
    expect(rec.status, stepsOf(d).join('\n')).toBe('failed');
    const rejected = d.timeline.query({ deviceId: d.id, type: 'pkich.rejected' });
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]!.code).toBe('SERVER_CERT_HASH_MISMATCH');
    expect(stepsOf(d)).toContain('pthi.stop-configuration');
    expect(d.state).toBe('Pre');
    expect(d.controlMode).toBe('none');
  }, 60_000);

  it('the server refuses a device leaf that is not AMTCertHash (WSMAN_CERT_PIN_MISMATCH)', async () => {
    const d = await device('pc-hbtls-dev', '127.79.2.15');
    const lying: HostBasedTlsAgent = {
      startConfigurationHBased: async (req) => {
        const r = await d.host.startConfigurationHBased(req);
        return r.value ? { status: r.status, value: { ...r.value, amtCertHash: Buffer.alloc(32, 7) } } : r;
      },
      stopConfiguration: () => d.host.stopConfiguration(),
    };
    const rec = await activate(d, lying);
    expect(rec).toMatchObject({ status: 'failed', code: 'WSMAN_CERT_PIN_MISMATCH' });
    expect(d.state).toBe('Pre');
  }, 60_000);

  it('a remote peer cannot reach 16993 during the host-based window (reset), even with the pinned chain', async () => {
    const d = await device('pc-hbtls-remote', '127.79.2.16');
    const r = await d.host.startConfigurationHBased({ serverHashAlgorithm: 2, serverCertHash: createHash('sha256').update(pki.valid.leaf.der).digest(), hostVpnEnable: false, dnsSuffixList: [] });
    expect(r.status).toBe(0);
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = net.connect({ host: d.address!, port: listeners.tlsPort, localAddress: '127.79.2.99' });
      socket.on('error', (e) => resolve(e));
      const s = tls.connect({ socket, cert: pki.valid.chainPem, key: pki.valid.keyPem, rejectUnauthorized: false }, () => {
        s.destroy();
        resolve(undefined);
      });
      s.on('error', (e) => resolve(e));
    });
    expect(err?.code).toMatch(/ECONNRESET|EPIPE/);
    expect(d.timeline.query({ deviceId: d.id, type: 'tls.handshake' })).toHaveLength(0);
    expect(d.state).toBe('In');
  }, 60_000);

  it('CommitChanges without the MEBx password answers 2057 DATA_MISSING and leaves the device in setup', async () => {
    const d = await device('pc-hbtls-2057', '127.79.2.17');
    const leafHash = createHash('sha256').update(pki.valid.leaf.der).digest();
    const r = await d.host.startConfigurationHBased({ serverHashAlgorithm: 2, serverCertHash: leafHash, hostVpnEnable: false, dnsSuffixList: [] });
    const lsa = d.host.getLocalSystemAccount().value!;
    const c = new WsmanClient({
      host: d.address!, port: listeners.tlsPort, localAddress: d.address!, username: lsa.username, password: lsa.password,
      tls: { certPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, pinLeaf: { algorithm: 'sha256', hash: r.value!.amtCertHash.toString('hex') } }, timeoutMs: 10_000,
    });
    try {
      const g = await c.get(c.amt.GeneralSettings.Get(), 'AMT_GeneralSettings');
      const acl = await c.invoke(c.amt.AuthorizationService.SetAdminACLEntryEx('admin', digestHa1('admin', g.DigestRealm!, ADMIN)), 'SetAdminAclEntryEx');
      expect(acl.returnValue).toBe(0);
      const commit = await c.invoke(c.amt.SetupAndConfigurationService.CommitChanges(), 'CommitChanges');
      expect(commit.returnValue).toBe(2057);
    } finally {
      c.close();
    }
    expect(d.state).toBe('In');
  }, 60_000);
});
