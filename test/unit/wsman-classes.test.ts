import { sign } from 'node:crypto';
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { beforeAll, describe, expect, it } from 'vitest';
import { digestHa1 } from '../../src/device/http/digest.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { makeTestDevice, provisionedImage, VirtualClock } from '../fixtures/wsman/device.js';
import { output, WsmanHarness, type Parsed } from '../fixtures/wsman/call.js';

const amt = new AMT.Messages();
const ips = new IPS.Messages();
const cim = new CIM.Messages();
const PASS = 'Adm1n!pass';

async function harness(opts: Parameters<typeof makeTestDevice>[0] = {}) {
  const t = await makeTestDevice({ profile: 'amt15', ...opts });
  return { ...t, h: new WsmanHarness(t.device) };
}

describe('AMT_GeneralSettings', () => {
  it('Get shows the realm and InstanceID; Put HostName changes NVRAM and the next Get', async () => {
    const { h, device } = await harness({ image: provisionedImage(PASS) });
    const g = await h.call(amt.GeneralSettings.Get());
    expect(g.status).toBe(200);
    const gs = g.body['AMT_GeneralSettings'] as Parsed;
    expect(gs['InstanceID']).toBe('Intel(r) AMT: General Settings');
    expect(gs['DigestRealm']).toMatch(/^Digest:[0-9A-F]{32}$/);
    const put = await h.call(amt.GeneralSettings.Put({ ...gs, HostName: 'renamed-pc', PingResponseEnabled: false } as never));
    expect(put.status).toBe(200);
    expect(device.nvram.network.hostname).toBe('renamed-pc');
    const g2 = (await h.call(amt.GeneralSettings.Get())).body['AMT_GeneralSettings'] as Parsed;
    expect(g2['HostName']).toBe('renamed-pc');
    expect(g2['PingResponseEnabled']).toBe('false');
    const bad = await h.call(amt.GeneralSettings.Put({ HostName: 'bad name!' } as never));
    expect(bad.status).toBe(400);
  });
});

describe('CIM_SoftwareIdentity', () => {
  it('enumerates the AMT instance with the firmware version', async () => {
    const { h, device } = await harness();
    const items = await h.enumerate(cim.SoftwareIdentity.Enumerate(), (c) => cim.SoftwareIdentity.Pull(c));
    const amtItem = items.find((i) => i['InstanceID'] === 'AMT');
    expect(amtItem?.['VersionString']).toBe(device.nvram.firmware.version.split('.').slice(0, 3).join('.'));
    expect(items.find((i) => i['InstanceID'] === 'Flash')?.['VersionString']).toBe(device.nvram.firmware.version);
  });
});

describe('AMT_SetupAndConfigurationService', () => {
  it('SetMEBxPassword: 16 in Pre, 2054 for a weak password, 0 in Post (NVRAM changed)', async () => {
    const pre = await harness();
    expect(output(await pre.h.call(amt.SetupAndConfigurationService.SetMEBXPassword('Str0ng!pass')), 'SetMEBxPassword')['ReturnValue']).toBe('16');
    const { h, device, timeline } = await harness({ image: provisionedImage(PASS) });
    expect(output(await h.call(amt.SetupAndConfigurationService.SetMEBXPassword('weak')), 'SetMEBxPassword')['ReturnValue']).toBe('2054');
    expect(output(await h.call(amt.SetupAndConfigurationService.SetMEBXPassword('Str0ng!pass')), 'SetMEBxPassword')['ReturnValue']).toBe('0');
    expect(device.nvram.mebx.password).toBe('Str0ng!pass');
    expect(timeline.query({ type: 'wsman.AMT_SetupAndConfigurationService.SetMEBxPassword' }).map((e) => e.data['returnValue'])).toEqual([2054, 0]);
  });

  it('Get reports ProvisioningState; Unprovision(1) returns the device to Pre', async () => {
    const { h, device } = await harness({ image: provisionedImage(PASS) });
    const s = (await h.call(amt.SetupAndConfigurationService.Get())).body['AMT_SetupAndConfigurationService'] as Parsed;
    expect(s['ProvisioningState']).toBe('2');
    // From release 7 ProvisioningMode is the control mode: 1 ACM (reference §0 fixture), 4 CCM.
    expect(s['ProvisioningMode']).toBe('1');
    expect(s['DhcpDNSSuffix']).toBe('corp.example.test');
    const u = await h.call(amt.SetupAndConfigurationService.Unprovision(1));
    expect(output(u, 'Unprovision')['ReturnValue']).toBe('0');
    expect(device.state).toBe('Pre');
    expect(device.nvram.adminAcl.digestHash).toBeUndefined();
    const s2 = (await h.call(amt.SetupAndConfigurationService.Get())).body['AMT_SetupAndConfigurationService'] as Parsed;
    expect(s2['ProvisioningState']).toBe('0');
  });

  it('GetUuid answers the SMBIOS UUID in wire byte order', async () => {
    const { h, device } = await harness();
    const out = output(await h.call(amt.SetupAndConfigurationService.GetUuid()), 'GetUuid');
    const b = Buffer.from(out['UUID'] as string, 'base64');
    expect(b.length).toBe(16);
    expect(b.subarray(8).toString('hex')).toBe(device.nvram.uuid.replace(/-/g, '').slice(16));
  });

  it('CommitChanges in setup state without a PKI session is refused (1)', async () => {
    const { h, device } = await harness({ image: (img) => { img.provisioning.state = 'In'; } });
    expect(output(await h.call(amt.SetupAndConfigurationService.CommitChanges()), 'CommitChanges')['ReturnValue']).toBe('1');
    expect(device.state).toBe('In');
  });
});

describe('AMT_AuthorizationService.SetAdminAclEntryEx', () => {
  it('stores hex (MeshCentral/RPS) and base64 raw MD5 (rpc-go) as the same hex hash', async () => {
    const { h, device } = await harness({ image: provisionedImage(PASS) });
    const want = digestHa1('admin', device.nvram.digestRealm, 'N3w!pass');
    expect(output(await h.call(amt.AuthorizationService.SetAdminACLEntryEx('admin', want)), 'SetAdminAclEntryEx')['ReturnValue']).toBe('0');
    expect(device.nvram.adminAcl.digestHash).toBe(want);
    const b64 = Buffer.from(digestHa1('admin', device.nvram.digestRealm, 'Other!pass1'), 'hex').toString('base64');
    expect(output(await h.call(amt.AuthorizationService.SetAdminACLEntryEx('admin', b64)), 'SetAdminAclEntryEx')['ReturnValue']).toBe('0');
    expect(device.nvram.adminAcl.digestHash).toBe(Buffer.from(b64, 'base64').toString('hex'));
    expect(output(await h.call(amt.AuthorizationService.SetAdminACLEntryEx('admin', 'nothex')), 'SetAdminAclEntryEx')['ReturnValue']).toBe('36');
  });
});

describe('IPS_HostBasedSetupService', () => {
  it('Get shows AllowedControlModes 2,1 and the nonce; Setup → CCM with the admin hash stored', async () => {
    const { h, device, timeline } = await harness();
    h.account = 'lsa';
    h.conn = { ...h.conn, origin: 'local' };
    const g = (await h.call(ips.HostBasedSetupService.Get())).body['IPS_HostBasedSetupService'] as Parsed;
    expect(g['AllowedControlModes']).toEqual(['2', '1']);
    expect(g['CurrentControlMode']).toBe('0');
    expect(Buffer.from(g['ConfigurationNonce'] as string, 'base64')).toHaveLength(20);
    const hash = digestHa1('admin', device.nvram.digestRealm, PASS);
    const r = await h.call(ips.HostBasedSetupService.Setup(2, hash));
    expect(output(r, 'Setup')['ReturnValue']).toBe('0');
    expect(device.state).toBe('Post');
    expect(device.controlMode).toBe('CCM');
    expect(device.nvram.adminAcl.digestHash).toBe(hash);
    const g2 = (await h.call(ips.HostBasedSetupService.Get())).body['IPS_HostBasedSetupService'] as Parsed;
    expect(g2['CurrentControlMode']).toBe('1');
    expect(g2['ConfigurationNonce']).not.toBe(g['ConfigurationNonce']);
    const sc = (await h.call(amt.SetupAndConfigurationService.Get())).body['AMT_SetupAndConfigurationService'] as Parsed;
    expect(sc['ProvisioningMode']).toBe('4');
    expect(output(await h.call(ips.HostBasedSetupService.Setup(2, hash)), 'Setup')['ReturnValue']).toBe('2');
    expect(timeline.query({ type: 'wsman.IPS_HostBasedSetupService.Setup' }).map((e) => e.data['returnValue'])).toEqual([0, 2]);
  });

  describe('ACM with a signed nonce', () => {
    let pki: TestPki;
    beforeAll(async () => {
      pki = await createTestPki({ variants: ['untrustedRoot'], now: new VirtualClock().date() });
    }, 60_000);

    async function acmHarness() {
      return harness({
        image: (img) => {
          img.certHashes.push({ name: 'amtemu test root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: true });
        },
      });
    }
    const inject = async (h: WsmanHarness, chain: Buffer[]) => {
      const rv: string[] = [];
      for (let i = 0; i < chain.length; i++) {
        const r = await h.call(ips.HostBasedSetupService.AddNextCertInChain(chain[i]!.toString('base64'), i === 0, i === chain.length - 1));
        rv.push(output(r, 'AddNextCertInChain')['ReturnValue'] as string);
      }
      return rv;
    };

    it('AddNextCertInChain leaf..root, AdminSetup with a good signature → ACM and an admin provisioning record', async () => {
      const { h, device } = await acmHarness();
      h.account = 'lsa';
      h.conn = { ...h.conn, origin: 'local' };
      expect(await inject(h, pki.valid.chain.map((c) => c.der))).toEqual(pki.valid.chain.map(() => '0'));
      expect(((await h.call(ips.HostBasedSetupService.Get())).body['IPS_HostBasedSetupService'] as Parsed)['CertChainStatus']).toBe('2');
      const mc = Buffer.alloc(20, 7);
      const nonce = Buffer.from(device.nvram.configurationNonce, 'base64');
      const bad = sign('sha256', Buffer.concat([mc, nonce]), pki.valid.keyPem).toString('base64');
      const hash = digestHa1('admin', device.nvram.digestRealm, PASS);
      expect(output(await h.call(ips.HostBasedSetupService.AdminSetup(2, hash, mc.toString('base64'), 2, bad)), 'AdminSetup')['ReturnValue']).toBe('5');
      expect(device.state).toBe('Pre');
      const sig = sign('sha256', Buffer.concat([nonce, mc]), pki.valid.keyPem).toString('base64');
      expect(output(await h.call(ips.HostBasedSetupService.AdminSetup(2, hash, mc.toString('base64'), 2, sig)), 'AdminSetup')['ReturnValue']).toBe('0');
      expect(device.state).toBe('Post');
      expect(device.controlMode).toBe('ACM');
      h.account = 'admin';
      const rec = await h.enumerate(
        '<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</a:Action><w:ResourceURI>http://intel.com/wbem/wscim/1/ips-schema/1/IPS_ProvisioningAuditRecord</w:ResourceURI><a:MessageID>9</a:MessageID></Header><Body><Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"/></Body></Envelope>',
        (c) => `<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull</a:Action><w:ResourceURI>http://intel.com/wbem/wscim/1/ips-schema/1/IPS_ProvisioningAuditRecord</w:ResourceURI><a:MessageID>10</a:MessageID></Header><Body><Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>${c}</EnumerationContext></Pull></Body></Envelope>`,
      );
      expect(rec).toHaveLength(1);
      expect(rec[0]!['CertificateCN']).toBe(pki.valid.leaf.cn);
      expect(rec[0]!['SelectedHashData']).toBe(Buffer.from(pki.rootHashes.sha256, 'hex').toString('base64'));
    });

    it('a chain under an untrusted root fails AddNextCertInChain with 4 (CertVerifyFailed) and records HASH_NOT_TRUSTED', async () => {
      const { h, timeline } = await acmHarness();
      h.account = 'lsa';
      const chain = pki.variants.untrustedRoot!.chain.map((c) => c.der);
      const rv = await inject(h, chain);
      expect(rv[rv.length - 1]).toBe('4');
      expect(timeline.query({ type: 'hostbased.chain-rejected' })[0]?.code).toBe('HASH_NOT_TRUSTED');
    });
  });
});

describe('TLS settings, keys and certificates', () => {
  it('GenerateKeyPair → key listed; AddCertificate → credential context; TLS Put waits for CommitChanges', async () => {
    const { h, device } = await harness({ image: provisionedImage(PASS) });
    const gk = output(await h.call(amt.PublicKeyManagementService.GenerateKeyPair({ KeyAlgorithm: 0, KeyLength: 2048 } as never)), 'GenerateKeyPair');
    expect(gk['ReturnValue']).toBe('0');
    const keys = await h.enumerate(amt.PublicPrivateKeyPair.Enumerate(), (c) => amt.PublicPrivateKeyPair.Pull(c));
    expect(keys).toHaveLength(1);
    const keyId = keys[0]!['InstanceID'] as string;
    expect(keyId).toBe('Intel(r) AMT Key: Handle: 0');
    // A certificate for that key, issued by a throwaway CA (what MeshCentral does with its own CA).
    const { issueCertificate } = await import('../../src/pki/cert-builder.js');
    const { rsaKeyPairFromPem, generateRsaKeyPair } = await import('../../src/pki/keys.js');
    const devKey = rsaKeyPairFromPem(device.nvram.tls.keyPairs[0]!.privateKeyPem);
    const caKey = await generateRsaKeyPair(2048);
    const now = device.clock.date();
    const cert = issueCertificate({ subject: { cn: 'pc1.corp.example.test' }, subjectKey: devKey, issuer: { name: { cn: 'Test CA' }, key: caKey }, notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) });
    const ac = output(await h.call(amt.PublicKeyManagementService.AddCertificate({ CertificateBlob: cert.der.toString('base64') } as never)), 'AddCertificate');
    expect(ac['ReturnValue']).toBe('0');
    const certId = device.nvram.tls.certificates[0]!.instanceId;
    expect(device.nvram.tls.certificates[0]!.keyPairId).toBe(keyId);
    const cr = await h.call(amt.TLSCredentialContext.Create(certId));
    expect(cr.status).toBe(200);
    expect(device.nvram.tls.credentialContext).toBe(certId);
    const ctxs = await h.enumerate(amt.TLSCredentialContext.Enumerate(), (c) => amt.TLSCredentialContext.Pull(c));
    expect(ctxs).toHaveLength(1);

    const put = await h.call(amt.TLSSettingData.Put({ InstanceID: 'Intel(r) AMT 802.3 TLS Settings', ElementName: 'Intel(r) AMT 802.3 TLS Settings', Enabled: true, MutualAuthentication: false, AcceptNonSecureConnections: true } as never));
    expect(put.status).toBe(200);
    expect(device.nvram.tls.remote.enabled).toBe(false);
    const list = await h.enumerate(amt.TLSSettingData.Enumerate(), (c) => amt.TLSSettingData.Pull(c));
    expect(list.find((i) => i['InstanceID'] === 'Intel(r) AMT 802.3 TLS Settings')?.['Enabled']).toBe('true');
    expect(output(await h.call(amt.SetupAndConfigurationService.CommitChanges()), 'CommitChanges')['ReturnValue']).toBe('0');
    expect(device.nvram.tls.remote.enabled).toBe(true);
  });
});

describe('faults', () => {
  it('unknown class, unknown method, bad selector, LSA Put', async () => {
    const { h } = await harness({ image: provisionedImage(PASS) });
    const unknown = await h.call(amt.GeneralSettings.Get().replace('AMT_GeneralSettings', 'AMT_NoSuchClass'));
    expect(unknown.status).toBe(400);
    expect(unknown.xml).toContain('DestinationUnreachable');
    const method = await h.call(amt.SetupAndConfigurationService.CommitChanges().replace('/CommitChanges<', '/Explode<'));
    expect(method.xml).toContain('ActionNotSupported');
    const sel = await h.call(amt.TLSSettingData.Get('Intel(r) AMT No Such Settings' as never));
    expect(sel.xml).toContain('InvalidSelectors');
    h.account = 'lsa';
    const put = await h.call(amt.GeneralSettings.Put({ HostName: 'x' } as never));
    expect(put.xml).toContain('AccessDenied');
  });

  it('GetLowAccuracyTimeSynch answers the device clock in seconds', async () => {
    const { h, device } = await harness({ image: provisionedImage(PASS) });
    const out = output(await h.call(amt.TimeSynchronizationService.GetLowAccuracyTimeSynch()), 'GetLowAccuracyTimeSynch');
    expect(Number(out['Ta0'])).toBe(Math.floor(device.clock.date().getTime() / 1000));
  });
});
