import { describe, it, expect, beforeAll } from 'vitest';
import { randomBytes, sign } from 'node:crypto';
import { verifyAdminSetupSignature, HostBasedCertChain, ADD_NEXT_CERT_RETURN, type HostBasedChainContext } from '../../src/pki/signature.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { generateRsaKeyPair, rsaKeyPairFromPem } from '../../src/pki/keys.js';
import { MODERN, SHORT_CHAIN, entry } from './pki-fixtures.js';

const NOW = new Date('2025-06-01T12:00:00Z');
let pki: TestPki;
let otherKeyPem: string;
beforeAll(async () => {
  pki = await createTestPki({ now: NOW, variants: ['untrustedRoot', 'noOid'] });
  otherKeyPem = (await generateRsaKeyPair(2048)).privateKeyPem;
});

function signNonces(keyPem: string, fw: Buffer, mc: Buffer, hash = 'sha256'): string {
  return sign(hash, Buffer.concat([fw, mc]), rsaKeyPairFromPem(keyPem).privateKey).toString('base64');
}

describe('verifyAdminSetupSignature (§5.3)', () => {
  const fw = randomBytes(20);
  const mc = randomBytes(20);

  it('accepts a SHA-256 signature over ConfigurationNonce || McNonce', () => {
    const sig = signNonces(pki.valid.keyPem, fw, mc);
    expect(verifyAdminSetupSignature({ leafDer: pki.valid.leaf.der, configurationNonce: fw, mcNonce: mc, signatureB64: sig, signingAlgorithm: 2 })).toBe(true);
  });

  it('accepts SHA-384 with SigningAlgorithm 3 and refuses it labelled 2', () => {
    const sig = signNonces(pki.valid.keyPem, fw, mc, 'sha384');
    const base = { leafDer: pki.valid.leaf.der, configurationNonce: fw, mcNonce: mc, signatureB64: sig };
    expect(verifyAdminSetupSignature({ ...base, signingAlgorithm: 3 })).toBe(true);
    expect(verifyAdminSetupSignature({ ...base, signingAlgorithm: 2 })).toBe(false);
  });

  it('refuses a tampered nonce, swapped order, wrong key, bad input', () => {
    const sig = signNonces(pki.valid.keyPem, fw, mc);
    const base = { leafDer: pki.valid.leaf.der, configurationNonce: fw, mcNonce: mc, signatureB64: sig, signingAlgorithm: 2 };
    const tampered = Buffer.from(mc);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expect(verifyAdminSetupSignature({ ...base, mcNonce: tampered })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, configurationNonce: mc, mcNonce: fw })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, leafDer: pki.variants.untrustedRoot!.root.der })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, signatureB64: signNonces(otherKeyPem, fw, mc) })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, signatureB64: 'not base64!!' })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, configurationNonce: fw.subarray(0, 19) })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, signingAlgorithm: 1 })).toBe(false);
    expect(verifyAdminSetupSignature({ ...base, leafDer: Buffer.from('garbage') })).toBe(false);
  });
});

describe('HostBasedCertChain (AddNextCertInChain)', () => {
  const ctx = (over: Partial<HostBasedChainContext> = {}): HostBasedChainContext => ({
    hashes: [entry('SHA256', pki.rootHashes.sha256)],
    profile: MODERN,
    now: NOW,
    pkiDnsSuffix: '',
    dhcpDomain: 'corp.example.test',
    ...over,
  });

  it('accepts leaf, intermediate, root in order and then exposes the leaf', () => {
    const c = new HostBasedCertChain();
    const [leaf, int, root] = pki.valid.chain.map((x) => x.der);
    expect(c.add(leaf!, true, false, ctx()).returnValue).toBe(0);
    expect(c.status).toBe(1);
    expect(c.add(int!, false, false, ctx()).returnValue).toBe(0);
    const last = c.add(root!, false, true, ctx());
    expect(last.returnValue).toBe(ADD_NEXT_CERT_RETURN.Success);
    expect(c.status).toBe(2);
    expect(c.leafDer?.equals(leaf!)).toBe(true);
    expect(last.info?.selectedHash.hash).toBe(pki.rootHashes.sha256);
  });

  it('InvalidState when the first certificate is not the leaf', () => {
    const c = new HostBasedCertChain();
    expect(c.add(pki.root.der, false, true, ctx())).toMatchObject({ returnValue: 3, code: 'INVALID_STATE' });
  });

  it('InvalidParam for garbage', () => {
    expect(new HostBasedCertChain().add(Buffer.from('xx'), true, false, ctx())).toMatchObject({ returnValue: 1, code: 'BAD_INPUT' });
  });

  it('CertChainLengthExceeded past the profile maximum', () => {
    const c = new HostBasedCertChain();
    const [leaf, int, root] = pki.valid.chain.map((x) => x.der);
    c.add(leaf!, true, false, ctx({ profile: SHORT_CHAIN }));
    c.add(int!, false, false, ctx({ profile: SHORT_CHAIN }));
    expect(c.add(root!, false, true, ctx({ profile: SHORT_CHAIN }))).toMatchObject({ returnValue: 5, code: 'CHAIN_TOO_LONG' });
    expect(c.status).toBe(0);
  });

  it('CertVerifyFailed with HASH_NOT_TRUSTED for an untrusted root', () => {
    const c = new HostBasedCertChain();
    const ch = pki.variants.untrustedRoot!.chain.map((x) => x.der);
    c.add(ch[0]!, true, false, ctx());
    c.add(ch[1]!, false, false, ctx());
    expect(c.add(ch[2]!, false, true, ctx())).toMatchObject({ returnValue: 4, code: 'HASH_NOT_TRUSTED' });
    expect(c.leafDer).toBeUndefined();
  });

  it("checks 'chainAndHash' skips the OID/OU and suffix rules, 'full' does not", () => {
    const ch = pki.variants.noOid!.chain.map((x) => x.der);
    const run = (checks: 'full' | 'chainAndHash') => {
      const c = new HostBasedCertChain();
      c.add(ch[0]!, true, false, ctx({ checks, dhcpDomain: undefined }));
      c.add(ch[1]!, false, false, ctx({ checks, dhcpDomain: undefined }));
      return c.add(ch[2]!, false, true, ctx({ checks, dhcpDomain: undefined }));
    };
    expect(run('full')).toMatchObject({ returnValue: 4, code: 'MISSING_SETUP_OID_OR_OU' });
    expect(run('chainAndHash').returnValue).toBe(0);
  });
});
