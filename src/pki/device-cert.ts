/**
 * The device's own TLS certificate for 16993/16995. "Prior to Intel CSME 19, to enable TLS
 * out-of-the-box, Intel AMT generates a default self-signed certificate" (reference §6.1), and
 * in PKI remote configuration it is "used for encryption, not authentication" (§1.4, HP).
 *
 * Subject: CN `iAMT-<system UUID>` — a documented choice; the exact subject real firmware uses
 * is not in the reference. SAN carries the host name when known so curl/openssl users can pin it.
 * RSA 2048 with keyEncipherment so TLS 1.2 RSA key transport (MeshCentral's
 * `RSA+AES:!aNULL:!MD5:!DSS`, §1.3) works, and digitalSignature for ECDHE and TLS 1.3.
 */
import { createHash } from 'node:crypto';
import { AmtError } from '../common/errors.js';
import { issueCertificate } from './cert-builder.js';
import { generateRsaKeyPair, type KeyPool, type RsaKeyPair } from './keys.js';
import { OID } from './x509-info.js';

export interface DeviceTlsIdentity {
  keyPem: string;
  certPem: string;
  certDer: Buffer;
  /** SHA-256 of the certificate DER, hex (what StartConfigurationHBased returns as AMTCertHash, §5.4). */
  fingerprintSha256: string;
  subjectCn: string;
}

export interface DeviceCertOptions {
  /** SMBIOS UUID (canonical text). */
  uuid: string;
  /** Host name / FQDN for the SAN, if the device has one. */
  hostname?: string;
  /** Device clock's date: the certificate is valid from one day before. */
  now: Date;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HOST_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const DAY = 86_400_000;

/** Issue the self-signed device certificate on a given key (synchronous; signing is native). */
export function issueDeviceCertificate(key: RsaKeyPair, opts: DeviceCertOptions): DeviceTlsIdentity {
  if (!UUID_RE.test(opts.uuid)) throw new AmtError('BAD_INPUT', `device UUID "${opts.uuid}" is not 8-4-4-4-12 hex`);
  if (opts.hostname !== undefined && opts.hostname !== '' && !HOST_RE.test(opts.hostname)) {
    throw new AmtError('BAD_INPUT', `device host name "${opts.hostname}" is not a valid DNS name`);
  }
  const cn = `iAMT-${opts.uuid.toLowerCase()}`;
  const from = new Date(opts.now.getTime() - DAY);
  const to = new Date(opts.now.getTime() + 20 * 365 * DAY);
  const cert = issueCertificate({
    subject: { cn, o: 'Intel(R) Active Management Technology emulator (amtemu)' },
    subjectKey: key,
    notBefore: from,
    notAfter: to,
    eku: [OID.serverAuth],
    ...(opts.hostname ? { sanDns: [opts.hostname] } : {}),
  });
  return {
    keyPem: key.privateKeyPem,
    certPem: cert.pem,
    certDer: cert.der,
    fingerprintSha256: createHash('sha256').update(cert.der).digest('hex'),
    subjectCn: cn,
  };
}

/**
 * Lazily created, cached device certificates: nothing is generated until a device's TLS port is
 * first needed, and each device keeps its certificate for the life of the store. With a KeyPool,
 * devices share pre-generated keys (each still gets its own certificate and UUID-based CN).
 */
export class DeviceCertStore {
  private readonly cache = new Map<string, Promise<DeviceTlsIdentity>>();

  constructor(private readonly keyPool?: KeyPool) {}

  get(deviceId: string, opts: DeviceCertOptions): Promise<DeviceTlsIdentity> {
    let p = this.cache.get(deviceId);
    if (!p) {
      p = (this.keyPool ? this.keyPool.take() : generateRsaKeyPair(2048)).then((key) => issueDeviceCertificate(key, opts));
      // Do not cache a failure: the next connection may retry with corrected input.
      p.catch(() => this.cache.delete(deviceId));
      this.cache.set(deviceId, p);
    }
    return p;
  }

  /** Forget a device's certificate (e.g. full unprovision regenerates it). */
  forget(deviceId: string): void {
    this.cache.delete(deviceId);
  }

  get size(): number {
    return this.cache.size;
  }
}
