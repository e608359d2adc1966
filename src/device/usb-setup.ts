/**
 * USB one-touch setup: the setup.bin file that Intel SCS exports and MeshCentral writes
 * (seed 001 "USB method", seed 002 "USB-Key Setup"; reference §0 for the variables). The layout
 * was learnt from MeshCentral's amt/amt-setupbin.js (header comment and AmtSetupBinEncode) and
 * certoperations.js GetSetupBinFile/GetBareMetalSetupBinFile; this is our own strict parser.
 *
 * File = 512-byte header chunk + N data records of 512 bytes (all integers little-endian):
 *   header:  0 FileTypeUUID(16: version 1–4 GUIDs) · 16 RecordChunkCount u16 (=1) · 18 RecordHeaderBytes u16
 *            · 20 RecordNumber u32 (=0) · 24 Major u8 · 25 Minor u8 · 26 Flags u16 (bit 0: do not consume)
 *            · 28 DataRecordCount u32 · 32 DataRecordsConsumed u32 · 36 DataRecordChunkCount u16 (=1)
 *            · 38 reserved u16 · 40 module ids u16…, 0-terminated
 *   record:  0 TypeIdentifier u32 (0 invalid, 1 data) · 4 Flags u32 (bit 0 valid, bit 1 scrambled)
 *            · 8 reserved(8) · 16 ChunkCount u16 (=1) · 18 HeaderBytes u16 (=24) · 20 RecordNumber u32 (1-based)
 *            · 24 entries: Module u16, Variable u16, Length u16, reserved u16, value padded to 4; Module 0 ends.
 *   Scrambled records store every byte after the 24-byte header as (b + 17) mod 256.
 * (MeshCentral's *decoder* reads the record chunk count at offset 8; its encoder — what files
 * are made with — writes two reserved words there. We follow the encoder.)
 *
 * Consuming (seed 002: a USB key carries one record per PC — "USB setup automatically updates the
 * USB data for each PC"): the BIOS takes record number DataRecordsConsumed, applies it, then
 * increments DataRecordsConsumed (header comment in amt-setupbin.js) and — our documented choice,
 * so a consumed record cannot be replayed — clears that record's valid flag. Flags bit 0 in the
 * header ("do not consume", which MeshCentral sets) leaves the file unchanged.
 */
import { AmtError } from '../common/errors.js';
import { addHash } from '../nvram/hash-table.js';
import type { CertHashEntry, HashAlgorithm, NvramImage, ProvisioningMode } from '../nvram/image.js';
import { DOMAIN_PATTERN, HOSTNAME_PATTERN, MAX_PKI_DNS_SUFFIX } from '../nvram/schema.js';
import type { AmtDevice } from './device.js';
import { digestHa1 } from './http/digest.js';
import { canonicalPskText } from './psk.js';
import { isStrongPassword } from './wsman/classes/setup.js';

const CHUNK = 512;
const RECORD_HEADER = 24;
/** File-type GUIDs, versions 1–4, as stored (amt-setupbin.js AmtSetupBinSetupGuids). */
const VERSION_GUIDS = ['b516fb7187cbf94ab441ca7b383578f9', '96b28158cf6b724c8b91a15e512e99c4', 'a7f7f6c689c4f64793ede2e5020da51d', 'aaa93452e129a9448d4d081c07b96353'];

export interface SetupBinVariable {
  module: number;
  id: number;
  /** Byte offset of the entry in the file (for messages). */
  offset: number;
  value: Buffer;
}

export interface SetupBinRecord {
  index: number;
  offset: number;
  typeIdentifier: number;
  valid: boolean;
  scrambled: boolean;
  number: number;
  variables: SetupBinVariable[];
}

export interface SetupBinFile {
  version: 1 | 2 | 3 | 4;
  majorVersion: number;
  minorVersion: number;
  doNotConsume: boolean;
  dataRecordCount: number;
  dataRecordsConsumed: number;
  modules: number[];
  records: SetupBinRecord[];
}

/** Known variables and their fixed sizes (0 = variable length), amt-setupbin.js AmtSetupBinVarIds. */
const FIXED: Record<number, Record<number, number>> = {
  1: { 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 16 },
  2: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 0, 10: 1, 11: 0, 12: 0, 13: 1, 14: 1, 15: 0, 16: 1, 17: 4, 18: 2, 19: 0, 20: 0, 21: 0, 22: 0, 23: 1, 24: 1, 25: 1, 26: 1, 27: 1, 28: 1, 29: 1, 30: 4, 31: 0, 32: 0, 33: 0, 34: 4, 35: 16 },
};

function damaged(file: string, offset: number, what: string): never {
  throw new AmtError('SETUP_BIN_INVALID', `${file}: offset ${offset}: ${what}`, { file, offset });
}

/** Parse a setup.bin strictly; any damage → SETUP_BIN_INVALID naming the file, the offset and what is wrong. */
export function parseSetupBin(buf: Buffer, file = 'setup.bin'): SetupBinFile {
  if (buf.length < CHUNK) damaged(file, buf.length, `file is ${buf.length} bytes; a setup.bin header alone is ${CHUNK}`);
  if (buf.length % CHUNK !== 0) damaged(file, buf.length - (buf.length % CHUNK), `file length ${buf.length} is not a multiple of ${CHUNK} (truncated or padded)`);
  const guid = buf.subarray(0, 16).toString('hex');
  const vi = VERSION_GUIDS.indexOf(guid);
  if (vi < 0) damaged(file, 0, `unknown file-type GUID ${guid} (not a setup.bin)`);
  if (buf.readUInt16LE(16) !== 1) damaged(file, 16, `header chunk count ${buf.readUInt16LE(16)}, expected 1`);
  const headerBytes = buf.readUInt16LE(18);
  if (headerBytes < 42 || headerBytes > CHUNK || headerBytes % 2 !== 0) damaged(file, 18, `header length ${headerBytes} is not an even number in 42-512`);
  if (buf.readUInt32LE(20) !== 0) damaged(file, 20, `header record number ${buf.readUInt32LE(20)}, expected 0`);
  const majorVersion = buf[24]!;
  if (majorVersion < 1) damaged(file, 24, 'major version 0');
  const flags = buf.readUInt16LE(26);
  if (flags & ~1) damaged(file, 26, `unknown header flags 0x${flags.toString(16)}`);
  const dataRecordCount = buf.readUInt32LE(28);
  const dataRecordsConsumed = buf.readUInt32LE(32);
  const present = buf.length / CHUNK - 1;
  if (dataRecordCount !== present) damaged(file, 28, `header says ${dataRecordCount} data records, the file holds ${present}`);
  if (dataRecordsConsumed > dataRecordCount) damaged(file, 32, `${dataRecordsConsumed} records consumed of ${dataRecordCount}`);
  if (buf.readUInt16LE(36) !== 1) damaged(file, 36, `data records of ${buf.readUInt16LE(36)} chunks are not supported (expected 1)`);
  const modules: number[] = [];
  for (let o = 40; ; o += 2) {
    if (o + 2 > CHUNK) damaged(file, o, 'module list is not terminated');
    const m = buf.readUInt16LE(o);
    if (m === 0) break;
    if (!FIXED[m]) damaged(file, o, `unknown module id ${m}`);
    modules.push(m);
  }
  const records: SetupBinRecord[] = [];
  for (let i = 0; i < present; i++) records.push(parseRecord(buf, (i + 1) * CHUNK, i, file));
  return { version: (vi + 1) as 1 | 2 | 3 | 4, majorVersion, minorVersion: buf[25]!, doNotConsume: (flags & 1) !== 0, dataRecordCount, dataRecordsConsumed, modules, records };
}

function parseRecord(buf: Buffer, at: number, index: number, file: string): SetupBinRecord {
  const typeIdentifier = buf.readUInt32LE(at);
  if (typeIdentifier > 1) damaged(file, at, `record ${index + 1}: type ${typeIdentifier} (0 invalid, 1 data)`);
  const flags = buf.readUInt32LE(at + 4);
  if (flags & ~3) damaged(file, at + 4, `record ${index + 1}: unknown flags 0x${flags.toString(16)}`);
  if (buf.readUInt16LE(at + 16) !== 1) damaged(file, at + 16, `record ${index + 1}: chunk count ${buf.readUInt16LE(at + 16)}, expected 1`);
  if (buf.readUInt16LE(at + 18) !== RECORD_HEADER) damaged(file, at + 18, `record ${index + 1}: header length ${buf.readUInt16LE(at + 18)}, expected ${RECORD_HEADER}`);
  const number = buf.readUInt32LE(at + 20);
  if (number !== index + 1) damaged(file, at + 20, `record ${index + 1} carries record number ${number}`);
  const scrambled = (flags & 2) !== 0;
  const body = Buffer.from(buf.subarray(at + RECORD_HEADER, at + CHUNK));
  if (scrambled) for (let k = 0; k < body.length; k++) body[k] = (body[k]! + 0xef) & 0xff;
  const variables: SetupBinVariable[] = [];
  let p = 0;
  while (p + 8 <= body.length) {
    const module = body.readUInt16LE(p);
    const id = body.readUInt16LE(p + 2);
    if (module === 0) break;
    const off = at + RECORD_HEADER + p;
    const len = body.readUInt16LE(p + 4);
    const known = FIXED[module];
    if (!known) damaged(file, off, `record ${index + 1}: unknown module id ${module}`);
    if (id === 0 || known[id] === undefined) damaged(file, off + 2, `record ${index + 1}: unknown variable ${module}.${id}`);
    if (p + 8 + len > body.length) damaged(file, off + 4, `record ${index + 1}: variable ${module}.${id} is ${len} bytes and runs past the record`);
    const fixed = known[id]!;
    if (fixed !== 0 && len !== fixed) damaged(file, off + 4, `record ${index + 1}: variable ${module}.${id} must be ${fixed} bytes, got ${len}`);
    variables.push({ module, id, offset: off, value: body.subarray(p + 8, p + 8 + len) });
    p += 8 + Math.ceil(len / 4) * 4;
  }
  return { index, offset: at, typeIdentifier, valid: typeIdentifier === 1 && (flags & 1) !== 0, scrambled, number, variables };
}

/** What applying a record did. */
export interface UsbSetupResult {
  record: number;
  applied: string[];
  ignored: string[];
  /** The file as the BIOS leaves it (unchanged when the header says "do not consume"). */
  file: Buffer;
  consumed: boolean;
}

const HASH_TYPES: Record<number, HashAlgorithm> = { 1: 'SHA1', 2: 'SHA256', 3: 'SHA384' };
const text = (v: SetupBinVariable): string => v.value.toString('latin1');

/**
 * Apply the next unconsumed record to a factory-state device (seed 002: "the Intel Management
 * Engine settings must be in the factory-default state"). All values are checked before NVRAM is
 * touched; then the MEBx password change moves the device to setup (or, for an SMB record, to
 * configured, as a manual SMB setup would). Records `usb.setup` on the timeline.
 */
export function applyUsbSetup(device: AmtDevice, buf: Buffer, fileName = 'setup.bin'): UsbSetupResult {
  const fail = (code: 'INVALID_AMT_MODE' | 'SETUP_BIN_NO_RECORD' | 'SETUP_BIN_INVALID' | 'MEBX_PASSWORD_WRONG' | 'INVALID_PASSWORD' | 'INVALID_PARAMETER', message: string): never => {
    device.record('usb.refused', { file: fileName, message }, code);
    throw new AmtError(code, message, { file: fileName });
  };
  let parsed: SetupBinFile;
  try {
    parsed = parseSetupBin(buf, fileName);
  } catch (e) {
    return fail('SETUP_BIN_INVALID', (e as Error).message);
  }
  if (device.state !== 'Pre') fail('INVALID_AMT_MODE', `USB setup needs a device in factory state; this one is ${device.state === 'In' ? 'in setup (In)' : 'configured (Post)'}`);
  const rec = parsed.records[parsed.dataRecordsConsumed];
  if (!rec) return fail('SETUP_BIN_NO_RECORD', `${fileName}: all ${parsed.dataRecordCount} records are consumed`);
  if (!rec.valid) fail('SETUP_BIN_NO_RECORD', `${fileName}: record ${rec.number} is not a valid data record`);
  const get = (m: number, id: number): SetupBinVariable | undefined => rec.variables.find((v) => v.module === m && v.id === id);
  const current = get(1, 1);
  const next = get(1, 2);
  if (!current || !next) return fail('SETUP_BIN_INVALID', `${fileName}: record ${rec.number} lacks the current and new MEBx passwords (variables 1.1 and 1.2)`);
  if (text(current) !== device.nvram.mebx.password) fail('MEBX_PASSWORD_WRONG', `${fileName}: record ${rec.number}: current MEBx password does not match the device's`);
  const password = text(next);
  if (!isStrongPassword(password)) fail('INVALID_PASSWORD', `${fileName}: record ${rec.number}: new MEBx password is not strong (8-32, upper, lower, digit, symbol)`);

  // Stage every setting on a copy; only a fully valid record touches NVRAM.
  const stage: NvramImage = structuredClone(device.nvram) as NvramImage;
  const applied: string[] = ['1.1 current MEBx password', '1.2 new MEBx password'];
  const ignored: string[] = [];
  const bad = (v: SetupBinVariable, what: string): never => fail('SETUP_BIN_INVALID', `${fileName}: offset ${v.offset}: variable ${v.module}.${v.id}: ${what}`);
  const domainOf = (v: SetupBinVariable, max: number): string => {
    const s = text(v).replace(/\.$/, '');
    if (s.length > max || !DOMAIN_PATTERN.test(s)) bad(v, `'${s}' is not a DNS name of at most ${max} characters`);
    return s.toLowerCase();
  };
  let hashes: CertHashEntry[] = stage.certHashes;
  for (const v of rec.variables) {
    const key = `${v.module}.${v.id}`;
    if (v.module === 1) {
      if (v.id > 2) ignored.push(key);
      continue;
    }
    switch (v.id) {
      case 1:
      case 2: {
        if (!device.profile.setup.tlsPsk) { ignored.push(`${key} (no TLS-PSK on ${device.profile.id})`); break; }
        const s = canonicalPskText(text(v));
        if (!(v.id === 1 ? /^[A-Z0-9]{8}$/ : /^[A-Z0-9]{32}$/).test(s)) bad(v, v.id === 1 ? 'PID must be 8 letters/digits' : 'PPS must be 32 letters/digits');
        if (v.id === 1) stage.setup.pid = s;
        else stage.setup.pps = s;
        applied.push(`${key} ${v.id === 1 ? 'PID' : 'PPS'}`);
        break;
      }
      case 3: stage.setup.pkiDnsSuffix = domainOf(v, MAX_PKI_DNS_SUFFIX); applied.push(`${key} PKI DNS suffix`); break;
      case 4: stage.setup.provisioningServer.fqdn = domainOf(v, 253); applied.push(`${key} configuration server FQDN`); break;
      case 5: stage.provisioning.zeroTouchEnabled = v.value[0] === 1; applied.push(`${key} remote configuration enabled`); break;
      case 8: {
        // hash type u8 · hash · name length u8 · name (certoperations.js GetSetupBinFile)
        const alg = HASH_TYPES[v.value[0] ?? 0];
        if (!alg) return bad(v, `hash type ${v.value[0]} (1 SHA-1, 2 SHA-256, 3 SHA-384)`);
        const size = alg === 'SHA1' ? 20 : alg === 'SHA256' ? 32 : 48;
        const nameLen = v.value[1 + size];
        if (nameLen === undefined || v.value.length !== 2 + size + nameLen) bad(v, `${alg} hash entry must be 1 + ${size} + 1 + name bytes, got ${v.value.length}`);
        const name = v.value.subarray(2 + size).toString('latin1');
        try {
          hashes = addHash(hashes, device.profile, { name, algorithm: alg, hash: v.value.subarray(1, 1 + size).toString('hex') });
        } catch (e) {
          bad(v, (e as Error).message);
        }
        applied.push(`${key} custom hash '${name}'`);
        break;
      }
      case 11: if (!HOSTNAME_PATTERN.test(text(v))) bad(v, `'${text(v)}' is not a host name`); stage.network.hostname = text(v); applied.push(`${key} host name`); break;
      case 12: stage.network.domain = domainOf(v, 253); applied.push(`${key} domain name`); break;
      case 16: {
        // [CONFLICT] amt-setupbin.js comments "1 = Enterprise, 2 = Small Business" but maps {0, 1}; we follow the comment.
        const mode: ProvisioningMode | undefined = v.value[0] === 1 ? 'Enterprise' : v.value[0] === 2 ? 'SMB' : undefined;
        if (!mode) return bad(v, `provisioning mode ${v.value[0]} (1 Enterprise, 2 SMB)`);
        if (mode === 'SMB' && device.profile.amtMajor >= 6) bad(v, `SMB mode does not exist from Release 6.0 on (${device.profile.id})`);
        stage.provisioning.mode = mode;
        applied.push(`${key} provisioning mode ${mode}`);
        break;
      }
      case 17: stage.setup.provisioningServer.address = [...v.value].reverse().join('.'); applied.push(`${key} provisioning server address`); break; // LE uint32 (§0)
      case 18: {
        const port = v.value.readUInt16LE(0);
        if (port === 0) bad(v, 'port 0');
        stage.setup.provisioningServer.port = port;
        applied.push(`${key} provisioning server port`);
        break;
      }
      case 28: stage.setup.provisionHalt = v.value[0] === 0; applied.push(`${key} ME provision ${v.value[0] === 0 ? 'halt (Stop)' : 'active (Start)'}`); break;
      default: ignored.push(key);
    }
  }
  stage.certHashes = hashes;
  if ((stage.setup.pid === undefined) !== (stage.setup.pps === undefined)) fail('SETUP_BIN_INVALID', `${fileName}: record ${rec.number} sets only one of PID and PPS`);

  device.update((img) => {
    img.setup = stage.setup;
    img.network = stage.network;
    img.provisioning.mode = stage.provisioning.mode;
    img.provisioning.zeroTouchEnabled = stage.provisioning.zeroTouchEnabled;
    img.certHashes = stage.certHashes;
  });
  device.record('usb.setup', { file: fileName, record: rec.number, applied, ignored, consumed: !parsed.doNotConsume });
  device.setMebxPassword(password, 'usb');
  // A factory device whose password was already changed (an odd OEM image) still leaves factory state.
  if (device.state === 'Pre') device.transition('In', 'usbSetup');
  if (device.nvram.provisioning.mode === 'SMB') {
    // SMB has no remote configuration (seed 001): the key's settings complete the setup.
    device.update((img) => {
      img.adminAcl.digestHash = digestHa1('admin', img.digestRealm, password);
      img.auditRecord = { kind: 'usb', hostInitiated: true, time: device.clock.date().toISOString(), t: device.clock.now() };
    });
    device.transition('Post', 'manualSetup', 'ACM', { mode: 'SMB', via: 'usb' });
    device.closeWindow('configured');
  }
  return { record: rec.number, applied, ignored, file: parsed.doNotConsume ? buf : consumeRecord(buf, rec), consumed: !parsed.doNotConsume };
}

/** The file after the BIOS consumed `rec`: DataRecordsConsumed + 1 and the record's valid flag cleared. */
function consumeRecord(buf: Buffer, rec: SetupBinRecord): Buffer {
  const out = Buffer.from(buf);
  out.writeUInt32LE(out.readUInt32LE(32) + 1, 32);
  out.writeUInt32LE(out.readUInt32LE(rec.offset + 4) & ~1, rec.offset + 4);
  return out;
}
