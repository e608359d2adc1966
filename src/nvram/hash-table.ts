import { AmtError } from '../common/errors.js';
import { HASH_LENGTH, type CertHashEntry, type HashAlgorithm, type NvramImage } from './image.js';
import type { FirmwareProfile } from './profile-types.js';
import { defaultHashEntries } from './root-catalogue.js';

/**
 * The trusted-root certificate hash table (reference §4.1–§4.2) as pure functions: each takes
 * the current entries and returns new ones, or throws an AmtError with a HASH_* code. The same
 * rules serve PTHI, WS-Man, MEBx, the CLI and the API.
 */

export type HashTable = readonly CertHashEntry[];

/** SDK CFG_GetCertificateHashEntry: "friendly name which is up to 32 bytes". */
export const MAX_HASH_NAME_BYTES = 32;

export interface NewHashEntry {
  name: string;
  algorithm: HashAlgorithm;
  /** Hex, either case; colons/spaces between bytes (openssl fingerprint style) are accepted. */
  hash: string;
  /** Custom entries are active once added (MEBx/setup.bin add them "in use"); default true. */
  isActive?: boolean;
}

/**
 * The algorithm a hash's length says it is (20/32/48 bytes, §4.2), as the MEBx screen infers it;
 * undefined for any other length.
 */
export function hashAlgorithmOf(hex: string): HashAlgorithm | undefined {
  const bytes = hex.trim().replace(/[:\s]/g, '').length / 2;
  return (Object.keys(HASH_LENGTH) as HashAlgorithm[]).find((a) => HASH_LENGTH[a] === bytes);
}

/**
 * Lower-cases and checks a hex hash against the algorithm's length (20/32/48 bytes, §4.2).
 * A non-hex character is not a length problem, so it is BAD_INPUT naming the character.
 */
export function normalizeHash(hex: string, algorithm: HashAlgorithm): string {
  const compact = hex.trim().replace(/[:\s]/g, '').toLowerCase();
  const badChar = /[^0-9a-f]/.exec(compact);
  if (badChar) {
    throw new AmtError('BAD_INPUT', `hash contains non-hex character '${badChar[0]}'`, { hash: hex });
  }
  const want = HASH_LENGTH[algorithm] * 2;
  if (compact.length !== want) {
    throw new AmtError(
      'HASH_WRONG_LENGTH',
      `${algorithm} hash must be ${want} hex characters (${HASH_LENGTH[algorithm]} bytes), got ${compact.length}`,
      { algorithm, length: compact.length },
    );
  }
  return compact;
}

/** Adds a custom (user) entry — MEBx "add up to three additional certificate hashes" (§4.1). */
export function addHash(table: HashTable, profile: FirmwareProfile, entry: NewHashEntry): CertHashEntry[] {
  const name = entry.name;
  if (name.length === 0) throw new AmtError('BAD_INPUT', 'hash entry name must not be empty');
  const nameBytes = Buffer.byteLength(name, 'utf8');
  if (nameBytes > MAX_HASH_NAME_BYTES) {
    throw new AmtError('HASH_NAME_TOO_LONG', `hash entry name is ${nameBytes} bytes; the firmware keeps at most ${MAX_HASH_NAME_BYTES}`, { name });
  }
  if (!profile.hashes.allowed.includes(entry.algorithm)) {
    // §4.1: ME 15 H / 16+ refuse SHA-1; AMT < 6 knows only SHA-1 (§4.2).
    throw new AmtError(
      'HASH_ALGORITHM_BANNED',
      `${entry.algorithm} hashes cannot be added on ${profile.id} (allowed: ${profile.hashes.allowed.join(', ')})`,
      { algorithm: entry.algorithm, profile: profile.id },
    );
  }
  const hash = normalizeHash(entry.hash, entry.algorithm);
  const existing = table.find((e) => e.hash === hash);
  if (existing) {
    throw new AmtError('HASH_DUPLICATE', `hash already present as '${existing.name}'`, { hash, name: existing.name });
  }
  const custom = table.filter((e) => !e.isDefault).length;
  if (custom >= profile.hashes.maxCustom) {
    throw new AmtError('HASH_TABLE_FULL', `all ${profile.hashes.maxCustom} custom hash slots are in use on ${profile.id}`, {
      custom,
      maxCustom: profile.hashes.maxCustom,
    });
  }
  if (table.length >= profile.hashes.capacity) {
    throw new AmtError('HASH_TABLE_FULL', `hash table holds its maximum of ${profile.hashes.capacity} entries on ${profile.id}`, {
      capacity: profile.hashes.capacity,
    });
  }
  return [...table, { name, algorithm: entry.algorithm, hash, isDefault: false, isActive: entry.isActive ?? true }];
}

/**
 * Finds an entry by hash (any case, colons allowed) or, failing that, by exact name.
 * A name shared by several entries (SHA-1 and SHA-256 of one root) is ambiguous → BAD_INPUT.
 */
export function findHashIndex(table: HashTable, key: string): number {
  const asHash = key.trim().replace(/[:\s]/g, '').toLowerCase();
  const byHash = table.findIndex((e) => e.hash === asHash);
  if (byHash >= 0) return byHash;
  const byName = table.flatMap((e, i) => (e.name === key ? [i] : []));
  if (byName.length > 1) {
    throw new AmtError('BAD_INPUT', `'${key}' names ${byName.length} entries; give the hash instead`, { key });
  }
  if (byName.length === 1) return byName[0]!;
  throw new AmtError('HASH_NOT_FOUND', `no hash entry with hash or name '${key}'`, { key });
}

/** Deletes a custom entry. Factory defaults can only be deactivated (§4.1 MEBx; they survive resets). */
export function deleteHash(table: HashTable, key: string): CertHashEntry[] {
  const i = findHashIndex(table, key);
  const entry = table[i]!;
  if (entry.isDefault) {
    throw new AmtError('HASH_DEFAULT_UNDELETABLE', `'${entry.name}' is a factory default; deactivate it instead`, { name: entry.name, hash: entry.hash });
  }
  return table.filter((_, j) => j !== i);
}

/** MEBx "manually activate a hash" / WS-Man Enabled (§4.1, §4.2). */
export function setHashActive(table: HashTable, key: string, active: boolean): CertHashEntry[] {
  const i = findHashIndex(table, key);
  return table.map((e, j) => (j === i ? { ...e, isActive: active } : e));
}

/** The factory table of the profile: defaults only, all active. */
export function restoreDefaultHashes(profile: FirmwareProfile): CertHashEntry[] {
  return defaultHashEntries(profile);
}

/** Unprovision: "AMT will delete and remove all hashes inserted" (§4.1); defaults stay as they are. */
export function removeCustomHashes(table: HashTable): CertHashEntry[] {
  return table.filter((e) => e.isDefault);
}

/** Entries in use for PKI-CH trust decisions and the hello. */
export function activeHashes(image: Pick<NvramImage, 'certHashes'>): CertHashEntry[] {
  return image.certHashes.filter((e) => e.isActive);
}

/** Convenience: apply a table operation to an image, returning a new image. */
export function withHashes(image: NvramImage, op: (table: HashTable) => CertHashEntry[]): NvramImage {
  return { ...image, certHashes: op(image.certHashes) };
}
