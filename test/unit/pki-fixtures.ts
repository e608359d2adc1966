/** Shared fixtures for PKI tests: profiles built locally (the PKI code takes the profile as data). */
import type { CertHashEntry, HashAlgorithm } from '../../src/nvram/image.js';
import type { FirmwareProfile } from '../../src/nvram/profile-types.js';

function profile(id: FirmwareProfile['id'], amtMajor: number, modern: boolean, maxChainLength = 5): FirmwareProfile {
  return {
    id,
    amtMajor,
    defaultVersion: `${amtMajor}.0.0.0000`,
    hashes: {
      allowed: modern ? ['SHA256', 'SHA384'] : ['SHA1', 'SHA256', 'SHA384'],
      defaultAlgorithms: ['SHA256'],
      capacity: 33,
      maxCustom: 3,
      maxInHello: 23,
    },
    certificates: { sha1Banned: modern, minRsaKeyBits: modern ? 2048 : 1024, maxChainLength },
    hello: { pki: true, psk: !modern },
    network: { nonTlsRemotePorts: !modern, tlsEnforcedLocal: false, tlsVersions: ['TLSv1.2', 'TLSv1.3'] },
    setup: { hostBased: true, hostBasedAdminSetup: true, hostBasedTls: modern, tlsPsk: !modern, maxExtendHours: 24 },
  };
}

/** ME 16-like: SHA-1 banned, RSA ≥ 2048. */
export const MODERN = profile('amt16', 16, true);
/** ME 11/12-like: SHA-1 allowed, RSA ≥ 1024. */
export const LEGACY = profile('amt12', 12, false);
export const SHORT_CHAIN = profile('amt16', 16, true, 2);

/** 22 unrelated active entries, so messages show a realistic count. */
export function factoryHashes(): CertHashEntry[] {
  return Array.from({ length: 22 }, (_, i) => ({
    name: `Factory Root ${i + 1}`,
    algorithm: 'SHA256' as const,
    hash: (i + 1).toString(16).padStart(2, '0').repeat(32),
    isDefault: true,
    isActive: true,
  }));
}

export function entry(algorithm: HashAlgorithm, hash: string, isActive = true, name = 'amtemu Test Root'): CertHashEntry {
  return { name, algorithm, hash, isDefault: false, isActive };
}
