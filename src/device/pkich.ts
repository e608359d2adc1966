/**
 * PKI-CH: the checks the firmware applies to the provisioning server's TLS client certificate
 * chain during remote configuration (reference §1.4 step 3(d)/(e), §4.3) and, for host-based
 * ACM, to the chain injected with AddNextCertInChain (§5.3). Pure: no I/O, no clock reads —
 * the caller passes `now` (the device clock's date, i.e. the host RTC per §4.4 IsTimeValid).
 *
 * Check order (the first failing rule is reported; deterministic so QA can assert on it):
 *   1. NO_CLIENT_CERT        the peer sent no certificate
 *   2. BAD_INPUT             a certificate does not parse
 *   3. CHAIN_TOO_LONG        more certificates than profile.certificates.maxChainLength
 *   4. CHAIN_INCOMPLETE      the leaf does not chain, through the certificates sent, to a
 *                            self-signed root (firmware holds only hashes, so the root must be sent)
 *   5. BAD_SIGNATURE         a signature along the path (including the root's own) fails
 *   6. SHA1_NOT_ALLOWED      profile bans SHA-1 and a certificate on the path is SHA-1 signed
 *   7. WEAK_KEY              an RSA key on the path is below profile.certificates.minRsaKeyBits
 *   8. CERT_NOT_YET_VALID / CERT_EXPIRED   (only when enforceValidity; leaf first)
 *   9. NOT_SERVER_AUTH       leaf EKU lacks serverAuth (an absent EKU counts as lacking it: the
 *                            SDK says the certificate "must contain the 'SSL Server' OID")
 *  10. MISSING_SETUP_OID_OR_OU  neither EKU 2.16.840.1.113741.1.2.3 nor OU exactly
 *                            'Intel(R) Client Setup Certificate' (case-sensitive)
 *  11. HASH_INACTIVE / HASH_NOT_TRUSTED   root hash vs the NVRAM table
 *  12. NO_DNS_SUFFIX         neither MEBx PKI DNS suffix nor DHCP option 15 domain
 *  13. SUFFIX_MISMATCH       no CN/SAN dNSName matches the suffix (dns-suffix.ts)
 * Steps 9–13 follow the order of Intel's verification-method list (§4.3); `leafPolicy: false`
 * skips 9, 10, 12 and 13.
 */
import { createHash } from 'node:crypto';
import { isAmtError, type Result } from '../common/errors.js';
import type { CertHashEntry, HashAlgorithm } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';
import { matchDnsSuffix, type SuffixRule } from '../pki/dns-suffix.js';
import { sharedCertCache, type CertInfoCache } from '../pki/cert-cache.js';
import { certHash, hashLabel } from '../pki/hashes.js';
import { CLIENT_SETUP_OU, OID, certLabel, type CertInfo } from '../pki/x509-info.js';

export { matchDnsSuffix, TLD_DEPTH, type SuffixRule } from '../pki/dns-suffix.js';

export type PkiChCode =
  | 'NO_CLIENT_CERT'
  | 'BAD_INPUT'
  | 'CHAIN_TOO_LONG'
  | 'CHAIN_INCOMPLETE'
  | 'BAD_SIGNATURE'
  | 'SHA1_NOT_ALLOWED'
  | 'WEAK_KEY'
  | 'CERT_NOT_YET_VALID'
  | 'CERT_EXPIRED'
  | 'NOT_SERVER_AUTH'
  | 'MISSING_SETUP_OID_OR_OU'
  | 'HASH_INACTIVE'
  | 'HASH_NOT_TRUSTED'
  | 'NO_DNS_SUFFIX'
  | 'SUFFIX_MISMATCH';

export interface SetupChainInput {
  /** DER certificates as presented by the TLS peer / AddNextCertInChain, leaf first. */
  chain: Buffer[];
  hashes: CertHashEntry[];
  /** MEBx "PKI DNS Suffix"; '' when not set. */
  pkiDnsSuffix: string;
  /** DHCP option 15 domain the device learned, if any. */
  dhcpDomain?: string;
  profile: FirmwareProfile;
  /** The device clock's date. */
  now: Date;
  /**
   * Fail expired / not-yet-valid certificates (default true). The IPS_TLSProvisioningRecord
   * documentation says AMT "will not cause a Provisioning operation to fail even if the
   * certificate has expired" and only records IsTimeValid (§4.4); set false to emulate that.
   */
  enforceValidity?: boolean;
  /** Domain-suffix rule; default 'sdk' (see dns-suffix.ts, §8 item 7). */
  suffixRule?: SuffixRule;
  /**
   * Apply the leaf rules 9, 10, 12, 13 (serverAuth, OID/OU, DNS suffix). Default true; false
   * checks only chain, crypto, validity and root hash (matchedIdentifier/suffixUsed are then '').
   */
  leafPolicy?: boolean;
  /**
   * Memo of certificate parsing and signature checks (pure functions of the DER bytes; every
   * rule above is still evaluated per call). Default: the process-wide sharedCertCache.
   */
  certCache?: CertInfoCache;
}

export interface SetupChainInfo {
  leafCn: string;
  /** The CN or SAN dNSName that matched the suffix. */
  matchedIdentifier: string;
  suffixUsed: string;
  /** True when the MEBx PKI DNS suffix was used (audit record SecureDNS, §4.4). */
  secureDns: boolean;
  selectedHash: { algorithm: HashAlgorithm; hash: string; isDefault: boolean; name: string };
  /** Serial numbers (hex) of up to three certificates of the path, leaf first (§4.4). */
  caSerials: string[];
  /** The path had more than three certificates. */
  additionalCaSerialNums: boolean;
  leafFingerprintSha256: string;
  /** Every certificate of the path was inside its validity period at `now` (§4.4 IsTimeValid). */
  isTimeValid: boolean;
  /** Certificates of the verified path, leaf first, root last. */
  pathLength: number;
  rootCn: string;
}

type Fail = { ok: false; code: PkiChCode; message: string; detail?: Record<string, unknown> };

function fail(code: PkiChCode, message: string, detail?: Record<string, unknown>): Fail {
  return detail ? { ok: false, code, message, detail } : { ok: false, code, message };
}

const short = (hex: string): string => `${hex.slice(0, 8)}…`;
const day = (d: Date): string => d.toISOString().slice(0, 19) + 'Z';
const role = (i: number, n: number): string => (i === 0 ? 'leaf' : i === n - 1 ? 'root' : 'intermediate');

/** Build leaf→root through the certificates sent; bounded by the number sent. */
function buildPath(certs: CertInfo[], cache: CertInfoCache): { ok: true; path: CertInfo[] } | Fail {
  const verifies = (child: CertInfo, parent: CertInfo): boolean => cache.verifies(child, parent);
  const leaf = certs[0] as CertInfo;
  const path = [leaf];
  const remaining = certs.slice(1);
  let cur = leaf;
  for (let step = 0; step <= certs.length; step++) {
    if (cur.selfSigned) return { ok: true, path };
    if (cur.x509.subject === cur.x509.issuer) {
      return fail('BAD_SIGNATURE', `self-issued ${role(path.length - 1, path.length)} "${certLabel(cur)}" does not verify with its own key`);
    }
    const issuers = remaining.filter((c) => c.x509.ca && cur.x509.checkIssued(c.x509));
    if (issuers.length === 0) {
      const rootMissing = remaining.length === 0 && path.length > 1;
      return fail(
        'CHAIN_INCOMPLETE',
        `"${certLabel(cur)}" is issued by "${cur.issuerCn || cur.x509.issuer}", which the server did not send` +
          (rootMissing ? ' (the root must be sent: the device only holds root hashes)' : ''),
        { certificate: certLabel(cur), missingIssuer: cur.issuerCn },
      );
    }
    const parent = issuers.find((c) => verifies(cur, c));
    if (!parent) {
      return fail('BAD_SIGNATURE', `signature of "${certLabel(cur)}" does not verify with the key of "${certLabel(issuers[0] as CertInfo)}"`, {
        certificate: certLabel(cur),
      });
    }
    remaining.splice(remaining.indexOf(parent), 1);
    path.push(parent);
    cur = parent;
  }
  return fail('CHAIN_INCOMPLETE', `no self-signed root reached from "${certLabel(leaf)}"`);
}

export function validateSetupChain(input: SetupChainInput): Result<SetupChainInfo, PkiChCode> {
  const { chain, profile, now } = input;
  // 1
  if (chain.length === 0) return fail('NO_CLIENT_CERT', 'the provisioning server presented no client certificate');
  // 2
  const cache = input.certCache ?? sharedCertCache;
  const certs: CertInfo[] = [];
  for (let i = 0; i < chain.length; i++) {
    try {
      certs.push(cache.read(chain[i] as Buffer, `certificate ${i + 1} of ${chain.length}`));
    } catch (e) {
      return fail('BAD_INPUT', isAmtError(e) ? e.message : `certificate ${i + 1} of ${chain.length} is unreadable`);
    }
  }
  // 3
  const max = profile.certificates.maxChainLength;
  if (chain.length > max) {
    return fail('CHAIN_TOO_LONG', `chain has ${chain.length} certificates; this firmware (${profile.id}) accepts at most ${max}`);
  }
  // 4, 5
  const built = buildPath(certs, cache);
  if (!built.ok) return built;
  const path = built.path;
  const leaf = path[0] as CertInfo;
  const root = path[path.length - 1] as CertInfo;
  // 6
  if (profile.certificates.sha1Banned) {
    const i = path.findIndex((c) => c.signatureHash === 'SHA1' || c.signatureHash === 'MD5');
    if (i >= 0) {
      const c = path[i] as CertInfo;
      return fail('SHA1_NOT_ALLOWED', `${role(i, path.length)} "${certLabel(c)}" is signed with ${c.signatureHash}; firmware ${profile.id} refuses SHA-1 anywhere in the chain`);
    }
  }
  // 7
  const min = profile.certificates.minRsaKeyBits;
  const weak = path.findIndex((c) => c.keyType === 'rsa' && c.keyBits < min);
  if (weak >= 0) {
    const c = path[weak] as CertInfo;
    return fail('WEAK_KEY', `${role(weak, path.length)} "${certLabel(c)}" has a ${c.keyBits}-bit RSA key; firmware ${profile.id} requires at least ${min} bits`);
  }
  // 8
  const t = now.getTime();
  const isTimeValid = path.every((c) => c.notBefore.getTime() <= t && t <= c.notAfter.getTime());
  if (input.enforceValidity ?? true) {
    for (let i = 0; i < path.length; i++) {
      const c = path[i] as CertInfo;
      if (t < c.notBefore.getTime()) {
        return fail('CERT_NOT_YET_VALID', `${role(i, path.length)} "${certLabel(c)}" is valid from ${day(c.notBefore)}; device clock is ${day(now)}`);
      }
      if (t > c.notAfter.getTime()) {
        return fail('CERT_EXPIRED', `${role(i, path.length)} "${certLabel(c)}" expired ${day(c.notAfter)}; device clock is ${day(now)}`);
      }
    }
  }
  const leafPolicy = input.leafPolicy ?? true;
  // 9
  if (leafPolicy && !leaf.eku?.includes(OID.serverAuth)) {
    return fail('NOT_SERVER_AUTH', `leaf "${certLabel(leaf)}" has no serverAuth (1.3.6.1.5.5.7.3.1) extended key usage` +
      (leaf.eku ? ` (EKU: ${leaf.eku.join(', ') || 'empty'})` : ' (no EKU extension)'));
  }
  // 10
  if (leafPolicy && !leaf.eku?.includes(OID.intelClientSetup) && !leaf.subjectOus.includes(CLIENT_SETUP_OU)) {
    const ous = leaf.subjectOus.length ? `OU ${leaf.subjectOus.map((o) => `"${o}"`).join(', ')}` : 'no OU';
    return fail('MISSING_SETUP_OID_OR_OU', `leaf "${certLabel(leaf)}" has neither EKU ${OID.intelClientSetup} nor OU "${CLIENT_SETUP_OU}" (${ous}; the OU is case-sensitive)`);
  }
  // 11 — entries of algorithms this firmware cannot hold are ignored.
  // The root's digest per algorithm is computed once, not once per table entry.
  const rootDigests = new Map<HashAlgorithm, string>();
  const rootHash = (a: HashAlgorithm): string => {
    let h = rootDigests.get(a);
    if (h === undefined) {
      h = certHash(root.der, a);
      rootDigests.set(a, h);
    }
    return h;
  };
  const usable = input.hashes.filter((h) => profile.hashes.allowed.includes(h.algorithm));
  const matches = usable.filter((h) => h.hash.toLowerCase() === rootHash(h.algorithm));
  const selected = matches.find((h) => h.isActive);
  const activeCount = usable.filter((h) => h.isActive).length;
  const rootSha256 = rootHash('SHA256');
  if (!selected) {
    const first = matches[0];
    if (first) {
      return fail('HASH_INACTIVE', `root "${certLabel(root)}" ${hashLabel(first.algorithm)} ${short(first.hash)} is in the trusted hash table as "${first.name}" but the entry is not active`, {
        rootSha256, entry: first.name,
      });
    }
    return fail('HASH_NOT_TRUSTED', `root "${certLabel(root)}" SHA-256 ${short(rootSha256)} is not in the device's trusted hash table (${activeCount} active entries)`, {
      rootSha256, rootSha1: rootHash('SHA1'),
    });
  }
  // 12
  const mebx = input.pkiDnsSuffix.trim();
  const suffix = mebx || (input.dhcpDomain ?? '').trim();
  if (leafPolicy && !suffix) {
    return fail('NO_DNS_SUFFIX', 'the device has no DNS suffix to match: MEBx PKI DNS suffix is empty and DHCP gave no domain (option 15)');
  }
  // 13
  const identifiers = [...new Set([leaf.subjectCn, ...leaf.sanDns].filter((s) => s.length > 0))];
  const matched = leafPolicy ? identifiers.find((id) => matchDnsSuffix(id, suffix, input.suffixRule ?? 'sdk')) : '';
  if (matched === undefined) {
    const src = mebx ? 'MEBx PKI DNS suffix' : 'DHCP domain';
    return fail('SUFFIX_MISMATCH', `leaf ${identifiers.map((s) => `"${s}"`).join(', ') || '(no CN or SAN)'} does not match the ${src} "${suffix}"`, {
      identifiers, suffix,
    });
  }
  return {
    ok: true,
    value: {
      leafCn: leaf.subjectCn,
      matchedIdentifier: matched,
      suffixUsed: leafPolicy ? suffix : '',
      secureDns: leafPolicy && mebx.length > 0,
      selectedHash: { algorithm: selected.algorithm, hash: selected.hash.toLowerCase(), isDefault: selected.isDefault, name: selected.name },
      caSerials: path.slice(0, 3).map((c) => c.serialHex),
      additionalCaSerialNums: path.length > 3,
      leafFingerprintSha256: createHash('sha256').update(leaf.der).digest('hex'),
      isTimeValid,
      pathLength: path.length,
      rootCn: root.subjectCn,
    },
  };
}
