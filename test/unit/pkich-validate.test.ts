import { describe, it, expect, beforeAll } from 'vitest';
import { validateSetupChain, type SetupChainInput, type PkiChCode } from '../../src/device/pkich.js';
import { createTestPki, type TestPki, type TestPkiVariant, type TestChain } from '../../src/pki/test-ca.js';
import { issueCertificate } from '../../src/pki/cert-builder.js';
import { generateRsaKeyPair } from '../../src/pki/keys.js';
import { OID } from '../../src/pki/x509-info.js';
import { MODERN, LEGACY, SHORT_CHAIN, factoryHashes, entry } from './pki-fixtures.js';

const NOW = new Date('2025-06-01T12:00:00Z');
let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki({ now: NOW });
});

function input(chain: TestChain, over: Partial<SetupChainInput> = {}): SetupChainInput {
  return {
    chain: chain.chain.map((c) => c.der),
    hashes: [...factoryHashes(), entry('SHA256', pki.rootHashes.sha256)],
    pkiDnsSuffix: '',
    dhcpDomain: 'corp.example.test',
    profile: MODERN,
    now: NOW,
    ...over,
  };
}

function variant(v: TestPkiVariant): TestChain {
  const c = pki.variants[v];
  if (!c) throw new Error(`variant ${v} not built`);
  return c;
}

describe('validateSetupChain: valid chains', () => {
  it('accepts the OID leaf and reports the audit-record fields', () => {
    const r = validateSetupChain(input(pki.valid));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.leafCn).toBe('prov.corp.example.test');
    expect(r.value.matchedIdentifier).toBe('prov.corp.example.test');
    expect(r.value.suffixUsed).toBe('corp.example.test');
    expect(r.value.secureDns).toBe(false);
    expect(r.value.selectedHash).toEqual({ algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, name: 'amtemu Test Root' });
    expect(r.value.caSerials).toEqual([pki.valid.leaf.serialHex, pki.intermediate.serialHex, pki.root.serialHex]);
    expect(r.value.additionalCaSerialNums).toBe(false);
    expect(r.value.leafFingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.value.pathLength).toBe(3);
    expect(r.value.isTimeValid).toBe(true);
  });

  it('accepts the OU variant (no Intel OID)', () => {
    expect(validateSetupChain(input(variant('ou'))).ok).toBe(true);
  });

  it('accepts a wildcard leaf *.corp.example.test', () => {
    const r = validateSetupChain(input(variant('wildcard')));
    expect(r.ok && r.value.matchedIdentifier).toBe('*.corp.example.test');
  });

  it('selects a SHA-384 entry', () => {
    const r = validateSetupChain(input(pki.valid, { hashes: [entry('SHA384', pki.rootHashes.sha384)] }));
    expect(r.ok && r.value.selectedHash.algorithm).toBe('SHA384');
  });

  it('selects a SHA-1 entry on a profile that allows SHA-1, and ignores it on one that does not', () => {
    const hashes = [entry('SHA1', pki.rootHashes.sha1)];
    const legacy = validateSetupChain(input(pki.valid, { hashes, profile: LEGACY }));
    expect(legacy.ok && legacy.value.selectedHash.algorithm).toBe('SHA1');
    const modern = validateSetupChain(input(pki.valid, { hashes }));
    expect(!modern.ok && modern.code).toBe('HASH_NOT_TRUSTED');
  });

  it('uses the MEBx PKI DNS suffix over DHCP and marks SecureDNS', () => {
    const r = validateSetupChain(input(pki.valid, { pkiDnsSuffix: 'corp.example.test', dhcpDomain: 'other.example.invalid' }));
    expect(r.ok && r.value.secureDns).toBe(true);
    const wrong = validateSetupChain(input(pki.valid, { pkiDnsSuffix: 'other.example.invalid', dhcpDomain: 'corp.example.test' }));
    expect(!wrong.ok && wrong.code).toBe('SUFFIX_MISMATCH');
  });

  it('accepts an expired leaf when enforceValidity is false, recording isTimeValid=false', () => {
    const r = validateSetupChain(input(variant('expired'), { enforceValidity: false }));
    expect(r.ok && r.value.isTimeValid).toBe(false);
  });

  it('accepts the chain presented out of order (root before intermediate)', () => {
    const c = pki.valid.chain;
    const r = validateSetupChain({ ...input(pki.valid), chain: [c[0]!.der, c[2]!.der, c[1]!.der] });
    expect(r.ok).toBe(true);
  });
});

describe('validateSetupChain: every PKI-CH reason code from a real chain', () => {
  const table: Array<[string, () => SetupChainInput, PkiChCode, RegExp]> = [
    ['no certificate', () => ({ ...input(pki.valid), chain: [] }), 'NO_CLIENT_CERT', /no client certificate/],
    ['garbage DER', () => ({ ...input(pki.valid), chain: [Buffer.from('not a certificate')] }), 'BAD_INPUT', /certificate 1 of 1/],
    ['chain longer than the profile allows', () => input(pki.valid, { profile: SHORT_CHAIN }), 'CHAIN_TOO_LONG', /3 certificates.*at most 2/],
    ['intermediate missing', () => input(variant('missingIntermediate')), 'CHAIN_INCOMPLETE', /amtemu Test Intermediate CA.*did not send/],
    ['root not sent', () => input(variant('noRoot')), 'CHAIN_INCOMPLETE', /root must be sent/],
    ['corrupted leaf signature', () => input(variant('badSignature')), 'BAD_SIGNATURE', /does not verify/],
    ['SHA-1 signed leaf on ME 16', () => input(variant('sha1Signature')), 'SHA1_NOT_ALLOWED', /SHA1/],
    ['1024-bit leaf on ME 16', () => input(variant('weakKey')), 'WEAK_KEY', /1024-bit.*2048/],
    ['expired leaf', () => input(variant('expired')), 'CERT_EXPIRED', /leaf .* expired/],
    ['not yet valid leaf', () => input(variant('notYetValid')), 'CERT_NOT_YET_VALID', /valid from/],
    ['clientAuth-only leaf', () => input(variant('notServerAuth')), 'NOT_SERVER_AUTH', /serverAuth/],
    ['no OID, no OU', () => input(variant('noOid')), 'MISSING_SETUP_OID_OR_OU', /no OU/],
    ['OU with wrong case', () => input(variant('wrongOu')), 'MISSING_SETUP_OID_OR_OU', /Intel\(r\) Client Setup Certificate.*case-sensitive/],
    ['root hash present but inactive', () => input(pki.valid, { hashes: [entry('SHA256', pki.rootHashes.sha256, false)] }), 'HASH_INACTIVE', /not active/],
    ['untrusted root', () => input(variant('untrustedRoot')), 'HASH_NOT_TRUSTED', /root "amtemu Untrusted Root CA" SHA-256 [0-9a-f]{8}… is not in the device's trusted hash table \(23 active entries\)/],
    ['no DNS suffix anywhere', () => input(pki.valid, { dhcpDomain: undefined }), 'NO_DNS_SUFFIX', /option 15/],
    ['leaf in another domain', () => input(variant('wrongCn')), 'SUFFIX_MISMATCH', /prov\.other-domain\.example\.invalid.*DHCP domain "corp\.example\.test"/],
  ];
  it.each(table)('%s → expected code', (_name, make, code, msg) => {
    const r = validateSetupChain(make());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.message).toMatch(msg);
    expect(r.message).not.toContain('\n');
  });

  it('legacy profile accepts the SHA-1 signed and 1024-bit leaves', () => {
    expect(validateSetupChain(input(variant('sha1Signature'), { profile: LEGACY })).ok).toBe(true);
    expect(validateSetupChain(input(variant('weakKey'), { profile: LEGACY })).ok).toBe(true);
  });

  it('reports the first failing rule: an expired leaf in the wrong domain is CERT_EXPIRED', () => {
    const r = validateSetupChain(input(variant('expired'), { dhcpDomain: 'nowhere.invalid' }));
    expect(!r.ok && r.code).toBe('CERT_EXPIRED');
  });
});

describe('validateSetupChain: path details', () => {
  it('records more than three serials as additionalCaSerialNums', async () => {
    const [rk, k1, k2, lk] = await Promise.all([1, 2, 3, 4].map(() => generateRsaKeyPair(2048)));
    const from = new Date(NOW.getTime() - 86_400_000);
    const to = new Date(NOW.getTime() + 86_400_000 * 30);
    const root = issueCertificate({ subject: { cn: 'R' }, subjectKey: rk!, notBefore: from, notAfter: to, ca: true });
    const i1 = issueCertificate({ subject: { cn: 'I1' }, subjectKey: k1!, issuer: { name: root.subject, key: rk! }, notBefore: from, notAfter: to, ca: true });
    const i2 = issueCertificate({ subject: { cn: 'I2' }, subjectKey: k2!, issuer: { name: i1.subject, key: k1! }, notBefore: from, notAfter: to, ca: true });
    const leaf = issueCertificate({
      subject: { cn: 'p.corp.example.test' }, subjectKey: lk!, issuer: { name: i2.subject, key: k2! }, notBefore: from, notAfter: to,
      eku: [OID.serverAuth, OID.intelClientSetup],
    });
    const { certHash } = await import('../../src/pki/hashes.js');
    const r = validateSetupChain({
      chain: [leaf.der, i2.der, i1.der, root.der], hashes: [entry('SHA256', certHash(root.der, 'SHA256'))],
      pkiDnsSuffix: 'corp.example.test', profile: MODERN, now: NOW,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.caSerials).toEqual([leaf.serialHex, i2.serialHex, i1.serialHex]);
    expect(r.value.additionalCaSerialNums).toBe(true);
  });
});
