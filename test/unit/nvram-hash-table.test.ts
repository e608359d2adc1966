import { describe, expect, it } from 'vitest';
import { isAmtError, type AmtErrorCode } from '../../src/common/errors.js';
import {
  hashAlgorithmOf,
  activeHashes,
  addHash,
  deleteHash,
  normalizeHash,
  removeCustomHashes,
  restoreDefaultHashes,
  setHashActive,
} from '../../src/nvram/hash-table.js';
import type { CertHashEntry } from '../../src/nvram/image.js';
import { FIRMWARE_PROFILES } from '../../src/nvram/profiles.js';

const amt6 = FIRMWARE_PROFILES.amt6;
const amt16 = FIRMWARE_PROFILES.amt16;
const hex = (byte: number, len: number): string => byte.toString(16).padStart(2, '0').repeat(len);

function code(fn: () => unknown): AmtErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (e) {
    if (isAmtError(e)) return e.code;
    throw e;
  }
}

describe('hash table rules', () => {
  it('adds a custom SHA-256 entry, lower-cased, active, not default', () => {
    const table = addHash(restoreDefaultHashes(amt16), amt16, { name: 'Test CA', algorithm: 'SHA256', hash: 'AB:'.repeat(31) + 'AB' });
    const added = table.at(-1)!;
    expect(added).toEqual({ name: 'Test CA', algorithm: 'SHA256', hash: hex(0xab, 32), isDefault: false, isActive: true });
  });

  it('SHA-1 is banned on amt16 but accepted on amt6', () => {
    const entry = { name: 'Old CA', algorithm: 'SHA1' as const, hash: hex(1, 20) };
    expect(code(() => addHash(restoreDefaultHashes(amt16), amt16, entry))).toBe('HASH_ALGORITHM_BANNED');
    expect(addHash(restoreDefaultHashes(amt6), amt6, entry).at(-1)!.algorithm).toBe('SHA1');
  });

  it('SHA-256 cannot be added on amt3 (SHA-256 entries exist from Release 6.0)', () => {
    expect(code(() => addHash([], FIRMWARE_PROFILES.amt3, { name: 'x', algorithm: 'SHA256', hash: hex(1, 32) }))).toBe('HASH_ALGORITHM_BANNED');
  });

  it('wrong length per algorithm and non-hex characters are refused', () => {
    expect(code(() => normalizeHash(hex(1, 31), 'SHA256'))).toBe('HASH_WRONG_LENGTH');
    expect(code(() => normalizeHash(hex(1, 32), 'SHA1'))).toBe('HASH_WRONG_LENGTH');
    expect(code(() => normalizeHash(hex(1, 48), 'SHA384'))).toBe('none');
    expect(code(() => normalizeHash('zz' + hex(1, 31), 'SHA256'))).toBe('BAD_INPUT');
  });

  it('a name over 32 bytes is refused, counting UTF-8 bytes', () => {
    expect(code(() => addHash([], amt16, { name: 'x'.repeat(33), algorithm: 'SHA256', hash: hex(2, 32) }))).toBe('HASH_NAME_TOO_LONG');
    // 16 × 'é' = 32 bytes: fits; 17 = 34 bytes: too long.
    expect(code(() => addHash([], amt16, { name: 'é'.repeat(16), algorithm: 'SHA256', hash: hex(2, 32) }))).toBe('none');
    expect(code(() => addHash([], amt16, { name: 'é'.repeat(17), algorithm: 'SHA256', hash: hex(2, 32) }))).toBe('HASH_NAME_TOO_LONG');
  });

  it('a hash already present (default or custom) is a duplicate', () => {
    const defaults = restoreDefaultHashes(amt16);
    expect(code(() => addHash(defaults, amt16, { name: 'again', algorithm: 'SHA256', hash: defaults[0]!.hash.toUpperCase() }))).toBe('HASH_DUPLICATE');
  });

  it.each(['amt3', 'amt6', 'amt11', 'amt12', 'amt15', 'amt16', 'amt19'] as const)('%s takes exactly maxCustom custom entries', (id) => {
    const p = FIRMWARE_PROFILES[id];
    const alg = p.hashes.allowed.includes('SHA256') ? 'SHA256' : 'SHA1';
    const len = alg === 'SHA256' ? 32 : 20;
    let table: CertHashEntry[] = restoreDefaultHashes(p);
    for (let i = 0; i < p.hashes.maxCustom; i++) table = addHash(table, p, { name: `c${i}`, algorithm: alg, hash: hex(0x10 + i, len) });
    expect(table.filter((e) => !e.isDefault)).toHaveLength(p.hashes.maxCustom);
    expect(code(() => addHash(table, p, { name: 'one more', algorithm: alg, hash: hex(0x77, len) }))).toBe('HASH_TABLE_FULL');
  });

  it('total capacity limits even when custom slots remain', () => {
    const p = { ...amt16, hashes: { ...amt16.hashes, capacity: restoreDefaultHashes(amt16).length } };
    expect(code(() => addHash(restoreDefaultHashes(amt16), p, { name: 'x', algorithm: 'SHA256', hash: hex(9, 32) }))).toBe('HASH_TABLE_FULL');
  });

  it('deletes custom entries by name or hash; defaults only deactivate', () => {
    const defaults = restoreDefaultHashes(amt16);
    let table = addHash(defaults, amt16, { name: 'mine', algorithm: 'SHA256', hash: hex(3, 32) });
    expect(deleteHash(table, 'mine')).toEqual(defaults);
    expect(deleteHash(table, hex(3, 32).toUpperCase())).toEqual(defaults);
    expect(code(() => deleteHash(table, defaults[0]!.name))).toBe('HASH_DEFAULT_UNDELETABLE');
    expect(code(() => deleteHash(table, 'nope'))).toBe('HASH_NOT_FOUND');
    table = setHashActive(table, defaults[0]!.hash, false);
    expect(table[0]!.isActive).toBe(false);
    expect(activeHashes({ certHashes: table })).toHaveLength(table.length - 1);
    expect(code(() => setHashActive(table, 'nope', true))).toBe('HASH_NOT_FOUND');
  });

  it('a name shared by two entries is ambiguous', () => {
    const t: CertHashEntry[] = [
      { name: 'Same', algorithm: 'SHA1', hash: hex(1, 20), isDefault: false, isActive: true },
      { name: 'Same', algorithm: 'SHA256', hash: hex(1, 32), isDefault: false, isActive: true },
    ];
    expect(code(() => deleteHash(t, 'Same'))).toBe('BAD_INPUT');
  });

  it('unprovision removes custom entries and keeps defaults', () => {
    const defaults = restoreDefaultHashes(amt16);
    const table = addHash(defaults, amt16, { name: 'mine', algorithm: 'SHA256', hash: hex(3, 32) });
    expect(removeCustomHashes(table)).toEqual(defaults);
  });
});

describe('hash algorithm from length', () => {
  it('is what the MEBx screen infers: 20, 32, 48 bytes (colons and spaces ignored); another length says nothing', () => {
    expect(hashAlgorithmOf('ab'.repeat(20))).toBe('SHA1');
    expect(hashAlgorithmOf('AB:'.repeat(31) + 'AB')).toBe('SHA256');
    expect(hashAlgorithmOf('ab'.repeat(48))).toBe('SHA384');
    expect(hashAlgorithmOf('ab'.repeat(21))).toBeUndefined();
  });

  it('lets fleet files and scenarios leave algorithm out of hashes.add', async () => {
    const { loadFleetText } = await import('../../src/fleet/fleet-file.js');
    const f = loadFleetText(`devices:\n  - id: pc1\n    hashes: {add: [{name: corp384, hash: ${'cd'.repeat(48)}}]}\n`, 'fleet.yaml');
    expect(f.devices[0]!.fields.hashes?.add?.[0]).toMatchObject({ name: 'corp384' });
  });
});
