/**
 * Certificate hashes and PEM/DER plumbing. The trusted-root table holds the SHA-1, SHA-256 or
 * SHA-384 of a root certificate's DER (reference §4.1, §4.2; RPS compareCertHashes §5.2), so
 * everything here hashes exactly the DER bytes, lower-case hex.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { AmtError } from '../common/errors.js';
import type { HashAlgorithm } from '../nvram/image.js';

const NODE_HASH: Record<HashAlgorithm, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA384: 'sha384' };

/** Hash of the certificate DER with the given table algorithm, lower-case hex. */
export function certHash(der: Buffer, algorithm: HashAlgorithm): string {
  return createHash(NODE_HASH[algorithm]).update(der).digest('hex');
}

export interface CertHashes {
  sha1: string;
  sha256: string;
  sha384: string;
}

export function certHashes(der: Buffer): CertHashes {
  return { sha1: certHash(der, 'SHA1'), sha256: certHash(der, 'SHA256'), sha384: certHash(der, 'SHA384') };
}

/** "SHA-256" style label for messages. */
export function hashLabel(algorithm: HashAlgorithm): string {
  return algorithm.replace('SHA', 'SHA-');
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/**
 * Every certificate in a PEM text, in order, as DER. Throws AmtError('BAD_INPUT') when the text
 * has no certificate block or a block that is not a parseable X.509 certificate.
 * `what` names the input in the message (a file name, a flag).
 */
export function pemToDerList(pem: string, what = 'PEM input'): Buffer[] {
  const out: Buffer[] = [];
  let m: RegExpExecArray | null;
  PEM_CERT_RE.lastIndex = 0;
  let blocks = 0;
  while ((m = PEM_CERT_RE.exec(pem)) !== null && blocks < 64) {
    blocks++;
    const body = (m[1] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0) {
      throw new AmtError('BAD_INPUT', `${what}: certificate block ${blocks} is not valid base64`);
    }
    out.push(checkDer(Buffer.from(body, 'base64'), `${what}: certificate block ${blocks}`));
  }
  if (out.length === 0) throw new AmtError('BAD_INPUT', `${what}: no "BEGIN CERTIFICATE" block found`);
  return out;
}

/** The single certificate of a PEM text (the first when there are several). */
export function pemToDer(pem: string, what = 'PEM input'): Buffer {
  return pemToDerList(pem, what)[0] as Buffer;
}

export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Accept a certificate as PEM text or DER bytes (as files come from users); returns DER. */
export function toCertDer(input: Buffer | string, what = 'certificate'): Buffer {
  const text = typeof input === 'string' ? input : input.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN')) return pemToDer(typeof input === 'string' ? input : input.toString('utf8'), what);
  if (typeof input === 'string') throw new AmtError('BAD_INPUT', `${what}: not a PEM certificate`);
  return checkDer(input, what);
}

/** Parse-check DER bytes as an X.509 certificate; returns them unchanged. */
export function checkDer(der: Buffer, what = 'certificate'): Buffer {
  try {
    new X509Certificate(der);
  } catch (e) {
    throw new AmtError('BAD_INPUT', `${what} is not a DER X.509 certificate (${(e as Error).message})`);
  }
  return der;
}

/** Validate a hash string for a table algorithm: right length, hex only; returns lower-case. */
export function normalizeHashHex(hex: string, algorithm: HashAlgorithm): string {
  const h = hex.trim().replace(/[:\s]/g, '').toLowerCase();
  const want = { SHA1: 40, SHA256: 64, SHA384: 96 }[algorithm];
  if (!/^[0-9a-f]*$/.test(h) || h.length !== want) {
    throw new AmtError('BAD_INPUT', `${hashLabel(algorithm)} hash must be ${want} hex digits, got "${hex.slice(0, 120)}"`);
  }
  return h;
}
