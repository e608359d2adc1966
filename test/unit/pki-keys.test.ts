import { describe, it, expect } from 'vitest';
import { mkdtemp, readFile, stat, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { KeyPool, generateRsaKeyPair, rsaKeyPairFromPem, toForgePrivateKey } from '../../src/pki/keys.js';
import { DeviceCertStore, issueDeviceCertificate } from '../../src/pki/device-cert.js';
import { certHashes, pemToDerList, toCertDer, normalizeHashHex, derToPem } from '../../src/pki/hashes.js';
import forge from 'node-forge';
import { createTestPki, writeTestPki, TEST_PFX_PASSWORD } from '../../src/pki/test-ca.js';
import { readCertInfo } from '../../src/pki/x509-info.js';
import { isAmtError } from '../../src/common/errors.js';

const NOW = new Date('2025-06-01T12:00:00Z');
const UUID = '4c4c4544-0042-3510-8054-b7c04f4b5a31';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isAmtError(e) ? e.code : 'not-amt-error';
  }
  return undefined;
}

describe('KeyPool', () => {
  it('generates lazily, then reuses keys round-robin', async () => {
    const pool = new KeyPool({ size: 2 });
    expect(pool.generated).toBe(0);
    const a = await pool.take();
    expect(pool.generated).toBe(1);
    const b = await pool.take();
    const c = await pool.take();
    expect(pool.generated).toBe(2);
    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
    expect(c).toBe(a);
    expect(a.bits).toBe(2048);
  });

  it('rejects bad sizes with BAD_INPUT', () => {
    expect(codeOf(() => new KeyPool({ size: 0 }))).toBe('BAD_INPUT');
    expect(codeOf(() => new KeyPool({ size: 2, bits: 1000 }))).toBe('BAD_INPUT');
  });

  it('round-trips a PEM key and converts to forge', async () => {
    const k = await generateRsaKeyPair(1024);
    const back = rsaKeyPairFromPem(k.privateKeyPem);
    expect(back.publicKeyPem).toBe(k.publicKeyPem);
    expect(toForgePrivateKey(k).n.bitLength()).toBe(1024);
    expect(codeOf(() => rsaKeyPairFromPem('nope'))).toBe('BAD_INPUT');
  });
});

describe('device TLS certificate', () => {
  it('is self-signed RSA 2048, CN iAMT-<uuid>, SAN host name, serverAuth', async () => {
    const store = new DeviceCertStore();
    const id = await store.get('dev1', { uuid: UUID, hostname: 'pc-001.corp.example.test', now: NOW });
    const x = new X509Certificate(id.certDer);
    expect(x.subject).toContain(`CN=iAMT-${UUID}`);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.subjectAltName).toBe('DNS:pc-001.corp.example.test');
    expect(x.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(x.checkPrivateKey(rsaKeyPairFromPem(id.keyPem).privateKey)).toBe(true);
    expect(readCertInfo(id.certDer).eku).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(id.fingerprintSha256).toBe(certHashes(id.certDer).sha256);
  });

  it('is cached per device and regenerated after forget()', async () => {
    const pool = new KeyPool({ size: 1 });
    const store = new DeviceCertStore(pool);
    const a1 = await store.get('a', { uuid: UUID, now: NOW });
    const a2 = await store.get('a', { uuid: UUID, now: NOW });
    const b = await store.get('b', { uuid: UUID.replace('4c4c', '5d5d'), now: NOW });
    expect(a2).toBe(a1);
    expect(b.keyPem).toBe(a1.keyPem); // pool of one key shared
    expect(b.certPem).not.toBe(a1.certPem);
    expect(pool.generated).toBe(1);
    store.forget('a');
    expect((await store.get('a', { uuid: UUID, now: NOW })).certPem).not.toBe(a1.certPem);
  });

  it('refuses a malformed UUID or host name', async () => {
    const k = await generateRsaKeyPair(1024);
    expect(codeOf(() => issueDeviceCertificate(k, { uuid: 'xyz', now: NOW }))).toBe('BAD_INPUT');
    expect(codeOf(() => issueDeviceCertificate(k, { uuid: UUID, hostname: 'bad host', now: NOW }))).toBe('BAD_INPUT');
  });
});

describe('hashes and PEM/DER parsing', () => {
  it('gives BAD_INPUT on garbage', () => {
    expect(codeOf(() => pemToDerList('hello'))).toBe('BAD_INPUT');
    expect(codeOf(() => pemToDerList('-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----'))).toBe('BAD_INPUT');
    expect(codeOf(() => pemToDerList('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'))).toBe('BAD_INPUT');
    expect(codeOf(() => toCertDer(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])))).toBe('BAD_INPUT');
    expect(codeOf(() => readCertInfo(Buffer.alloc(0)))).toBe('BAD_INPUT');
    expect(codeOf(() => normalizeHashHex('abc', 'SHA256'))).toBe('BAD_INPUT');
    expect(normalizeHashHex('AA:'.repeat(19) + 'AA', 'SHA1')).toBe('aa'.repeat(20));
  });
});

describe('createTestPki / writeTestPki', () => {
  it('writes PEMs, hashes matching openssl-style DER hashes, and a 0600 key', async () => {
    const pki = await createTestPki({ now: NOW, variants: ['ou'] });
    const dir = await mkdtemp(join(tmpdir(), 'amtemu-pki-'));
    try {
      await writeTestPki(dir, pki);
      const chain = pemToDerList(await readFile(join(dir, 'chain.pem'), 'utf8'));
      expect(chain.map((d) => derToPem(d))).toEqual(pki.valid.chain.map((c) => c.pem));
      expect((await readFile(join(dir, 'root.sha256'), 'utf8')).trim()).toBe(certHashes(pki.root.der).sha256);
      expect((await stat(join(dir, 'leaf.key'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'variants', 'ou', 'leaf.key'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'leaf.pfx'))).mode & 0o777).toBe(0o600);
      const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer((await readFile(join(dir, 'leaf.pfx'))).toString('binary')), TEST_PFX_PASSWORD);
      const bags = p12.getBags({ bagType: forge.pki.oids['certBag'] as string })[forge.pki.oids['certBag'] as string] ?? [];
      expect(bags.map((b) => b.cert?.subject.getField('CN')?.value)).toEqual([pki.fqdn, 'amtemu Test Intermediate CA', 'amtemu Test Root CA']);
      const key = await readFile(join(dir, 'leaf.key'), 'utf8');
      expect(new X509Certificate(pki.valid.leaf.der).publicKey.equals(createPublicKey(key))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad FQDN and an unknown variant', async () => {
    await expect(createTestPki({ fqdn: 'not a host' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(createTestPki({ fqdn: 'localhost' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(createTestPki({ variants: ['nope' as 'ou'] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
