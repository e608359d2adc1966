import { AmtError } from '../common/errors.js';
import type { FirmwareProfileId, HashAlgorithm } from './image.js';
import type { FirmwareProfile } from './profile-types.js';

/**
 * The firmware profile table. Every value names its source in /work/shared/reference/amt-protocol.md
 * ("§n"); where the reference says [UNKNOWN] the comment says "choice:" and why.
 *
 * Gates used throughout (reference):
 * - §4.1 hash table: 20 embedded + 3 custom before Release 7.0; 7.0 adds 10 embedded → 33
 *   (rpc-go CERT_HASH_MAX_NUMBER = 33; handles 20–22 are the user-creatable ones).
 * - §4.1 "In Intel ME 11.0 the default SHA1 certificate hashes were removed"; ME 15.0 (H) / 16.0
 *   (all): SHA-1 can no longer be added, no SHA-1 in the chain, RSA < 2048 refused.
 * - §4.2 hash algorithms SHA-256/SHA-384 "From Release 6.0 only".
 * - §1.2 PSK hello (interface version 2) "removed in AMT 11.0"; PKI hello ≤ 23 hashes (§1.2 SDK).
 * - §6.1 AMT 12.0 added TLS 1.2 and removed TLS 1.0; CSME 16.1 drops remote 16992/16994/623;
 *   CSME 19 refuses non-TLS local connections too (MKHI bit 0x40, §2.2).
 * - §5.3 AdminSetup "Starting from Intel CSME 19.0 … will be removed"; host-based setup is AMT 7+
 *   (IPS_HostBasedSetupService "Starting from Release 7.0", §0).
 * - §2.1 ExtendProvisioningPeriod resets the period to 1–24 h.
 * - §5.4 secure host-based (TLS, Local-PKI) ACM with CFG_StartConfigurationHBased: "CSME 14+"
 *   (CSME and AMT majors are equal from 11 on), so amt15/amt16/amt19 have it and amt11/amt12 do not.
 */

const ALL_ALGORITHMS: HashAlgorithm[] = ['SHA1', 'SHA256', 'SHA384'];
const NO_SHA1: HashAlgorithm[] = ['SHA256', 'SHA384'];

/** §4.1: 20 embedded + 3 custom before 7.0. */
const PRE7_HASHES = { capacity: 23, maxCustom: 3, maxInHello: 23 } as const;
/** §4.1: 7.0 adds ten embedded → 33; still three user-creatable (rpc-go issue 42); hello ≤ 23 (§1.2). */
const POST7_HASHES = { capacity: 33, maxCustom: 3, maxInHello: 23 } as const;

/**
 * choice: the firmware maximum chain length is [UNKNOWN] (§4.3, §9 q8). 4 (leaf, two intermediates,
 * root) accepts the common commercial chains; the one 4-certificate failure on record is more
 * likely its SHA-1 certificate (§4.3, deployment issue 268).
 */
const MAX_CHAIN = 4;
/** §2.1: ExtendProvisioningPeriod accepts 1–24 h. */
const MAX_EXTEND_HOURS = 24;

export const FIRMWARE_PROFILES: Readonly<Record<FirmwareProfileId, FirmwareProfile>> = {
  amt3: {
    id: 'amt3',
    amtMajor: 3,
    // choice: an invented but well-formed 3.x version; no capture of an AMT 3 Server header exists.
    defaultVersion: '3.2.1.1004',
    hashes: {
      // §4.2: SHA-256/384 entries "From Release 6.0 only" → SHA-1 only.
      allowed: ['SHA1'],
      // §4.1: legacy SHA-1 defaults (Intel blog 2010).
      defaultAlgorithms: ['SHA1'],
      ...PRE7_HASHES,
    },
    // Microsoft ConfigMgr: 1024/2048-bit keys (4096 only from 6.0), §4.3.
    certificates: { sha1Banned: false, minRsaKeyBits: 1024, maxChainLength: MAX_CHAIN },
    // §1.2: both hello formats exist before 11.0.
    hello: { pki: true, psk: true },
    network: {
      nonTlsRemotePorts: true,
      tlsEnforcedLocal: false,
      // choice: TLS 1.1 support before 12 is [UNKNOWN]; AMT 3 predates wide TLS 1.1 use, so 1.0 only.
      tlsVersions: ['TLSv1'],
    },
    // §0/§5: host-based setup arrives in 7.0; TLS-PSK remote configuration exists (seed 001/002).
    setup: { hostBased: false, hostBasedAdminSetup: false, hostBasedTls: false, tlsPsk: true, maxExtendHours: MAX_EXTEND_HOURS },
  },
  amt6: {
    id: 'amt6',
    amtMajor: 6,
    // choice: invented 6.x version string (format as in §6.2 headers).
    defaultVersion: '6.2.61.3535',
    hashes: {
      allowed: ALL_ALGORITHMS, // §4.2: SHA-256/384 from 6.0.
      // choice: SHA-1 defaults only — no source lists SHA-256 defaults for 6.x (data/README-root-hashes.md).
      defaultAlgorithms: ['SHA1'],
      ...PRE7_HASHES,
    },
    certificates: { sha1Banned: false, minRsaKeyBits: 1024, maxChainLength: MAX_CHAIN },
    hello: { pki: true, psk: true },
    network: { nonTlsRemotePorts: true, tlsEnforcedLocal: false, tlsVersions: ['TLSv1', 'TLSv1.1'] },
    setup: { hostBased: false, hostBasedAdminSetup: false, hostBasedTls: false, tlsPsk: true, maxExtendHours: MAX_EXTEND_HOURS },
  },
  amt11: {
    id: 'amt11',
    amtMajor: 11,
    // RPS test payload of a real-looking AMT 11 device: ver 11.8.50, build 3425 (data/README-root-hashes.md).
    defaultVersion: '11.8.50.3425',
    hashes: {
      allowed: ALL_ALGORITHMS, // SHA-1 may still be added until 15/16 (§4.1).
      defaultAlgorithms: ['SHA256'], // §4.1: ME 11 removed the SHA-1 defaults.
      ...POST7_HASHES,
    },
    certificates: { sha1Banned: false, minRsaKeyBits: 1024, maxChainLength: MAX_CHAIN },
    hello: { pki: true, psk: false }, // §1.2: PSK hello removed in 11.0.
    network: { nonTlsRemotePorts: true, tlsEnforcedLocal: false, tlsVersions: ['TLSv1', 'TLSv1.1'] },
    // §5.2: legacy AdminSetup over 16992; choice: TLS-PSK remote configuration goes with the PSK hello (removed in 11).
    setup: { hostBased: true, hostBasedAdminSetup: true, hostBasedTls: false, tlsPsk: false, maxExtendHours: MAX_EXTEND_HOURS },
  },
  amt12: {
    id: 'amt12',
    amtMajor: 12,
    // choice: invented 12.x version string.
    defaultVersion: '12.0.45.1509',
    hashes: { allowed: ALL_ALGORITHMS, defaultAlgorithms: ['SHA256'], ...POST7_HASHES },
    certificates: { sha1Banned: false, minRsaKeyBits: 1024, maxChainLength: MAX_CHAIN },
    hello: { pki: true, psk: false },
    // §6.1: AMT 12.0 added TLS 1.2 and removed TLS 1.0.
    network: { nonTlsRemotePorts: true, tlsEnforcedLocal: false, tlsVersions: ['TLSv1.1', 'TLSv1.2'] },
    setup: { hostBased: true, hostBasedAdminSetup: true, hostBasedTls: false, tlsPsk: false, maxExtendHours: MAX_EXTEND_HOURS },
  },
  amt15: {
    id: 'amt15',
    amtMajor: 15,
    // RPS test payload: ver 15.0.23, build 1706.
    defaultVersion: '15.0.23.1706',
    hashes: {
      // choice: §4.1 bans SHA-1 on "ME 15.0 (H)" only; this profile models the non-H 15.0, where
      // SHA-1 is still accepted. Use amt16 for the ban.
      allowed: ALL_ALGORITHMS,
      defaultAlgorithms: ['SHA256'],
      ...POST7_HASHES,
    },
    certificates: { sha1Banned: false, minRsaKeyBits: 1024, maxChainLength: MAX_CHAIN },
    hello: { pki: true, psk: false },
    // SDK detaileddescription21.htm: "Starting from Intel CSME 15.0 firmware for desktops, and Intel
    // CSME 16.0 firmware for all platforms, Intel has removed support for TLS 1.1" (desktop modelled).
    network: { nonTlsRemotePorts: true, tlsEnforcedLocal: false, tlsVersions: ['TLSv1.2'] },
    setup: { hostBased: true, hostBasedAdminSetup: true, hostBasedTls: true, tlsPsk: false, maxExtendHours: MAX_EXTEND_HOURS },
  },
  amt16: {
    id: 'amt16',
    amtMajor: 16,
    // §6.2: captured Server header "Intel(R) Active Management Technology 16.1.25.2124".
    defaultVersion: '16.1.25.2124',
    hashes: {
      allowed: NO_SHA1, // §4.1: from 16.0 no SHA-1 hashes can be added.
      defaultAlgorithms: ['SHA256'],
      ...POST7_HASHES,
    },
    // §4.1/§4.3: no SHA-1 in the chain, RSA ≥ 2048.
    certificates: { sha1Banned: true, minRsaKeyBits: 2048, maxChainLength: MAX_CHAIN },
    hello: { pki: true, psk: false },
    // §6.1: from CSME 16.1 remote 16992/16994/623 are gone (the default version is 16.1).
    // SDK detaileddescription21.htm: TLS 1.1 removed from CSME 16.0 on all platforms.
    network: { nonTlsRemotePorts: false, tlsEnforcedLocal: false, tlsVersions: ['TLSv1.2'] },
    setup: { hostBased: true, hostBasedAdminSetup: true, hostBasedTls: true, tlsPsk: false, maxExtendHours: MAX_EXTEND_HOURS },
  },
  amt19: {
    id: 'amt19',
    amtMajor: 19,
    // choice: invented 19.x version string.
    defaultVersion: '19.0.5.1975',
    hashes: { allowed: NO_SHA1, defaultAlgorithms: ['SHA256'], ...POST7_HASHES },
    certificates: { sha1Banned: true, minRsaKeyBits: 2048, maxChainLength: MAX_CHAIN },
    hello: { pki: true, psk: false },
    network: {
      nonTlsRemotePorts: false,
      tlsEnforcedLocal: true, // §6.1: CSME 19 refuses non-TLS local connections too.
      // choice: no Intel source states TLS 1.3 on AMT (§9). CSME 19 is TLS-only on every port and
      // rpc-go asks for "TLS ≥ 1.2" there (§5.4), so this profile offers 1.3 as well; the older
      // profiles stop at 1.2. Change it here if a capture shows otherwise.
      tlsVersions: ['TLSv1.2', 'TLSv1.3'],
    },
    // §5.3: AdminSetup removed in CSME 19; §5.4: the secure host-based TLS path is mandatory there.
    setup: { hostBased: true, hostBasedAdminSetup: false, hostBasedTls: true, tlsPsk: false, maxExtendHours: MAX_EXTEND_HOURS },
  },
};

export const FIRMWARE_PROFILE_IDS = Object.keys(FIRMWARE_PROFILES) as FirmwareProfileId[];

export function isFirmwareProfileId(id: string): id is FirmwareProfileId {
  return Object.prototype.hasOwnProperty.call(FIRMWARE_PROFILES, id);
}

/** The profile for an id; a bad id (CLI flag, scenario, API body) → BAD_INPUT listing the valid ones. */
export function getProfile(id: string): FirmwareProfile {
  if (!isFirmwareProfileId(id)) {
    throw new AmtError('BAD_INPUT', `unknown firmware profile '${id}' (valid: ${FIRMWARE_PROFILE_IDS.join(', ')})`, {
      profile: id,
      valid: FIRMWARE_PROFILE_IDS,
    });
  }
  return FIRMWARE_PROFILES[id];
}
