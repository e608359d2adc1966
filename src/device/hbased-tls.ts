/**
 * The check on the local mutual-TLS session that follows CFG_StartConfigurationHBased
 * (secure host-based "Local-PKI" ACM, reference §5.4). Pure apart from the inputs it is given.
 *
 * Rules, in order (first failure reported):
 *   1. NO_CLIENT_CERT              the host-side server sent no certificate
 *   2. SERVER_CERT_HASH_MISMATCH   the leaf's hash (the pinned algorithm) is not the pinned
 *                                  ServerCertHash — or nothing is pinned (RAM lost at power-off).
 *                                  SDK: "Server leaf certificate hash that Intel AMT is allowed to
 *                                  accept for the Host Based Mutual TLS session".
 *   3. the PKI-CH rules of pkich.ts (chain to a root whose hash is in the trusted table, OID/OU,
 *      serverAuth, SHA-1/key size, validity, DNS suffix).
 * choice (rule 3): the SDK names only the leaf hash; the reference gives no source that the
 * firmware skips its provisioning-certificate rules on this path. The chain is kept: it is the
 * same ACM provisioning certificate rpc-go uses for legacy ACM (§5.4 "provisioning chain as
 * client cert"), and without it any local administrator could pin a self-made certificate and
 * reach ACM, which the trusted-root-hash model (§4.3) exists to prevent.
 * choice (DNS suffix): the leaf may match the MEBx PKI DNS suffix, the DHCP option 15 domain, or
 * any suffix of the command's NetworkDnsSuffixList — the host passes that list precisely so a PC
 * on a VPN (HostVPNEnable) can name the domains it is in (§5.4).
 */
import { createHash } from 'node:crypto';
import type { Result } from '../common/errors.js';
import type { CertHashEntry } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';
import type { HostBasedPin } from './device.js';
import { validateSetupChain, type PkiChCode, type SetupChainInfo } from './pkich.js';

export type HostBasedTlsCode = PkiChCode | 'SERVER_CERT_HASH_MISMATCH';

export interface HostBasedTlsInput {
  chain: Buffer[];
  pin: Readonly<HostBasedPin> | undefined;
  hashes: CertHashEntry[];
  pkiDnsSuffix: string;
  dhcpDomain?: string;
  profile: FirmwareProfile;
  now: Date;
}

export function validateHostBasedTlsChain(i: HostBasedTlsInput): Result<SetupChainInfo, HostBasedTlsCode> {
  const leaf = i.chain[0];
  if (!leaf) return { ok: false, code: 'NO_CLIENT_CERT', message: 'the host-based TLS peer presented no client certificate' };
  if (!i.pin) {
    return { ok: false, code: 'SERVER_CERT_HASH_MISMATCH', message: 'no server certificate hash is pinned (firmware RAM was cleared): run CFG_StopConfiguration and CFG_StartConfigurationHBased again' };
  }
  const got = createHash(i.pin.algorithm === 'SHA384' ? 'sha384' : 'sha256').update(leaf).digest('hex');
  if (got !== i.pin.serverCertHash) {
    return {
      ok: false,
      code: 'SERVER_CERT_HASH_MISMATCH',
      message: `server leaf ${i.pin.algorithm} ${got.slice(0, 16)}… is not the hash pinned by StartConfigurationHBased (${i.pin.serverCertHash.slice(0, 16)}…)`,
      detail: { algorithm: i.pin.algorithm, presented: got, pinned: i.pin.serverCertHash },
    };
  }
  const base = { chain: i.chain, hashes: i.hashes, profile: i.profile, now: i.now };
  const first = validateSetupChain({ ...base, pkiDnsSuffix: i.pkiDnsSuffix, ...(i.dhcpDomain ? { dhcpDomain: i.dhcpDomain } : {}) });
  if (first.ok || (first.code !== 'SUFFIX_MISMATCH' && first.code !== 'NO_DNS_SUFFIX')) return first;
  for (const suffix of i.pin.dnsSuffixes) {
    const r = validateSetupChain({ ...base, pkiDnsSuffix: '', dhcpDomain: suffix });
    if (r.ok) return r;
  }
  if (i.pin.dnsSuffixes.length === 0) return first;
  return { ok: false, code: 'SUFFIX_MISMATCH', message: `${first.message}; nor any suffix of the host's list (${i.pin.dnsSuffixes.join(', ')})`, detail: { ...(first.detail ?? {}), hostSuffixes: i.pin.dnsSuffixes } };
}
