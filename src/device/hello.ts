/**
 * Hello packets exactly as the firmware sends them (reference §1.2). All integers little-endian.
 * v3 (PKI): adminCredentialsSet u16, version u16 = 3, retryCount u32, UUID (GUID byte order),
 *           hash count u8, then {type u8, size u8, hash} for each hash.
 * v2 (PSK): adminCredentialsSet u16, version u16 = 2, retryCount u32, UUID, PID (8 bytes).
 */
import { AmtError } from '../common/errors.js';
import { HASH_ALGORITHM_NUMBER, HASH_LENGTH, type CertHashEntry, type HashAlgorithm, type NvramImage } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';

export const HELLO_VERSION_PSK = 2;
export const HELLO_VERSION_PKI = 3;
/** SDK: retry count field range 0–14 (reference §1.2); we saturate there (documented choice, §8 item 6). */
export const HELLO_MAX_RETRY_COUNT = 14;

/** Canonical UUID text → 16 bytes in GUID order (first three fields little-endian), as SMBIOS/AMT put it on the wire. */
export function uuidToGuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new AmtError('BAD_INPUT', `not a UUID: "${uuid}"`);
  const b = Buffer.from(hex, 'hex');
  const out = Buffer.from(b);
  out[0] = b[3]!; out[1] = b[2]!; out[2] = b[1]!; out[3] = b[0]!;
  out[4] = b[5]!; out[5] = b[4]!;
  out[6] = b[7]!; out[7] = b[6]!;
  return out;
}

/** uuidToGuidBytes for the hello hot path: a device says hello with the same UUID all week (read-only result). */
const guids = new Map<string, Buffer>();
function guidOf(uuid: string): Buffer {
  let g = guids.get(uuid);
  if (!g) {
    g = uuidToGuidBytes(uuid);
    if (guids.size >= 65_536) guids.clear();
    guids.set(uuid, g);
  }
  return g;
}

export function guidBytesToUuid(g: Buffer): string {
  if (g.length !== 16) throw new AmtError('BAD_INPUT', `GUID must be 16 bytes, got ${g.length}`);
  const b = Buffer.from([g[3]!, g[2]!, g[1]!, g[0]!, g[5]!, g[4]!, g[7]!, g[6]!, ...g.subarray(8)]);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface HelloV3Fields {
  adminCredentialsSet: boolean;
  retryCount: number;
  uuid: string;
  hashes: Array<Pick<CertHashEntry, 'algorithm' | 'hash'>>;
}

export function encodeHelloV3(f: HelloV3Fields): Buffer {
  if (f.hashes.length > 255) throw new AmtError('BAD_INPUT', `a hello carries at most 255 hashes, got ${f.hashes.length}`);
  const parts: Buffer[] = [];
  const head = Buffer.alloc(25);
  head.writeUInt16LE(f.adminCredentialsSet ? 1 : 0, 0);
  head.writeUInt16LE(HELLO_VERSION_PKI, 2);
  head.writeUInt32LE(Math.min(Math.max(0, Math.floor(f.retryCount)), HELLO_MAX_RETRY_COUNT), 4);
  guidOf(f.uuid).copy(head, 8);
  head.writeUInt8(f.hashes.length, 24);
  parts.push(head);
  for (const h of f.hashes) parts.push(hashEntryBytes(h));
  return Buffer.concat(parts);
}

/**
 * One hash entry of a hello: algorithm number, length, digest. A fleet announces the same ~20
 * factory root hashes in every hello, so each entry object's bytes are remembered (benchmark (b)
 * profile). Keyed by the entry object — NVRAM updates share unchanged entries — and checked
 * against its algorithm and hash on every use, so an entry changed in place is re-encoded.
 */
const hashEntries = new WeakMap<object, { algorithm: HashAlgorithm; hash: string; bytes: Buffer }>();
function hashEntryBytes(h: { algorithm: HashAlgorithm; hash: string }): Buffer {
  const known = hashEntries.get(h);
  if (known && known.algorithm === h.algorithm && known.hash === h.hash) return known.bytes;
  const digest = Buffer.from(h.hash, 'hex');
  if (digest.length !== HASH_LENGTH[h.algorithm] || digest.length * 2 !== h.hash.length) {
    throw new AmtError('HASH_WRONG_LENGTH', `${h.algorithm} hash must be ${HASH_LENGTH[h.algorithm]} bytes, got ${digest.length}`);
  }
  const bytes = Buffer.concat([Buffer.from([HASH_ALGORITHM_NUMBER[h.algorithm], digest.length]), digest]);
  hashEntries.set(h, { algorithm: h.algorithm, hash: h.hash, bytes });
  return bytes;
}

export interface HelloV2Fields {
  adminCredentialsSet: boolean;
  retryCount: number;
  uuid: string;
  /** PID as printed on setup sheets: 8 characters (e.g. "ABCD-1234" without the dash). */
  pid: string;
}

export function encodeHelloV2(f: HelloV2Fields): Buffer {
  const pid = Buffer.from(f.pid.replace(/-/g, ''), 'ascii');
  if (pid.length !== 8) throw new AmtError('BAD_INPUT', `PID must be 8 characters (dashes ignored), got ${pid.length}`);
  const b = Buffer.alloc(32);
  b.writeUInt16LE(f.adminCredentialsSet ? 1 : 0, 0);
  b.writeUInt16LE(HELLO_VERSION_PSK, 2);
  b.writeUInt32LE(Math.min(Math.max(0, Math.floor(f.retryCount)), HELLO_MAX_RETRY_COUNT), 4);
  uuidToGuidBytes(f.uuid).copy(b, 8);
  pid.copy(b, 24);
  return b;
}

const ALGO_BY_NUMBER: Record<number, HashAlgorithm> = { 1: 'SHA1', 2: 'SHA256', 3: 'SHA384' };

export type ParsedHello =
  | { version: 3; adminCredentialsSet: boolean; retryCount: number; uuid: string; hashes: Array<{ algorithm: HashAlgorithm; hash: string }> }
  | { version: 2; adminCredentialsSet: boolean; retryCount: number; uuid: string; pid: string };

/**
 * Parse with MeshCentral's acceptance rules (MC-hello parseHelloData): ≥ 25 bytes,
 * adminCredentialsSet ≤ 1, version 3 (or 2 for PSK), hash types 1/2/3 with sizes 20/32/48, exact length.
 */
export function parseHello(buf: Buffer): ParsedHello {
  if (buf.length < 25) throw new AmtError('BAD_INPUT', `hello too short: ${buf.length} bytes, need at least 25`);
  if (buf.length > 16000) throw new AmtError('BAD_INPUT', `hello too long: ${buf.length} bytes`);
  const admin = buf.readUInt16LE(0);
  if (admin > 1) throw new AmtError('BAD_INPUT', `hello adminCredentialsSet must be 0 or 1, got ${admin}`);
  const version = buf.readUInt16LE(2);
  const retryCount = buf.readUInt32LE(4);
  const uuid = guidBytesToUuid(buf.subarray(8, 24));
  if (version === HELLO_VERSION_PSK) {
    if (buf.length !== 32) throw new AmtError('BAD_INPUT', `PSK hello must be 32 bytes, got ${buf.length}`);
    return { version: 2, adminCredentialsSet: admin === 1, retryCount, uuid, pid: buf.subarray(24, 32).toString('ascii') };
  }
  if (version !== HELLO_VERSION_PKI) throw new AmtError('BAD_INPUT', `hello version ${version} not supported (2 or 3)`);
  const n = buf[24]!;
  const hashes: Array<{ algorithm: HashAlgorithm; hash: string }> = [];
  let off = 25;
  for (let i = 0; i < n; i++) {
    if (off + 2 > buf.length) throw new AmtError('BAD_INPUT', `hello truncated in hash entry ${i}`);
    const type = buf[off]!;
    const size = buf[off + 1]!;
    const algorithm = ALGO_BY_NUMBER[type];
    if (!algorithm || HASH_LENGTH[algorithm] !== size) throw new AmtError('BAD_INPUT', `hello hash entry ${i}: type ${type} size ${size} is not 1/20, 2/32 or 3/48`);
    if (off + 2 + size > buf.length) throw new AmtError('BAD_INPUT', `hello truncated in hash entry ${i}`);
    hashes.push({ algorithm, hash: buf.subarray(off + 2, off + 2 + size).toString('hex') });
    off += 2 + size;
  }
  if (off !== buf.length) throw new AmtError('BAD_INPUT', `hello has ${buf.length - off} trailing bytes after ${n} hashes`);
  return { version: 3, adminCredentialsSet: admin === 1, retryCount, uuid, hashes };
}

/** PSK hello (v2) when a PID is set and the profile still has PSK (§1.2); else the PKI hello (v3). */
export function helloFor(img: Readonly<NvramImage>, profile: FirmwareProfile, retryCount: number): Buffer {
  const adminCredentialsSet = img.mebx.passwordChanged;
  if (img.setup.pid && profile.hello.psk) {
    return encodeHelloV2({ adminCredentialsSet, retryCount, uuid: img.uuid, pid: img.setup.pid });
  }
  // At most 23 hashes fit (SDK); which ones is unknown (§9 item 5). Custom entries go first so a
  // root an IT admin added in MEBx is always announced, then the factory defaults in table order.
  // Algorithms the profile no longer trusts (SHA-1 on ME 16+) are not announced at all.
  const active = img.certHashes.filter((h) => h.isActive && profile.hashes.allowed.includes(h.algorithm));
  const hashes = [...active.filter((h) => !h.isDefault), ...active.filter((h) => h.isDefault)].slice(0, profile.hashes.maxInHello);
  return encodeHelloV3({ adminCredentialsSet, retryCount, uuid: img.uuid, hashes });
}
