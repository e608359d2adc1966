/**
 * Every request @device-management-toolkit/wsman-messages (the RPS/MPS request builder, peers
 * §3.2) builds for the classes the emulator models is accepted over HTTP digest and answered
 * with a well-formed envelope; methods answer a ReturnValue (no fault unless the state demands).
 */
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { issueCertificate } from '../../src/pki/cert-builder.js';
import { generateRsaKeyPair, rsaKeyPairFromPem } from '../../src/pki/keys.js';
import { readBody, type Parsed } from '../fixtures/wsman/call.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { DigestClient } from '../fixtures/wsman/digest-client.js';

const PASS = 'Adm1n!pass';
const amt = new AMT.Messages();
const ips = new IPS.Messages();
const cim = new CIM.Messages();

describe('wsman-messages request corpus', () => {
  let device: AmtDevice;
  let listeners: PortListeners;
  let client: DigestClient;

  beforeAll(async () => {
    device = (await makeTestDevice({ deviceId: 'wm1', address: '127.77.3.1', profile: 'amt12', image: provisionedImage(PASS) })).device;
    listeners = new PortListeners({ lookup: (a) => (a === device.address ? device : undefined), httpPort: 0, tlsPort: 0 });
    await listeners.start();
    client = new DigestClient({ host: device.address!, port: listeners.httpPort }, 'admin', PASS);
  });
  afterAll(async () => {
    await listeners?.stop();
  });

  async function send(xml: string): Promise<Parsed> {
    const r = await client.post(xml);
    expect(XMLValidator.validate(r.body), r.body.slice(0, 300)).toBe(true);
    expect(r.body, /<a:Text[^>]*>([^<]*)/.exec(r.body)?.[1] ?? '').not.toContain(':Fault>');
    expect(r.status).toBe(200);
    return readBody(r.body);
  }
  async function method(xml: string, name: string): Promise<Parsed> {
    const out = (await send(xml))[`${name}_OUTPUT`] as Parsed;
    expect(out, name).toBeDefined();
    expect(out['ReturnValue'], name).toMatch(/^\d+$/);
    return out;
  }
  async function getEnumPull(cls: { Get?: (...a: never[]) => string; Enumerate: () => string; Pull: (c: string) => string }, name: string): Promise<Parsed[]> {
    if (cls.Get) expect(Object.keys(await send((cls.Get as () => string)()))).toContain(name);
    const e = await send(cls.Enumerate());
    const ctx = (e['EnumerateResponse'] as Parsed)['EnumerationContext'] as string;
    expect(ctx).toMatch(/^[0-9A-F]{8}-0000-0000-0000-000000000000$/);
    const p = await send(cls.Pull(ctx));
    const items = ((p['PullResponse'] as Parsed)['Items'] ?? {}) as Parsed;
    const list = items[name];
    return list === undefined ? [] : ((Array.isArray(list) ? list : [list]) as Parsed[]);
  }

  it('read side: Get / Enumerate / Pull for every modelled class', async () => {
    const gs = await getEnumPull(amt.GeneralSettings, 'AMT_GeneralSettings');
    expect(gs[0]?.['DigestRealm']).toBe(device.nvram.digestRealm);
    expect(await getEnumPull(amt.SetupAndConfigurationService, 'AMT_SetupAndConfigurationService')).toHaveLength(1);
    expect(await getEnumPull(amt.AuthorizationService, 'AMT_AuthorizationService')).toHaveLength(1);
    expect(await getEnumPull(amt.EthernetPortSettings as never, 'AMT_EthernetPortSettings')).toHaveLength(1);
    expect(await getEnumPull(amt.TimeSynchronizationService, 'AMT_TimeSynchronizationService')).toHaveLength(1);
    expect(await getEnumPull({ Enumerate: amt.TLSSettingData.Enumerate, Pull: amt.TLSSettingData.Pull }, 'AMT_TLSSettingData')).toHaveLength(2);
    // Two instances: Get needs the InstanceID selector.
    const lms = (await send(amt.TLSSettingData.Get({ name: 'InstanceID', value: 'Intel(r) AMT LMS TLS Settings' } as never)))['AMT_TLSSettingData'] as Parsed;
    expect(lms['InstanceID']).toBe('Intel(r) AMT LMS TLS Settings');
    expect(await getEnumPull({ Enumerate: amt.PublicKeyCertificate.Enumerate, Pull: amt.PublicKeyCertificate.Pull }, 'AMT_PublicKeyCertificate')).toHaveLength(0);
    expect(await getEnumPull({ Enumerate: amt.PublicPrivateKeyPair.Enumerate, Pull: amt.PublicPrivateKeyPair.Pull }, 'AMT_PublicPrivateKeyPair')).toHaveLength(0);
    expect(await getEnumPull({ Enumerate: amt.TLSCredentialContext.Enumerate, Pull: amt.TLSCredentialContext.Pull }, 'AMT_TLSCredentialContext')).toHaveLength(0);
    expect(await getEnumPull(ips.HostBasedSetupService, 'IPS_HostBasedSetupService')).toHaveLength(1);
    expect((await getEnumPull({ Enumerate: cim.SoftwareIdentity.Enumerate, Pull: cim.SoftwareIdentity.Pull }, 'CIM_SoftwareIdentity')).length).toBeGreaterThan(5);
    const pkg = await getEnumPull(cim.ComputerSystemPackage as never, 'CIM_ComputerSystemPackage');
    expect(pkg[0]?.['PlatformGUID']).toMatch(/^[0-9A-F]{32}$/);
  });

  it('methods and Puts change state that later reads show', async () => {
    expect((await method(amt.SetupAndConfigurationService.GetUuid(), 'GetUuid'))['UUID']).toBeTruthy();
    expect((await method(amt.SetupAndConfigurationService.SetMEBXPassword('Mebx!Pass2'), 'SetMEBxPassword'))['ReturnValue']).toBe('0');
    expect(device.nvram.mebx.password).toBe('Mebx!Pass2');
    expect((await method(amt.AuthorizationService.GetAdminAclEntry(), 'GetAdminAclEntry'))['Username']).toBe('admin');
    await method(amt.AuthorizationService.GetAdminAclEntryStatus(), 'GetAdminAclEntryStatus');
    await method(amt.AuthorizationService.GetAdminNetAclEntryStatus(), 'GetAdminNetAclEntryStatus');
    const ta0 = Number((await method(amt.TimeSynchronizationService.GetLowAccuracyTimeSynch(), 'GetLowAccuracyTimeSynch'))['Ta0']);
    expect((await method(amt.TimeSynchronizationService.SetHighAccuracyTimeSynch(ta0, ta0 + 100, ta0 + 100), 'SetHighAccuracyTimeSynch'))['ReturnValue']).toBe('0');

    const gs = (await send(amt.GeneralSettings.Get()))['AMT_GeneralSettings'] as Parsed;
    await send(amt.GeneralSettings.Put({ ...gs, HostName: 'wm-renamed' } as never));
    expect(((await send(amt.GeneralSettings.Get()))['AMT_GeneralSettings'] as Parsed)['HostName']).toBe('wm-renamed');

    const eth = (await send(amt.EthernetPortSettings.Get({ name: 'InstanceID', value: 'Intel(r) AMT Ethernet Port Settings 0' } as never)))['AMT_EthernetPortSettings'] as Parsed;
    await send(amt.EthernetPortSettings.Put({ ...eth, SharedStaticIp: true } as never));
    expect(((await send(amt.EthernetPortSettings.Get({ name: 'InstanceID', value: 'Intel(r) AMT Ethernet Port Settings 0' } as never)))['AMT_EthernetPortSettings'] as Parsed)['SharedStaticIp']).toBe('true');

    // Certificate store and TLS, in MeshCentral's order (reference §1.3 step 5.5).
    expect((await method(amt.PublicKeyManagementService.GenerateKeyPair({ KeyAlgorithm: 0, KeyLength: 2048 } as never), 'GenerateKeyPair'))['ReturnValue']).toBe('0');
    const caKey = await generateRsaKeyPair(2048);
    const now = device.clock.date();
    const ca = issueCertificate({ subject: { cn: 'wsman-messages CA' }, subjectKey: caKey, notBefore: now, notAfter: new Date(now.getTime() + 86_400_000), ca: true });
    expect((await method(amt.PublicKeyManagementService.AddTrustedRootCertificate({ CertificateBlob: ca.der.toString('base64') } as never), 'AddTrustedRootCertificate'))['ReturnValue']).toBe('0');
    const devKey = rsaKeyPairFromPem(device.nvram.tls.keyPairs[0]!.privateKeyPem);
    const leaf = issueCertificate({ subject: { cn: 'wm-renamed' }, subjectKey: devKey, issuer: { name: { cn: 'wsman-messages CA' }, key: caKey }, notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) });
    expect((await method(amt.PublicKeyManagementService.AddCertificate({ CertificateBlob: leaf.der.toString('base64') } as never), 'AddCertificate'))['ReturnValue']).toBe('0');
    expect((await method(amt.PublicKeyManagementService.AddKey('AAAA'), 'AddKey'))['ReturnValue']).toBe('36');
    const certs = await getEnumPull({ Enumerate: amt.PublicKeyCertificate.Enumerate, Pull: amt.PublicKeyCertificate.Pull }, 'AMT_PublicKeyCertificate');
    expect(certs.map((c) => c['TrustedRootCertficate'])).toEqual(['true', 'false']);
    const leafId = certs[1]!['InstanceID'] as string;
    await send(amt.TLSCredentialContext.Create(leafId));
    await send(amt.TLSSettingData.Put({ ElementName: 'Intel(r) AMT 802.3 TLS Settings', InstanceID: 'Intel(r) AMT 802.3 TLS Settings', Enabled: true, MutualAuthentication: false, AcceptNonSecureConnections: true } as never));
    expect((await method(amt.SetupAndConfigurationService.CommitChanges(), 'CommitChanges'))['ReturnValue']).toBe('0');
    expect(device.nvram.tls.remote.enabled).toBe(true);
    await send(amt.TLSCredentialContext.Delete({ name: 'InstanceID', value: leafId } as never));
    await send(amt.PublicKeyCertificate.Delete({ name: 'InstanceID', value: certs[0]!['InstanceID'] as string } as never));
    await send(amt.PublicPrivateKeyPair.Delete({ name: 'InstanceID', value: device.nvram.tls.keyPairs[0]!.instanceId } as never));
    expect(device.nvram.tls.keyPairs).toHaveLength(0);
    expect(device.nvram.tls.certificates).toHaveLength(1);

    // Host-based setup methods on a configured ACM device: well-formed refusals (InvalidState).
    expect((await method(ips.HostBasedSetupService.Setup(2, 'a'.repeat(32)), 'Setup'))['ReturnValue']).toBe('2');
    expect((await method(ips.HostBasedSetupService.AddNextCertInChain(ca.der.toString('base64'), true, false), 'AddNextCertInChain'))['ReturnValue']).toBe('3');
    expect((await method(ips.HostBasedSetupService.AdminSetup(2, 'a'.repeat(32), Buffer.alloc(20).toString('base64'), 2, 'AAAA'), 'AdminSetup'))['ReturnValue']).toBe('2');
    expect((await method(ips.HostBasedSetupService.UpgradeClientToAdmin(Buffer.alloc(20).toString('base64'), 2, 'AAAA'), 'UpgradeClientToAdmin'))['ReturnValue']).toBe('2');

    expect((await method(amt.AuthorizationService.SetAdminACLEntryEx('admin', 'b'.repeat(32)), 'SetAdminAclEntryEx'))['ReturnValue']).toBe('0');
    expect(device.nvram.adminAcl.digestHash).toBe('b'.repeat(32));
  });

  it('Unprovision(1) from the library returns the device to factory state', async () => {
    const d = (await makeTestDevice({ deviceId: 'wm2', address: '127.77.3.2', profile: 'amt12', image: provisionedImage(PASS) })).device;
    const l = new PortListeners({ lookup: (a) => (a === d.address ? d : undefined), httpPort: 0, tlsPort: 0 });
    await l.start();
    try {
      const c = new DigestClient({ host: d.address!, port: l.httpPort }, 'admin', PASS);
      const r = await c.post(amt.SetupAndConfigurationService.Unprovision(1));
      expect(r.status).toBe(200);
      expect(r.body).toContain('<g:ReturnValue>0</g:ReturnValue>');
      expect(d.state).toBe('Pre');
    } finally {
      await l.stop();
    }
  });
});
