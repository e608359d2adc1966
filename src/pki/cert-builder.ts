/**
 * Issue X.509 certificates: node-forge builds the certificate object, node:crypto signs the
 * TBSCertificate with the native key (fast, and lets us choose SHA-1/256/384 freely).
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import { AmtError } from '../common/errors.js';
import { toForgePublicKey, type RsaKeyPair } from './keys.js';

// @types/node-forge lags the library: fromDer takes an options object, getTBSCertificate exists.
const fromDer = forge.asn1.fromDer as unknown as (der: string, opts: { decodeBitStrings?: boolean }) => forge.asn1.Asn1;
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

export type SigningHash = 'SHA1' | 'SHA256' | 'SHA384';

const RSA_SIG_OID: Record<SigningHash, string> = {
  SHA1: '1.2.840.113549.1.1.5',
  SHA256: '1.2.840.113549.1.1.11',
  SHA384: '1.2.840.113549.1.1.12',
};
const NODE_HASH: Record<SigningHash, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA384: 'sha384' };

export interface DistinguishedName {
  cn: string;
  ou?: string;
  o?: string;
  c?: string;
}

export interface IssuedCert {
  der: Buffer;
  pem: string;
  subject: DistinguishedName;
  serialHex: string;
}

export interface CertSpec {
  subject: DistinguishedName;
  /** Key whose public half the certificate carries. */
  subjectKey: RsaKeyPair;
  /** Issuer name and signing key; omit for a self-signed certificate. */
  issuer?: { name: DistinguishedName; key: RsaKeyPair };
  notBefore: Date;
  notAfter: Date;
  /** CA certificate (basicConstraints cA, keyCertSign). */
  ca?: boolean;
  pathLen?: number;
  /** Extended key usage OIDs (e.g. serverAuth, the Intel Client Setup OID). Omit for none. */
  eku?: string[];
  sanDns?: string[];
  hash?: SigningHash;
  /** Serial as hex; random 16 bytes (positive) when omitted. */
  serialHex?: string;
  /** Flip one bit of the signature — a structurally valid certificate that fails verification. */
  corruptSignature?: boolean;
}

function attrs(dn: DistinguishedName): forge.pki.CertificateField[] {
  const out: forge.pki.CertificateField[] = [];
  if (dn.c) out.push({ shortName: 'C', value: dn.c });
  if (dn.o) out.push({ shortName: 'O', value: dn.o });
  if (dn.ou) out.push({ shortName: 'OU', value: dn.ou });
  out.push({ shortName: 'CN', value: dn.cn });
  return out;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
function keyIdentifier(key: RsaKeyPair): string {
  const spki = fromDer(key.publicKeyDer.toString('binary'), { decodeBitStrings: false });
  const bitString = (spki.value as forge.asn1.Asn1[])[1]?.value;
  const body = typeof bitString === 'string' ? bitString.slice(1) : key.publicKeyDer.toString('binary');
  return createHash('sha1').update(Buffer.from(body, 'binary')).digest('binary');
}

export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f | 0x01; // positive, no leading zero byte
  return b.toString('hex');
}

export function issueCertificate(spec: CertSpec): IssuedCert {
  if (spec.notAfter.getTime() <= spec.notBefore.getTime()) {
    throw new AmtError('BAD_INPUT', `certificate "${spec.subject.cn}": notAfter must be after notBefore`);
  }
  const hash = spec.hash ?? 'SHA256';
  const issuerName = spec.issuer?.name ?? spec.subject;
  const issuerKey = spec.issuer?.key ?? spec.subjectKey;
  const serialHex = spec.serialHex ?? randomSerialHex();

  const cert = forge.pki.createCertificate();
  cert.publicKey = toForgePublicKey(spec.subjectKey);
  cert.serialNumber = serialHex;
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(attrs(spec.subject));
  cert.setIssuer(attrs(issuerName));

  const exts: Array<Record<string, unknown>> = [];
  if (spec.ca) {
    exts.push({ name: 'basicConstraints', cA: true, critical: true, ...(spec.pathLen !== undefined ? { pathLenConstraint: spec.pathLen } : {}) });
    exts.push({ name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true });
  } else {
    exts.push({ name: 'basicConstraints', cA: false });
    // keyEncipherment: TLS 1.2 RSA key transport (the cipher MeshCentral uses, reference §1.3).
    exts.push({ name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true });
  }
  if (spec.eku && spec.eku.length > 0) {
    const eku: Record<string, unknown> = { name: 'extKeyUsage' };
    for (const oid of spec.eku) {
      // forge's oid table maps both ways; it wants the short name for OIDs it knows.
      const known = (forge.pki.oids as Record<string, string>)[oid];
      eku[known && !known.includes('.') ? known : oid] = true;
    }
    exts.push(eku);
  }
  if (spec.sanDns && spec.sanDns.length > 0) {
    exts.push({ name: 'subjectAltName', altNames: spec.sanDns.map((value) => ({ type: 2, value })) });
  }
  exts.push({ name: 'subjectKeyIdentifier' });
  exts.push({ name: 'authorityKeyIdentifier', keyIdentifier: keyIdentifier(issuerKey) });
  cert.setExtensions(exts);

  const oid = RSA_SIG_OID[hash];
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  const tbs = Buffer.from(forge.asn1.toDer(getTBSCertificate(cert)).getBytes(), 'binary');
  const signature = sign(NODE_HASH[hash], tbs, issuerKey.privateKey);
  if (spec.corruptSignature) signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0x01;
  cert.signature = signature.toString('binary');

  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { der, pem: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'), subject: spec.subject, serialHex };
}
