import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateSetupChain, type SetupChainInput } from '../../src/device/pkich.js';
import { CertInfoCache } from '../../src/pki/cert-cache.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { MODERN, entry, factoryHashes } from './pki-fixtures.js';

const NOW = new Date('2025-06-01T12:00:00Z');
let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki({ now: NOW, variants: [] });
});

function input(cache: CertInfoCache, over: Partial<SetupChainInput> = {}): SetupChainInput {
  return {
    chain: pki.valid.chain.map((c) => c.der),
    hashes: [...factoryHashes(), entry('SHA256', pki.rootHashes.sha256)],
    pkiDnsSuffix: '',
    dhcpDomain: 'corp.example.test',
    profile: MODERN,
    now: NOW,
    certCache: cache,
    ...over,
  };
}

describe('CertInfoCache under validateSetupChain', () => {
  it('parses each certificate once and reuses it on the next validation', () => {
    const cache = new CertInfoCache();
    expect(validateSetupChain(input(cache)).ok).toBe(true);
    expect(cache.stats).toEqual({ hits: 0, misses: 3, size: 3 });
    expect(validateSetupChain(input(cache)).ok).toBe(true);
    expect(cache.stats).toEqual({ hits: 3, misses: 3, size: 3 });
  });

  it('refuses a cached chain once the device clock passes the leaf notAfter', () => {
    const cache = new CertInfoCache();
    expect(validateSetupChain(input(cache)).ok).toBe(true);
    const leafEnd = new Date(new X509Certificate(pki.valid.leaf.der).validTo);
    const later = new Date(leafEnd.getTime() + 1000);
    const r = validateSetupChain(input(cache, { now: later }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe('CERT_EXPIRED');
    expect(cache.stats.hits).toBe(3);
    // And before notBefore of the chain (device clock set back).
    const early = validateSetupChain(input(cache, { now: new Date('2000-01-01T00:00:00Z') }));
    expect(!early.ok && early.code).toBe('CERT_NOT_YET_VALID');
  });

  it('does not carry acceptance from one hash table to another', () => {
    const cache = new CertInfoCache();
    expect(validateSetupChain(input(cache)).ok).toBe(true);
    const untrusted = validateSetupChain(input(cache, { hashes: factoryHashes() }));
    expect(!untrusted.ok && untrusted.code).toBe('HASH_NOT_TRUSTED');
    const inactive = validateSetupChain(input(cache, { hashes: [...factoryHashes(), entry('SHA256', pki.rootHashes.sha256, false)] }));
    expect(!inactive.ok && inactive.code).toBe('HASH_INACTIVE');
    // A SHA-384 entry for the same root is found too: digests are computed per call, per algorithm.
    const by384 = validateSetupChain(input(cache, { hashes: [entry('SHA384', pki.rootHashes.sha384)] }));
    expect(by384.ok && by384.value.selectedHash.algorithm).toBe('SHA384');
  });

  it('keys on the bytes: a caller reusing its buffer cannot change a cached answer', () => {
    const cache = new CertInfoCache();
    const ders = pki.valid.chain.map((c) => Buffer.from(c.der));
    expect(validateSetupChain(input(cache, { chain: ders })).ok).toBe(true);
    // Flip a byte inside the leaf's signature: new bytes, new entry, and the signature fails.
    const leaf = ders[0]!;
    leaf[leaf.length - 5] ^= 0xff;
    const r = validateSetupChain(input(cache, { chain: ders }));
    expect(!r.ok && r.code).toBe('BAD_SIGNATURE');
    // The original bytes still validate from the cache.
    expect(validateSetupChain(input(cache)).ok).toBe(true);
  });

  it('does not cache parse failures and keeps their message', () => {
    const cache = new CertInfoCache();
    const junk = Buffer.from('not a certificate');
    const r = validateSetupChain(input(cache, { chain: [junk] }));
    expect(!r.ok && r.code).toBe('BAD_INPUT');
    expect(!r.ok && r.message).toMatch(/certificate 1 of 1/);
    expect(cache.size).toBe(0);
  });

  it('memoises signature checks per (child, parent) pair, including failures', () => {
    const cache = new CertInfoCache();
    const [leaf, intermediate, root] = pki.valid.chain.map((c) => cache.read(c.der));
    expect(cache.verifies(leaf!, intermediate!)).toBe(true);
    expect(cache.verifies(leaf!, root!)).toBe(false);
    expect(cache.verifies(leaf!, root!)).toBe(false);
    expect(cache.verifies(intermediate!, root!)).toBe(true);
  });

  it('stays within its bound, dropping the least recently used entry', () => {
    const cache = new CertInfoCache(2);
    const [a, b, c] = pki.valid.chain.map((x) => x.der);
    cache.read(a!);
    cache.read(b!);
    cache.read(a!); // a is now the most recent
    cache.read(c!); // evicts b
    expect(cache.size).toBe(2);
    const before = cache.stats.misses;
    cache.read(a!);
    expect(cache.stats.misses).toBe(before);
    cache.read(b!);
    expect(cache.stats.misses).toBe(before + 1);
  });
});
