/**
 * A test PKI for provisioning: root CA → intermediate → "Intel(R) Client Setup" leaf for the
 * provisioning server (reference §4.3), plus the broken variants QA needs to drive every PKI-CH
 * reason code with a real certificate chain. Certificates are node-forge objects signed with
 * native node:crypto keys (see cert-builder.ts).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AmtError } from '../common/errors.js';
import { issueCertificate, type DistinguishedName, type IssuedCert } from './cert-builder.js';
import { certHashes, type CertHashes } from './hashes.js';
import forge from 'node-forge';
import { generateRsaKeyPair, rsaKeyPairFromPem, toForgePrivateKey, type KeyPool, type RsaKeyPair } from './keys.js';
import { CLIENT_SETUP_OU, OID } from './x509-info.js';

export const TEST_PKI_VARIANTS = [
  'ou', // OU 'Intel(R) Client Setup Certificate' instead of the Intel OID: valid
  'wildcard', // CN/SAN '*.<domain>': valid
  'expired', // CERT_EXPIRED
  'notYetValid', // CERT_NOT_YET_VALID
  'wrongOu', // OU 'Intel(r) Client Setup Certificate' (wrong case), no OID: MISSING_SETUP_OID_OR_OU
  'noOid', // neither OID nor OU: MISSING_SETUP_OID_OR_OU
  'notServerAuth', // EKU clientAuth + Intel OID, no serverAuth: NOT_SERVER_AUTH
  'wrongCn', // CN/SAN in another domain: SUFFIX_MISMATCH
  'sha1Signature', // leaf signed with SHA-1: SHA1_NOT_ALLOWED on ME 15/16+ profiles
  'weakKey', // 1024-bit leaf key: WEAK_KEY
  'badSignature', // leaf signature bit-flipped: BAD_SIGNATURE
  'untrustedRoot', // same shape under a different root: HASH_NOT_TRUSTED
  'missingIntermediate', // leaf + root only: CHAIN_INCOMPLETE
  'noRoot', // leaf + intermediate only (root not sent): CHAIN_INCOMPLETE
] as const;
export type TestPkiVariant = (typeof TEST_PKI_VARIANTS)[number];

export interface TestCert {
  pem: string;
  der: Buffer;
  cn: string;
  serialHex: string;
}

export interface TestChain {
  variant: TestPkiVariant | 'valid';
  leaf: TestCert;
  /** PKCS#8 PEM of the leaf key. */
  keyPem: string;
  /** Certificates as the provisioning server presents them, leaf first. */
  chain: TestCert[];
  /** chain as one PEM text (what node:tls `cert` takes). */
  chainPem: string;
  /** The root this chain was issued under (sent or not). */
  root: TestCert;
  rootHashes: CertHashes;
}

export interface TestPki {
  fqdn: string;
  /** DNS suffix the leaf matches: the FQDN without its first label. */
  domain: string;
  root: TestCert;
  intermediate: TestCert;
  rootHashes: CertHashes;
  /** The valid Client Setup chain (EKU serverAuth + Intel OID). */
  valid: TestChain;
  variants: Partial<Record<TestPkiVariant, TestChain>>;
}

export interface TestPkiOptions {
  /** Provisioning server FQDN (leaf CN and SAN). Default 'prov.corp.example.test'. */
  fqdn?: string;
  /** Which broken/alternative chains to build; default all. */
  variants?: readonly TestPkiVariant[];
  /** RSA size of the CA and leaf keys (the weakKey variant is always 1024). Default 2048. */
  keyBits?: number;
  /** Reference time for validity periods; default the current time. */
  now?: Date;
  /** Take the 2048-bit keys from a pool instead of generating them. */
  keyPool?: KeyPool;
  rootCn?: string;
}

const DAY = 86_400_000;
const FQDN_RE = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

function toTestCert(c: IssuedCert): TestCert {
  return { pem: c.pem, der: c.der, cn: c.subject.cn, serialHex: c.serialHex };
}

function chainOf(variant: TestChain['variant'], leaf: IssuedCert, key: RsaKeyPair, sent: IssuedCert[], root: IssuedCert): TestChain {
  const chain = sent.map(toTestCert);
  const rootCert = toTestCert(root);
  return {
    variant,
    leaf: toTestCert(leaf),
    keyPem: key.privateKeyPem,
    chain,
    chainPem: chain.map((c) => c.pem).join(''),
    root: rootCert,
    rootHashes: certHashes(root.der),
  };
}

export async function createTestPki(opts: TestPkiOptions = {}): Promise<TestPki> {
  const fqdn = (opts.fqdn ?? 'prov.corp.example.test').toLowerCase().replace(/\.$/, '');
  if (!FQDN_RE.test(fqdn) || fqdn.startsWith('*.') || fqdn.split('.').length < 3) {
    throw new AmtError('BAD_INPUT', `--fqdn "${opts.fqdn}" is not a host FQDN with at least three labels (e.g. prov.corp.example.test)`);
  }
  const variants = new Set(opts.variants ?? TEST_PKI_VARIANTS);
  for (const v of variants) {
    if (!(TEST_PKI_VARIANTS as readonly string[]).includes(v)) {
      throw new AmtError('BAD_INPUT', `unknown test PKI variant "${v}" (known: ${TEST_PKI_VARIANTS.join(', ')})`);
    }
  }
  const bits = opts.keyBits ?? 2048;
  const now = opts.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new AmtError('BAD_INPUT', 'createTestPki: invalid reference time');
  const domain = fqdn.slice(fqdn.indexOf('.') + 1);

  const pool = opts.keyPool && opts.keyPool.bits === bits ? opts.keyPool : undefined;
  const key = (): Promise<RsaKeyPair> => (pool ? pool.take() : generateRsaKeyPair(bits));
  // All keys at once: generation runs on the libuv pool, in parallel.
  const [rootKey, intKey, leafKey, otherRootKey, weakKey] = await Promise.all([
    key(), key(), key(),
    variants.has('untrustedRoot') ? key() : undefined,
    variants.has('weakKey') ? generateRsaKeyPair(1024) : undefined,
  ]) as [RsaKeyPair, RsaKeyPair, RsaKeyPair, RsaKeyPair | undefined, RsaKeyPair | undefined];

  const caFrom = new Date(now.getTime() - DAY);
  const caTo = new Date(now.getTime() + 3650 * DAY);
  const leafFrom = new Date(now.getTime() - DAY);
  const leafTo = new Date(now.getTime() + 825 * DAY);

  const rootName: DistinguishedName = { cn: opts.rootCn ?? 'amtemu Test Root CA', o: 'amtemu test PKI' };
  const intName: DistinguishedName = { cn: 'amtemu Test Intermediate CA', o: 'amtemu test PKI' };
  const root = issueCertificate({ subject: rootName, subjectKey: rootKey, notBefore: caFrom, notAfter: caTo, ca: true });
  const intermediate = issueCertificate({
    subject: intName, subjectKey: intKey, issuer: { name: rootName, key: rootKey },
    notBefore: caFrom, notAfter: caTo, ca: true, pathLen: 0,
  });

  interface LeafSpec {
    cn?: string; ou?: string; eku?: string[]; from?: Date; to?: Date; hash?: 'SHA1' | 'SHA256' | 'SHA384';
    key?: RsaKeyPair; corrupt?: boolean; issuer?: { name: DistinguishedName; key: RsaKeyPair };
  }
  const setupEku = [OID.serverAuth, OID.intelClientSetup];
  const leaf = (s: LeafSpec = {}): IssuedCert => {
    const cn = s.cn ?? fqdn;
    return issueCertificate({
      subject: { cn, ...(s.ou ? { ou: s.ou } : {}), o: 'amtemu test PKI' },
      subjectKey: s.key ?? leafKey,
      issuer: s.issuer ?? { name: intName, key: intKey },
      notBefore: s.from ?? leafFrom,
      notAfter: s.to ?? leafTo,
      eku: s.eku ?? setupEku,
      sanDns: [cn],
      hash: s.hash ?? 'SHA256',
      corruptSignature: s.corrupt ?? false,
    });
  };
  const full = (l: IssuedCert): IssuedCert[] => [l, intermediate, root];

  const validLeaf = leaf();
  const out: TestPki = {
    fqdn,
    domain,
    root: toTestCert(root),
    intermediate: toTestCert(intermediate),
    rootHashes: certHashes(root.der),
    valid: chainOf('valid', validLeaf, leafKey, full(validLeaf), root),
    variants: {},
  };
  const add = (v: TestPkiVariant, l: IssuedCert, k: RsaKeyPair = leafKey, sent: IssuedCert[] = full(l), r: IssuedCert = root): void => {
    if (variants.has(v)) out.variants[v] = chainOf(v, l, k, sent, r);
  };

  if (variants.has('ou')) add('ou', leaf({ ou: CLIENT_SETUP_OU, eku: [OID.serverAuth] }));
  if (variants.has('wildcard')) add('wildcard', leaf({ cn: `*.${domain}` }));
  if (variants.has('expired')) add('expired', leaf({ from: new Date(now.getTime() - 400 * DAY), to: new Date(now.getTime() - 30 * DAY) }));
  if (variants.has('notYetValid')) add('notYetValid', leaf({ from: new Date(now.getTime() + 30 * DAY), to: new Date(now.getTime() + 400 * DAY) }));
  if (variants.has('wrongOu')) add('wrongOu', leaf({ ou: 'Intel(r) Client Setup Certificate', eku: [OID.serverAuth] }));
  if (variants.has('noOid')) add('noOid', leaf({ eku: [OID.serverAuth] }));
  if (variants.has('notServerAuth')) add('notServerAuth', leaf({ eku: [OID.clientAuth, OID.intelClientSetup] }));
  if (variants.has('wrongCn')) add('wrongCn', leaf({ cn: 'prov.other-domain.example.invalid' }));
  if (variants.has('sha1Signature')) add('sha1Signature', leaf({ hash: 'SHA1' }));
  if (weakKey) add('weakKey', leaf({ key: weakKey }), weakKey);
  if (variants.has('badSignature')) add('badSignature', leaf({ corrupt: true }));
  if (variants.has('missingIntermediate')) {
    const l = leaf();
    add('missingIntermediate', l, leafKey, [l, root]);
  }
  if (variants.has('noRoot')) {
    const l = leaf();
    add('noRoot', l, leafKey, [l, intermediate]);
  }
  if (otherRootKey) {
    const otherRootName: DistinguishedName = { cn: 'amtemu Untrusted Root CA', o: 'amtemu test PKI (untrusted)' };
    const otherIntName: DistinguishedName = { cn: 'amtemu Untrusted Intermediate CA', o: 'amtemu test PKI (untrusted)' };
    const otherRoot = issueCertificate({ subject: otherRootName, subjectKey: otherRootKey, notBefore: caFrom, notAfter: caTo, ca: true });
    const otherInt = issueCertificate({
      subject: otherIntName, subjectKey: intKey, issuer: { name: otherRootName, key: otherRootKey },
      notBefore: caFrom, notAfter: caTo, ca: true, pathLen: 0,
    });
    const l = leaf({ issuer: { name: otherIntName, key: intKey } });
    add('untrustedRoot', l, leafKey, [l, otherInt, otherRoot], otherRoot);
  }
  return out;
}

/** Password of the leaf.pfx files writeTestPki produces (RPS/rpc-go load the chain as PFX, §5.2). */
export const TEST_PFX_PASSWORD = 'amtemu';

/** PKCS#12 of leaf key + chain (3DES, as node-forge-based servers such as RPS read it). */
export function chainToPfx(c: TestChain, password = TEST_PFX_PASSWORD): Buffer {
  const key = toForgePrivateKey(rsaKeyPairFromPem(c.keyPem));
  const certs = c.chain.map((x) => forge.pki.certificateFromPem(x.pem));
  const p12 = forge.pkcs12.toPkcs12Asn1(key, certs, password, { algorithm: '3des', friendlyName: c.leaf.cn });
  return Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
}

async function writeChainFiles(dir: string, c: TestChain): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'leaf.pem'), c.leaf.pem);
  await writeFile(join(dir, 'leaf.key'), c.keyPem, { mode: 0o600 });
  await chmod(join(dir, 'leaf.key'), 0o600); // mode is ignored when the file already existed
  await writeFile(join(dir, 'chain.pem'), c.chainPem);
  await writeFile(join(dir, 'leaf.pfx'), chainToPfx(c), { mode: 0o600 });
  await chmod(join(dir, 'leaf.pfx'), 0o600);
  await writeFile(join(dir, 'root.pem'), c.root.pem);
  await writeFile(join(dir, 'root.sha1'), c.rootHashes.sha1 + '\n');
  await writeFile(join(dir, 'root.sha256'), c.rootHashes.sha256 + '\n');
  await writeFile(join(dir, 'root.sha384'), c.rootHashes.sha384 + '\n');
}

/**
 * Write the PKI as files: root.pem, intermediate.pem, leaf.pem, leaf.key (0600), chain.pem
 * (leaf, intermediate, root), leaf.pfx (0600, password TEST_PFX_PASSWORD),
 * root.sha1/.sha256/.sha384; each variant under variants/<name>/.
 * Returns the list of files written.
 */
export async function writeTestPki(dir: string, pki: TestPki): Promise<string[]> {
  try {
    await writeChainFiles(dir, pki.valid);
    await writeFile(join(dir, 'intermediate.pem'), pki.intermediate.pem);
    for (const [name, chain] of Object.entries(pki.variants)) {
      if (chain) await writeChainFiles(join(dir, 'variants', name), chain);
    }
  } catch (e) {
    throw new AmtError('BAD_INPUT', `cannot write test PKI to ${dir}: ${(e as Error).message}`);
  }
  const files = ['root.pem', 'intermediate.pem', 'leaf.pem', 'leaf.key', 'leaf.pfx', 'chain.pem', 'root.sha1', 'root.sha256', 'root.sha384'];
  for (const name of Object.keys(pki.variants)) files.push(`variants/${name}/`);
  return files;
}
