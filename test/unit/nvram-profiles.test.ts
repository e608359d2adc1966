import { describe, expect, it } from 'vitest';
import { isAmtError } from '../../src/common/errors.js';
import { FIRMWARE_PROFILE_IDS, FIRMWARE_PROFILES, getProfile } from '../../src/nvram/profiles.js';
import { defaultHashEntries, rootHashCatalogue } from '../../src/nvram/root-catalogue.js';

describe('firmware profiles', () => {
  it('has the seven releases, ids matching keys, majors ascending', () => {
    expect(FIRMWARE_PROFILE_IDS).toEqual(['amt3', 'amt6', 'amt11', 'amt12', 'amt15', 'amt16', 'amt19']);
    const majors = FIRMWARE_PROFILE_IDS.map((id) => FIRMWARE_PROFILES[id].amtMajor);
    expect(majors).toEqual([3, 6, 11, 12, 15, 16, 19]);
    for (const id of FIRMWARE_PROFILE_IDS) {
      const p = FIRMWARE_PROFILES[id];
      expect(p.id).toBe(id);
      expect(p.defaultVersion.startsWith(`${p.amtMajor}.`)).toBe(true);
    }
  });

  it('follows the reference gates', () => {
    for (const id of FIRMWARE_PROFILE_IDS) {
      const p = FIRMWARE_PROFILES[id];
      expect(p.hashes.capacity).toBe(p.amtMajor < 7 ? 23 : 33); // §4.1
      expect(p.hashes.maxCustom).toBe(3);
      expect(p.hashes.defaultAlgorithms.includes('SHA1')).toBe(p.amtMajor < 11); // ME 11 removed SHA-1 defaults
      expect(p.hello.psk).toBe(p.amtMajor < 11);
      expect(p.network.tlsVersions.includes('TLSv1.2')).toBe(p.amtMajor >= 12);
      expect(p.network.tlsVersions.includes('TLSv1')).toBe(p.amtMajor < 12);
      expect(p.network.nonTlsRemotePorts).toBe(p.amtMajor < 16);
      expect(p.network.tlsEnforcedLocal).toBe(p.amtMajor >= 19);
      expect(p.setup.hostBasedAdminSetup).toBe(p.amtMajor >= 7 && p.amtMajor < 19);
      expect(p.setup.maxExtendHours).toBe(24);
      if (p.amtMajor >= 16) {
        expect(p.hashes.allowed).not.toContain('SHA1');
        expect(p.certificates.minRsaKeyBits).toBeGreaterThanOrEqual(2048);
      }
      for (const a of p.hashes.defaultAlgorithms) expect(p.hashes.allowed).toContain(a);
    }
  });

  it('getProfile refuses an unknown id listing the valid ones', () => {
    expect(getProfile('amt11').amtMajor).toBe(11);
    try {
      getProfile('amt99');
      expect.unreachable();
    } catch (e) {
      expect(isAmtError(e, 'BAD_INPUT')).toBe(true);
      expect((e as Error).message).toContain('amt3, amt6, amt11, amt12, amt15, amt16, amt19');
    }
  });
});

describe('root-hash catalogue', () => {
  it('every factory table fits its profile and uses its default algorithms', () => {
    for (const id of FIRMWARE_PROFILE_IDS) {
      const p = FIRMWARE_PROFILES[id];
      const entries = defaultHashEntries(p);
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.length + p.hashes.maxCustom).toBeLessThanOrEqual(p.hashes.capacity);
      expect(entries.length).toBe(rootHashCatalogue().defaultTables[id].length);
      for (const e of entries) {
        expect(p.hashes.defaultAlgorithms).toContain(e.algorithm);
        expect(Buffer.byteLength(e.name)).toBeLessThanOrEqual(32);
        expect(e.isDefault && e.isActive).toBe(true);
      }
    }
  });

  it('identified roots name their source certificate; legacy SHA-1 values match the reference', () => {
    const roots = rootHashCatalogue().roots;
    const sha1 = (name: string) => roots.find((r) => r.name === name && r.algorithm === 'SHA1')!.hash;
    // Reference §4.1 (Intel community 2010): prefixes…suffixes of the legacy defaults.
    expect(sha1('VeriSign Class 3 Primary CA-G1')).toMatch(/^742c3192.*3e6174e2$/);
    expect(sha1('Go Daddy Class 2 CA')).toMatch(/^2796bae6.*8f20eee4$/);
    expect(sha1('Starfield Class 2 CA')).toMatch(/^ad7e1c28.*370eb58a$/);
    const seen = roots.filter((r) => r.seenInMeshCentralSample);
    expect(seen).toHaveLength(24);
    expect(seen.filter((r) => r.subject !== null)).toHaveLength(20);
  });
});
