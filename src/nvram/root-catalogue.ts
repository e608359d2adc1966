import { readFileSync } from 'node:fs';
import { AmtError } from '../common/errors.js';
import { HASH_LENGTH, type CertHashEntry, type FirmwareProfileId, type HashAlgorithm } from './image.js';
import type { FirmwareProfile } from './profile-types.js';

/**
 * The factory trusted-root hash catalogue (data/root-hashes.json), derived from real root
 * certificates by data/derive-root-hashes.mjs — see data/README-root-hashes.md. Reference §4.1.
 */
export interface RootHashRecord {
  /** Firmware friendly name, ≤ 32 bytes. */
  name: string;
  algorithm: HashAlgorithm;
  /** Lower-case hex of the hash of the root certificate's DER. */
  hash: string;
  /** Certificate subject, or null for a device-reported hash with no certificate found. */
  subject: string | null;
  /** Where the DER (or the device-reported value) came from. */
  source: string;
  seenInMeshCentralSample: boolean;
  seenInRpsAmt11List: boolean;
}

export interface RootHashCatalogue {
  format: 'amtemu-root-hashes/1';
  roots: RootHashRecord[];
  /** Factory default hashes per profile, in firmware order. */
  defaultTables: Record<FirmwareProfileId, string[]>;
}

// Same relative path from src/nvram (tsx, vitest) and dist/nvram (built package ships data/).
const CATALOGUE_URL = new URL('../../data/root-hashes.json', import.meta.url);

let cached: RootHashCatalogue | undefined;

/** Loads and sanity-checks the catalogue once; a damaged data file is a clear NVRAM_CORRUPT. */
export function rootHashCatalogue(): RootHashCatalogue {
  if (cached) return cached;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(CATALOGUE_URL, 'utf8'));
  } catch (e) {
    throw new AmtError('NVRAM_CORRUPT', `cannot read root-hash catalogue ${CATALOGUE_URL.pathname}: ${(e as Error).message}`);
  }
  cached = checkCatalogue(parsed);
  return cached;
}

function checkCatalogue(value: unknown): RootHashCatalogue {
  const bad = (why: string): never => {
    throw new AmtError('NVRAM_INVALID', `root-hash catalogue ${CATALOGUE_URL.pathname}: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return bad('not an object');
  const c = value as Partial<RootHashCatalogue>;
  if (c.format !== 'amtemu-root-hashes/1') bad(`unknown format ${String(c.format)}`);
  if (!Array.isArray(c.roots) || typeof c.defaultTables !== 'object' || c.defaultTables === null) return bad('missing roots/defaultTables');
  const byHash = new Set<string>();
  for (const r of c.roots) {
    if (!(r.algorithm in HASH_LENGTH) || !/^[0-9a-f]+$/.test(r.hash) || r.hash.length !== HASH_LENGTH[r.algorithm] * 2) {
      bad(`entry '${r.name}' has a malformed ${r.algorithm} hash`);
    }
    if (Buffer.byteLength(r.name, 'utf8') > 32) bad(`entry name over 32 bytes: '${r.name}'`);
    byHash.add(r.hash);
  }
  for (const [profile, hashes] of Object.entries(c.defaultTables)) {
    for (const h of hashes) if (!byHash.has(h)) bad(`default table ${profile} names unknown hash ${h}`);
  }
  return c as RootHashCatalogue;
}

/** Catalogue record for a hash (any algorithm), if known. */
export function findRootRecord(hash: string): RootHashRecord | undefined {
  const h = hash.toLowerCase();
  return rootHashCatalogue().roots.find((r) => r.hash === h);
}

/**
 * The factory hash table of a profile: every default entry active (§4.1), filtered by the
 * algorithms the profile ships as defaults (SHA-1 defaults only before ME 11).
 */
export function defaultHashEntries(profile: FirmwareProfile): CertHashEntry[] {
  const catalogue = rootHashCatalogue();
  const table = catalogue.defaultTables[profile.id] ?? [];
  const entries: CertHashEntry[] = [];
  for (const hash of table) {
    const rec = catalogue.roots.find((r) => r.hash === hash);
    if (!rec || !profile.hashes.defaultAlgorithms.includes(rec.algorithm)) continue;
    entries.push({ name: rec.name, algorithm: rec.algorithm, hash: rec.hash, isDefault: true, isActive: true });
  }
  return entries;
}
