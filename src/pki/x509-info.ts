/**
 * What the PKI-CH checks need to know about one certificate, read from its DER.
 * node:crypto's X509Certificate does chain linking and signature verification (any key type);
 * node-forge's ASN.1 reader gives the fields Node 20 does not expose (signature algorithm,
 * subject attributes, raw EKU/SAN). forge's certificateFromAsn1 is avoided on purpose: it
 * refuses non-RSA keys, and real chains (Intel ODCA, reference §5.4) use ECC.
 */
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { AmtError } from '../common/errors.js';

export const OID = {
  commonName: '2.5.4.3',
  organizationalUnit: '2.5.4.11',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  /** Intel AMT Client Setup EKU (SDK acquiringanintelvprocertificate.htm, reference §4.3). */
  intelClientSetup: '2.16.840.1.113741.1.2.3',
} as const;

/** The OU that stands in for the Intel OID; compared case-sensitively (reference §4.3). */
export const CLIENT_SETUP_OU = 'Intel(R) Client Setup Certificate';

export type SignatureHash = 'MD5' | 'SHA1' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512' | 'unknown';

const SIG_HASH: Record<string, SignatureHash> = {
  '1.2.840.113549.1.1.4': 'MD5',
  '1.2.840.113549.1.1.5': 'SHA1',
  '1.3.14.3.2.29': 'SHA1',
  '1.2.840.10045.4.1': 'SHA1',
  '1.2.840.10040.4.3': 'SHA1',
  '1.2.840.113549.1.1.14': 'SHA224',
  '1.2.840.113549.1.1.11': 'SHA256',
  '1.2.840.113549.1.1.12': 'SHA384',
  '1.2.840.113549.1.1.13': 'SHA512',
  '1.2.840.10045.4.3.1': 'SHA224',
  '1.2.840.10045.4.3.2': 'SHA256',
  '1.2.840.10045.4.3.3': 'SHA384',
  '1.2.840.10045.4.3.4': 'SHA512',
};

export interface CertInfo {
  der: Buffer;
  x509: X509Certificate;
  /** Subject CN ('' when absent) and every OU value, as encoded. */
  subjectCn: string;
  subjectOus: string[];
  issuerCn: string;
  /** Serial number, lower-case hex without leading zero bytes. */
  serialHex: string;
  signatureAlgorithmOid: string;
  signatureHash: SignatureHash;
  notBefore: Date;
  notAfter: Date;
  /** Extended key usage OIDs; undefined when the certificate has no EKU extension. */
  eku: string[] | undefined;
  /** SAN dNSName entries in order. */
  sanDns: string[];
  keyType: string;
  /** RSA modulus length / EC curve size in bits (0 when unknown). */
  keyBits: number;
  /** Issuer name equals subject name and the certificate verifies with its own key. */
  selfSigned: boolean;
}

type Asn1 = forge.asn1.Asn1;
// @types/node-forge says fromDer takes a boolean; the library also takes an options object.
const fromDer = forge.asn1.fromDer as unknown as (der: forge.util.ByteStringBuffer | string, opts: { strict?: boolean }) => Asn1;

function children(node: Asn1 | undefined, what: string): Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new Error(`${what}: expected a constructed value`);
  return node.value as Asn1[];
}

function bytes(node: Asn1 | undefined, what: string): string {
  if (!node || typeof node.value !== 'string') throw new Error(`${what}: expected a primitive value`);
  return node.value;
}

function decodeString(node: Asn1): string {
  const raw = bytes(node, 'attribute value');
  if (node.type === forge.asn1.Type.BMPSTRING) {
    let s = '';
    for (let i = 0; i + 1 < raw.length; i += 2) s += String.fromCharCode((raw.charCodeAt(i) << 8) | raw.charCodeAt(i + 1));
    return s;
  }
  if (node.type === forge.asn1.Type.UTF8) {
    try {
      return forge.util.decodeUtf8(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function nameAttributes(name: Asn1): Array<{ oid: string; value: string }> {
  const out: Array<{ oid: string; value: string }> = [];
  for (const rdn of children(name, 'Name')) {
    for (const atv of children(rdn, 'RDN')) {
      const [oidNode, valueNode] = children(atv, 'AttributeTypeAndValue');
      if (!oidNode || !valueNode) continue;
      out.push({ oid: forge.asn1.derToOid(bytes(oidNode, 'attribute type')), value: decodeString(valueNode) });
    }
  }
  return out;
}

function parseTime(node: Asn1 | undefined): Date {
  const s = bytes(node, 'time');
  const d = node?.type === forge.asn1.Type.UTCTIME ? forge.asn1.utcTimeToDate(s) : forge.asn1.generalizedTimeToDate(s);
  if (Number.isNaN(d.getTime())) throw new Error(`bad time "${s}"`);
  return d;
}

function parseExtensions(tbsParts: Asn1[]): { eku: string[] | undefined; sanDns: string[] } {
  let eku: string[] | undefined;
  const sanDns: string[] = [];
  const extWrapper = tbsParts.find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  if (!extWrapper) return { eku, sanDns };
  const exts = children(children(extWrapper, 'extensions')[0], 'Extensions');
  for (const ext of exts) {
    const parts = children(ext, 'Extension');
    const oid = forge.asn1.derToOid(bytes(parts[0], 'extnID'));
    const valueNode = parts[parts.length - 1];
    const inner = forge.asn1.fromDer(bytes(valueNode, 'extnValue'));
    if (oid === OID.extKeyUsage) {
      eku = children(inner, 'EKU').map((n) => forge.asn1.derToOid(bytes(n, 'EKU OID')));
    } else if (oid === OID.subjectAltName) {
      for (const gn of children(inner, 'GeneralNames')) {
        // dNSName is [2] IMPLICIT IA5String
        if (gn.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && gn.type === 2) sanDns.push(bytes(gn, 'dNSName'));
      }
    }
  }
  return { eku, sanDns };
}

/** Read one certificate. Throws AmtError('BAD_INPUT') naming `what` on anything unparseable. */
export function readCertInfo(der: Buffer, what = 'certificate'): CertInfo {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (e) {
    throw new AmtError('BAD_INPUT', `${what} is not a DER X.509 certificate (${(e as Error).message})`);
  }
  try {
    const root = fromDer(forge.util.createBuffer(der.toString('binary')), { strict: true });
    const [tbs, sigAlg] = children(root, 'Certificate');
    const tbsParts = children(tbs, 'TBSCertificate');
    // version is an optional [0] EXPLICIT; everything after it is positional.
    const off = tbsParts[0]?.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
    const serialRaw = bytes(tbsParts[off], 'serialNumber');
    const issuer = nameAttributes(tbsParts[off + 2] as Asn1);
    const validity = children(tbsParts[off + 3], 'Validity');
    const subject = nameAttributes(tbsParts[off + 4] as Asn1);
    const sigOid = forge.asn1.derToOid(bytes(children(sigAlg, 'AlgorithmIdentifier')[0], 'algorithm'));
    const { eku, sanDns } = parseExtensions(tbsParts.slice(off + 6));
    const key = x509.publicKey;
    const details = key.asymmetricKeyDetails;
    const keyBits = details?.modulusLength ?? (details?.namedCurve ? curveBits(details.namedCurve) : 0);
    let selfSigned = false;
    if (x509.subject === x509.issuer) {
      try {
        selfSigned = x509.verify(key);
      } catch {
        selfSigned = false;
      }
    }
    return {
      der,
      x509,
      subjectCn: subject.find((a) => a.oid === OID.commonName)?.value ?? '',
      subjectOus: subject.filter((a) => a.oid === OID.organizationalUnit).map((a) => a.value),
      issuerCn: issuer.find((a) => a.oid === OID.commonName)?.value ?? '',
      serialHex: forge.util.bytesToHex(serialRaw).replace(/^(00)+(?=.)/, ''),
      signatureAlgorithmOid: sigOid,
      signatureHash: SIG_HASH[sigOid] ?? 'unknown',
      notBefore: parseTime(validity[0]),
      notAfter: parseTime(validity[1]),
      eku,
      sanDns,
      keyType: key.asymmetricKeyType ?? 'unknown',
      keyBits,
      selfSigned,
    };
  } catch (e) {
    if (e instanceof AmtError) throw e;
    throw new AmtError('BAD_INPUT', `${what}: malformed certificate structure (${(e as Error).message})`);
  }
}

function curveBits(curve: string): number {
  const m = /(\d{3})/.exec(curve);
  return m ? Number(m[1]) : 0;
}

/** "CN" or, when there is none, the whole subject on one line — for messages. */
export function certLabel(c: CertInfo): string {
  return c.subjectCn || c.x509.subject.replace(/\n/g, ', ');
}
