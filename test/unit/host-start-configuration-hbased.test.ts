/**
 * CFG_StartConfigurationHBased (reference §5.4) on the host interface, and the pinned-leaf check
 * of the local mutual-TLS session that follows (src/device/hbased-tls.ts).
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateHostBasedTlsChain } from '../../src/device/hbased-tls.js';
import { PthiStatus } from '../../src/device/pthi.js';
import { getProfile } from '../../src/nvram/profiles.js';
import type { FirmwareProfileId } from '../../src/nvram/image.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { makeDevice } from '../helpers/device-fixture.js';
import { MemoryNetwork } from '../helpers/memory-network.js';

const HOUR = 3_600_000;
const DEVICE_LEAF = Buffer.from('device tls leaf DER stand-in');
const SERVER_HASH = createHash('sha256').update('server leaf').digest();

function device(profile: FirmwareProfileId = 'amt19', withCert = true) {
  let net!: MemoryNetwork;
  const f = makeDevice({ profile, network: (clock) => (net = new MemoryNetwork(clock)) });
  if (withCert) f.device.tlsCertificate = async () => DEVICE_LEAF;
  f.device.powerOn();
  return { ...f, net };
}

const req = (over: Partial<Parameters<ReturnType<typeof device>['device']['host']['startConfigurationHBased']>[0]> = {}) => ({
  serverHashAlgorithm: 2,
  serverCertHash: SERVER_HASH,
  hostVpnEnable: false,
  dnsSuffixList: ['corp.example.test'],
  ...over,
});

describe('CFG_StartConfigurationHBased: validation', () => {
  it.each([
    ['SHA-1 (1)', { serverHashAlgorithm: 1 }],
    ['SHA-512 (4)', { serverHashAlgorithm: 4 }],
    ['a 48-byte hash with SHA-256', { serverCertHash: Buffer.alloc(48, 1) }],
    ['a 32-byte hash with SHA-384', { serverHashAlgorithm: 3 }],
    ['an empty hash', { serverCertHash: Buffer.alloc(0) }],
    ['a suffix list over 320 bytes', { dnsSuffixList: Array.from({ length: 6 }, (_, i) => `${'a'.repeat(50)}.x${i}.test`) }],
    ['a suffix that is not a DNS name', { dnsSuffixList: ['corp example'] }],
  ])('refuses %s with INVALID_PARAMETER and stays in Pre', async (_name, over) => {
    const { device: d, timeline } = device();
    const r = await d.host.startConfigurationHBased(req(over));
    expect(r.status).toBe(PthiStatus.INVALID_PARAMETER);
    expect(d.state).toBe('Pre');
    const ev = timeline.query({ type: 'host.StartConfigurationHBased' });
    expect(ev).toHaveLength(1);
    expect(ev[0]!.code).toBe('INVALID_PARAMETER');
    expect(typeof ev[0]!.data.reason).toBe('string');
  });

  it('accepts a suffix list of exactly 320 bytes NUL-separated', async () => {
    // 5 × (63 + 1) = 320
    const list = Array.from({ length: 5 }, (_, i) => `${'b'.repeat(58)}.t${i}.x`.slice(0, 63));
    expect(list.every((s) => s.length === 63)).toBe(true);
    const { device: d } = device();
    expect((await d.host.startConfigurationHBased(req({ dnsSuffixList: list }))).status).toBe(PthiStatus.SUCCESS);
  });

  it('profiles: CSME 14+ have it (amt15, amt16, amt19); amt11/amt12 answer NOT_PERMITTED', async () => {
    for (const id of ['amt3', 'amt6', 'amt11', 'amt12', 'amt15', 'amt16', 'amt19'] as const) {
      expect(getProfile(id).setup.hostBasedTls, id).toBe(getProfile(id).amtMajor >= 14);
    }
    const { device: d } = device('amt12');
    expect((await d.host.startConfigurationHBased(req())).status).toBe(PthiStatus.NOT_PERMITTED);
    expect(d.state).toBe('Pre');
  });

  it('without a TLS certificate source answers CERTIFICATE_NOT_READY', async () => {
    const { device: d } = device('amt19', false);
    expect((await d.host.startConfigurationHBased(req())).status).toBe(PthiStatus.CERTIFICATE_NOT_READY);
    expect(d.state).toBe('Pre');
  });

  it('powered off: NOT_READY', async () => {
    const { device: d } = device();
    d.powerOff();
    expect((await d.host.startConfigurationHBased(req())).status).toBe(PthiStatus.NOT_READY);
  });
});

describe('CFG_StartConfigurationHBased: effect', () => {
  it('Pre → In with a local-only host-based window, no hellos, the server hash pinned; answers the device leaf hash', async () => {
    const { device: d, clock, net, timeline } = device();
    await clock.advance(100);
    const r = await d.host.startConfigurationHBased(req({ hostVpnEnable: true }));
    expect(r.status).toBe(PthiStatus.SUCCESS);
    expect(r.value).toEqual({ hashAlgorithm: 2, amtCertHash: createHash('sha256').update(DEVICE_LEAF).digest() });
    expect(d.state).toBe('In');
    expect(d.window).toMatchObject({ kind: 'agent', hostBased: true, lengthMs: 6 * HOUR });
    expect(d.hostBasedPin).toEqual({ algorithm: 'SHA256', serverCertHash: SERVER_HASH.toString('hex'), hostVpnEnable: true, dnsSuffixes: ['corp.example.test'] });
    expect(timeline.query({ type: 'lifecycle.transition' }).at(-1)!.data).toMatchObject({ from: 'Pre', to: 'In', reason: 'startConfigurationHBased' });
    const ev = timeline.query({ type: 'host.StartConfigurationHBased' })[0]!;
    expect(ev.code).toBeUndefined();
    expect(ev.data).toMatchObject({ status: 'SUCCESS', amtCertHash: r.value!.amtCertHash.toString('hex') });
    // §5.4: remote port filters stay closed; only the local 16993 session.
    expect(d.portOpen(16993, 'remote')).toBe(false);
    expect(d.portOpen(16992, 'remote')).toBe(false);
    expect(d.portOpen(16993, 'local')).toBe(true);
    await clock.advance(5 * HOUR);
    expect(net.hellos).toHaveLength(0);
    expect(timeline.query({ type: 'hello.sent' })).toHaveLength(0);
    await clock.advance(2 * HOUR);
    expect(d.window.kind).toBe('closed');
    expect(d.hostBasedPin).toBeUndefined();
  });

  it('SHA-384: 48-byte hashes both ways', async () => {
    const { device: d } = device('amt15');
    const h = createHash('sha384').update('server leaf').digest();
    const r = await d.host.startConfigurationHBased(req({ serverHashAlgorithm: 3, serverCertHash: h }));
    expect(r.status).toBe(0);
    expect(r.value!.hashAlgorithm).toBe(3);
    expect(r.value!.amtCertHash).toEqual(createHash('sha384').update(DEVICE_LEAF).digest());
    expect(d.hostBasedPin!.algorithm).toBe('SHA384');
  });

  it('in setup (In) or configured (Post): INVALID_AMT_MODE; StopConfiguration clears the pin and allows it again', async () => {
    const { device: d } = device();
    expect((await d.host.startConfigurationHBased(req())).status).toBe(0);
    expect((await d.host.startConfigurationHBased(req())).status).toBe(PthiStatus.INVALID_AMT_MODE);
    expect(d.host.stopConfiguration().status).toBe(0);
    expect(d.hostBasedPin).toBeUndefined();
    expect(d.state).toBe('Pre');
    expect((await d.host.startConfigurationHBased(req())).status).toBe(0);
    d.completeHostBasedSetup('CCM', 'a'.repeat(32));
    expect((await d.host.startConfigurationHBased(req())).status).toBe(PthiStatus.INVALID_AMT_MODE);
  });

  it('the pin lives in RAM: gone after a power cycle while the NVRAM window stays host-based', async () => {
    const { device: d } = device();
    expect((await d.host.startConfigurationHBased(req())).status).toBe(0);
    d.powerOff();
    d.powerOn();
    expect(d.state).toBe('In');
    expect(d.nvram.provisioning.window.hostBased).toBe(true);
    expect(d.hostBasedPin).toBeUndefined();
  });
});

describe('host-based TLS chain check (pinned leaf, then PKI-CH)', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki({ variants: [] });
  }, 60_000);

  const input = (pin: { hash: string; suffixes?: string[] }, over: Partial<Parameters<typeof validateHostBasedTlsChain>[0]> = {}) => ({
    chain: pki.valid.chain.map((c) => c.der),
    pin: { algorithm: 'SHA256' as const, serverCertHash: pin.hash, hostVpnEnable: false, dnsSuffixes: pin.suffixes ?? [] },
    hashes: [{ name: 'test root', algorithm: 'SHA256' as const, hash: pki.rootHashes.sha256, isDefault: false, isActive: true }],
    pkiDnsSuffix: '',
    dhcpDomain: pki.domain,
    profile: getProfile('amt19'),
    now: new Date(),
    ...over,
  });
  const leafHash = () => createHash('sha256').update(pki.valid.leaf.der).digest('hex');

  it('accepts the pinned leaf with a trusted root', () => {
    const r = validateHostBasedTlsChain(input({ hash: leafHash() }));
    expect(r.ok).toBe(true);
  });

  it('a different leaf hash: SERVER_CERT_HASH_MISMATCH', () => {
    const r = validateHostBasedTlsChain(input({ hash: 'ab'.repeat(32) }));
    expect(r).toMatchObject({ ok: false, code: 'SERVER_CERT_HASH_MISMATCH' });
  });

  it('no pin (RAM cleared): SERVER_CERT_HASH_MISMATCH', () => {
    const r = validateHostBasedTlsChain({ ...input({ hash: leafHash() }), pin: undefined });
    expect(r).toMatchObject({ ok: false, code: 'SERVER_CERT_HASH_MISMATCH' });
  });

  it('pinned but the root is not trusted: HASH_NOT_TRUSTED', () => {
    const r = validateHostBasedTlsChain(input({ hash: leafHash() }, { hashes: [] }));
    expect(r).toMatchObject({ ok: false, code: 'HASH_NOT_TRUSTED' });
  });

  it('DNS suffix: the host-supplied list is enough when DHCP gives another domain', () => {
    const other = { dhcpDomain: 'elsewhere.example.org' };
    expect(validateHostBasedTlsChain(input({ hash: leafHash() }, other))).toMatchObject({ ok: false, code: 'SUFFIX_MISMATCH' });
    expect(validateHostBasedTlsChain(input({ hash: leafHash(), suffixes: ['vpn.example.net', pki.domain] }, other)).ok).toBe(true);
  });
});
