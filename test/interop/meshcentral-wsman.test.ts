import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { makeTestDevice, provisionedImage, VirtualClock } from '../fixtures/wsman/device.js';
import { MeshAmt } from '../fixtures/wsman/meshcentral.js';

const PASS = 'Adm1n!pass';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe("MeshCentral's Intel AMT WS-Man stack against emulated devices", () => {
  const devices = new Map<string, AmtDevice>();
  let listeners: PortListeners;
  let pki: TestPki;
  let plain: AmtDevice; // amt12: remote 16992 still open (§6.1)
  let tlsDev: AmtDevice; // amt16: TLS only remotely
  let setupDev: AmtDevice; // amt16 in setup with the test root trusted
  let untrusted: AmtDevice; // amt16 in setup, root not in its hash table

  beforeAll(async () => {
    const clock = new VirtualClock();
    pki = await createTestPki({ variants: [], now: clock.date() });
    plain = (await makeTestDevice({ deviceId: 'mc-plain', address: '127.77.2.1', profile: 'amt12', image: provisionedImage(PASS) })).device;
    tlsDev = (await makeTestDevice({ deviceId: 'mc-tls', address: '127.77.2.2', profile: 'amt16', image: provisionedImage(PASS) })).device;
    const inSetup = (trust: boolean) => (img: Parameters<NonNullable<Parameters<typeof makeTestDevice>[0]>['image'] & object>[0]) => {
      img.provisioning.state = 'In';
      if (trust) img.certHashes.push({ name: 'amtemu test root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: true });
    };
    setupDev = (await makeTestDevice({ deviceId: 'mc-setup', address: '127.77.2.3', profile: 'amt16', clock, image: inSetup(true) })).device;
    untrusted = (await makeTestDevice({ deviceId: 'mc-untrusted', address: '127.77.2.4', profile: 'amt16', clock, image: inSetup(false) })).device;
    for (const d of [setupDev, untrusted]) d.openWindow('agent', 6 * 3600_000, 'test: provisioning window');
    for (const d of [plain, tlsDev, setupDev, untrusted]) devices.set(d.address!, d);
    listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0 });
    await listeners.start();
  }, 60_000);
  afterAll(async () => {
    await listeners?.stop();
  });

  it('Get AMT_GeneralSettings, Enum CIM_SoftwareIdentity and SetAdminAclEntryEx over HTTP with digest', async () => {
    const mc = new MeshAmt(plain.address!, listeners.httpPort, 'admin', PASS, false);
    const g = await mc.get('AMT_GeneralSettings');
    expect(g.status).toBe(200);
    expect(g.response?.Body['DigestRealm']).toBe(plain.nvram.digestRealm);
    expect(mc.amtVersion).toBe(plain.nvram.firmware.version);
    const e = await mc.enumerate('CIM_SoftwareIdentity');
    expect(e.status).toBe(200);
    expect(e.items?.find((i) => i['InstanceID'] === 'AMT')?.['VersionString']).toBe(plain.nvram.firmware.version.split('.').slice(0, 3).join('.'));
    const newPass = 'N3w!Passw0rd';
    const r = await mc.exec((cb) => mc.stack.AMT_AuthorizationService_SetAdminAclEntryEx('admin', md5(`admin:${plain.nvram.digestRealm}:${newPass}`), cb));
    expect(r.status).toBe(200);
    expect(r.returnValue).toBe(0);
    const again = new MeshAmt(plain.address!, listeners.httpPort, 'admin', newPass, false);
    expect((await again.get('AMT_GeneralSettings')).status).toBe(200);
    const old = new MeshAmt(plain.address!, listeners.httpPort, 'admin', PASS, false);
    expect((await old.get('AMT_GeneralSettings')).status).toBe(401);
  });

  it('does the same over TLS on 16993 (RSA certificate, MeshCentral cipher string)', async () => {
    const mc = new MeshAmt(tlsDev.address!, listeners.tlsPort, 'admin', PASS, true);
    const g = await mc.get('AMT_GeneralSettings');
    expect(g.status).toBe(200);
    expect(g.response?.Body['DigestRealm']).toBe(tlsDev.nvram.digestRealm);
    const e = await mc.enumerate('CIM_SoftwareIdentity');
    expect(e.items?.some((i) => i['InstanceID'] === 'AMT')).toBe(true);
    const r = await mc.exec((cb) => mc.stack.AMT_AuthorizationService_SetAdminAclEntryEx('admin', md5(`admin:${tlsDev.nvram.digestRealm}:${PASS}`), cb));
    expect(r.returnValue).toBe(0);
    const hs = tlsDev.timeline.query({ deviceId: tlsDev.id, type: 'tls.handshake' });
    expect(hs[0]?.data['cipher']).toBe('AES256-GCM-SHA384');
  });

  it('PKI-CH remote configuration: client-setup chain accepted, MeshCentral sequence ends in Post/ACM', async () => {
    const mc = new MeshAmt(setupDev.address!, listeners.tlsPort, 'admin', '', true, { cert: pki.valid.chainPem, key: pki.valid.keyPem });
    const batch = await mc.batchEnum(['*AMT_GeneralSettings', 'CIM_SoftwareIdentity', '*AMT_SetupAndConfigurationService']);
    expect(batch.status).toBe(200);
    const realm = batch.responses['AMT_GeneralSettings']?.response?.['DigestRealm'] as string;
    expect(realm).toBe(setupDev.nvram.digestRealm);
    expect(batch.responses['AMT_SetupAndConfigurationService']?.response?.['ProvisioningState']).toBe(1);
    const accepted = setupDev.timeline.query({ deviceId: setupDev.id, type: 'pkich.accepted' });
    expect(accepted[0]?.data['leafCn']).toBe(pki.valid.leaf.cn);

    const mebx = await mc.exec((cb) => mc.stack.AMT_SetupAndConfigurationService_SetMEBxPassword('Mebx!Pass1', cb));
    expect(mebx.returnValue).toBe(0);
    const acl = await mc.exec((cb) => mc.stack.AMT_AuthorizationService_SetAdminAclEntryEx('admin', md5(`admin:${realm}:${PASS}`), cb));
    expect(acl.returnValue).toBe(0);
    const t = await mc.exec((cb) => mc.stack.AMT_TimeSynchronizationService_GetLowAccuracyTimeSynch(cb));
    expect(t.response?.Body['Ta0']).toBe(Math.floor(setupDev.clock.date().getTime() / 1000));
    const commit = await mc.exec((cb) => mc.stack.AMT_SetupAndConfigurationService_CommitChanges(null, cb));
    expect(commit.returnValue).toBe(0);
    expect(setupDev.state).toBe('Post');
    expect(setupDev.controlMode).toBe('ACM');
    expect(setupDev.nvram.auditRecord?.kind).toBe('pki');
    expect(setupDev.nvram.auditRecord?.provServerFqdn).toBe(pki.valid.leaf.cn);
    expect(setupDev.nvram.auditRecord?.selectedHash).toBe(pki.rootHashes.sha256);
    // Afterwards the admin account works with the password MeshCentral set.
    const admin = new MeshAmt(setupDev.address!, listeners.tlsPort, 'admin', PASS, true);
    expect((await admin.get('AMT_GeneralSettings')).status).toBe(200);
  }, 30_000);

  it('untrusted root: the TLS session is dropped, pkich.rejected HASH_NOT_TRUSTED, NVRAM untouched', async () => {
    const before = untrusted.nvram.generation;
    const mc = new MeshAmt(untrusted.address!, listeners.tlsPort, 'admin', '', true, { cert: pki.valid.chainPem, key: pki.valid.keyPem });
    // MeshCentral retries a failed connection a few times; each attempt is refused the same way.
    const g = await mc.get('AMT_GeneralSettings');
    expect(g.status).not.toBe(200);
    const rejected = untrusted.timeline.query({ deviceId: untrusted.id, type: 'pkich.rejected' });
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]?.code).toBe('HASH_NOT_TRUSTED');
    expect(untrusted.state).toBe('In');
    expect(untrusted.nvram.generation).toBe(before);
  }, 60_000);
});
