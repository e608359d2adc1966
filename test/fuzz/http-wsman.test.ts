/**
 * Fuzz: the AMT web server's request path — Digest Authorization headers
 * (src/device/http/digest.ts), whole HTTP requests through AmtHttpService (amt-http.ts), and
 * WS-Man envelopes (src/device/wsman/request.ts) down to the class handlers. A request is
 * answered with an HTTP status and a well-formed body, never a throw.
 */
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { parseDigestAuthorization, parseNc } from '../../src/device/http/digest.js';
import { AmtHttpService, type HttpSession } from '../../src/device/http/amt-http.js';
import { isFault } from '../../src/device/wsman/faults.js';
import { parseEnvelope } from '../../src/device/wsman/request.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { digestHeader } from '../fixtures/wsman/digest-client.js';
import { mutatedText, note, params, report, RUNS, timed } from './harness.js';

const amt = new AMT.Messages();
const ips = new IPS.Messages();
const cim = new CIM.Messages();
const sel = (name: string, value: string) => ({ name, value }) as never;
/** Real client envelopes (the RPS/MPS builder) — the seeds the mutations start from. */
const CORPUS: string[] = [
  amt.GeneralSettings.Get(),
  amt.GeneralSettings.Enumerate(),
  amt.GeneralSettings.Pull('00000001-0000-0000-0000-000000000000'),
  amt.SetupAndConfigurationService.Get(),
  amt.SetupAndConfigurationService.GetUuid(),
  amt.SetupAndConfigurationService.SetMEBXPassword('Mebx!Pass2'),
  amt.SetupAndConfigurationService.CommitChanges(),
  amt.AuthorizationService.GetAdminAclEntry(),
  amt.TimeSynchronizationService.GetLowAccuracyTimeSynch(),
  amt.TLSSettingData.Get(sel('InstanceID', 'Intel(r) AMT LMS TLS Settings')),
  amt.TLSSettingData.Put({ ElementName: 'Intel(r) AMT 802.3 TLS Settings', InstanceID: 'Intel(r) AMT 802.3 TLS Settings', Enabled: true, MutualAuthentication: false, AcceptNonSecureConnections: true } as never),
  amt.EthernetPortSettings.Get(sel('InstanceID', 'Intel(r) AMT Ethernet Port Settings 0')),
  amt.PublicKeyManagementService.AddKey('AAAA'),
  amt.PublicKeyManagementService.AddTrustedRootCertificate({ CertificateBlob: 'MIIB' } as never),
  amt.TLSCredentialContext.Delete(sel('InstanceID', 'x')),
  amt.PublicKeyCertificate.Delete(sel('InstanceID', 'y')),
  ips.HostBasedSetupService.Get(),
  ips.HostBasedSetupService.Setup(2, 'a'.repeat(32)),
  ips.HostBasedSetupService.AddNextCertInChain('MIIB', true, false),
  ips.HostBasedSetupService.AdminSetup(2, 'a'.repeat(32), Buffer.alloc(20).toString('base64'), 2, 'AAAA'),
  cim.SoftwareIdentity.Enumerate(),
  cim.ComputerSystemPackage.Get(),
];
const envelope = fc.constantFrom(...CORPUS);
const STATUSES = [200, 400, 401, 404, 405, 413, 500];

describe('fuzz: Digest Authorization header', () => {
  const valid = fc
    .record({ user: fc.string({ maxLength: 16 }), nonce: fc.base64String({ maxLength: 32 }), nc: fc.nat(), qop: fc.constantFrom('auth' as const, 'auth-int' as const), cnonce: fc.stringMatching(/^[0-9a-f]{0,16}$/) })
    .map((d) => digestHeader({ ...d, realm: 'Digest:00000000000000000000000000000000', pass: 'x' }));

  it('random and mutated headers: params or undefined, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), mutatedText(valid), fc.string({ maxLength: 200 }).map((s) => `Digest ${s}`)), (h) => {
        const p = timed('digest header', () => parseDigestAuthorization(h));
        if (p) for (const v of Object.values(p)) expect(typeof v).toBe('string');
        const nc = parseNc(p?.['nc']);
        if (nc !== undefined) expect(nc).toBeGreaterThanOrEqual(0);
      }),
      params(),
    );
    report('digest header', RUNS);
  });

  it('round trip: a header the client fixture builds parses back to its fields', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.@-]{1,16}$/), fc.base64String({ minLength: 4, maxLength: 32 }), fc.integer({ min: 1, max: 0xffffffff }), (user, nonce, nc) => {
        const p = parseDigestAuthorization(digestHeader({ user, realm: 'Digest:AB', nonce, nc, pass: 'p' }));
        expect(p?.['username']).toBe(user);
        expect(p?.['nonce']).toBe(nonce);
        expect(parseNc(p?.['nc'])).toBe(nc);
      }),
      params(RUNS / 2),
    );
  });
});

describe('fuzz: WS-Man envelope parser', () => {
  it('random text and mutated real envelopes: a request or a WS-Man fault, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), mutatedText(envelope), envelope.map((e) => e.replace(/<[^>]*Body>/, (m) => `${m}<x>`.repeat(3)))), (xml) => {
        const r = timed('wsman envelope', () => parseEnvelope(xml));
        if (isFault(r)) expect(r.reason.length).toBeGreaterThan(0);
        else expect(typeof r.action).toBe('string');
      }),
      params(),
    );
    report('wsman envelope', RUNS);
  });
});

describe('fuzz: HTTP requests through AmtHttpService', () => {
  let device: AmtDevice;
  const http = new AmtHttpService();
  beforeAll(async () => {
    device = (await makeTestDevice({ deviceId: 'fz1', image: provisionedImage('Adm1n!pass') })).device;
  });
  const method = fc.oneof(fc.constantFrom('POST', 'GET', 'PUT', 'OPTIONS', 'post'), fc.stringMatching(/^[A-Z]{1,8}$/));
  const url = fc.oneof(fc.constantFrom('/wsman', '/', '/index.htm', '/logon.htm', '/wsman?x=1'), fc.string({ maxLength: 40 }));

  it('unauthenticated: any method/url/header/body gets a status and a body (Identify only without auth)', async () => {
    const remote: HttpSession = { conn: { port: 16992, origin: 'remote', peerAddress: '127.0.0.1', tls: false }, pkiSession: false };
    await fc.assert(
      fc.asyncProperty(method, url, fc.option(fc.oneof(fc.string({ maxLength: 200 }), fc.constant('Digest response=""'), fc.constant('Basic YWRtaW46')), { nil: undefined }), fc.oneof(envelope, mutatedText(envelope), fc.string({ maxLength: 100 })), async (m, u, auth, body) => {
        const t0 = performance.now();
        const r = await http.handle(device, remote, { method: m, url: u, ...(auth !== undefined ? { authorization: auth } : {}), body: Buffer.from(body) });
        note('http unauthenticated', performance.now() - t0);
        expect(STATUSES).toContain(r.status);
        // Nothing but Identify and 4xx without credentials.
        if (r.status === 200) expect(r.body).toContain('IdentifyResponse');
      }),
      params(),
    );
    report('http unauthenticated', RUNS);
  });

  it('authorised (PKI-CH session): mutated real envelopes reach the class handlers; answers are well-formed XML', async () => {
    const pki: HttpSession = { conn: { port: 16993, origin: 'remote', peerAddress: '127.0.0.1', tls: true }, pkiSession: true };
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(envelope, mutatedText(envelope)), async (body) => {
        const t0 = performance.now();
        const r = await http.handle(device, pki, { method: 'POST', url: '/wsman', body: Buffer.from(body) });
        note('http authorised', performance.now() - t0);
        expect(STATUSES).toContain(r.status);
        expect(XMLValidator.validate(r.body)).toBe(true);
        if (r.status === 200) answered++;
      }),
      params(),
    );
    report('http authorised', RUNS);
    expect(answered).toBeGreaterThan(0);
  });
});
