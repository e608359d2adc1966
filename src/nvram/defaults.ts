import { createHash, randomBytes } from 'node:crypto';
import { AmtError } from '../common/errors.js';
import { NVRAM_SCHEMA_VERSION, type FirmwareProfileId, type NvramImage, type TlsSettings } from './image.js';
import { getProfile } from './profiles.js';
import type { FirmwareProfile } from './profile-types.js';
import { defaultHashEntries } from './root-catalogue.js';
import { DEVICE_ID_PATTERN, HOSTNAME_PATTERN, MAC_PATTERN, UUID_PATTERN } from './schema.js';

/** Random bytes source: n bytes per call. */
export type ByteSource = (n: number) => Uint8Array;

export interface FactoryImageOptions {
  deviceId: string;
  profile?: FirmwareProfileId;
  /** SMBIOS UUID; default derived from deviceId (stable across runs). */
  uuid?: string;
  /** MACs, wired first; default one MAC derived from deviceId. */
  macs?: string[];
  /** Host name; default derived from deviceId. */
  hostname?: string;
  /** Firmware version string; default the profile's. */
  firmwareVersion?: string;
  /**
   * Seed for the secrets (digest realm, LSA password, configuration nonce). Same seed + deviceId
   * → byte-identical image. Without seed or rng the secrets come from crypto.randomBytes.
   */
  seed?: string;
  /** Explicit byte source for the secrets (wins over seed). */
  rng?: ByteSource;
}

/** Deterministic byte stream: SHA-256(label || counter) blocks. Not for real secrets — for reproducible fixtures. */
export function seededBytes(label: string): ByteSource {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n: number) => {
    while (pool.length < n) {
      const block = createHash('sha256').update(label).update(':').update(String(counter++)).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return new Uint8Array(out);
  };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** RFC 4122 version-4-shaped UUID from the device id, so a fleet re-created from its spec keeps its UUIDs. */
export function deriveUuid(deviceId: string): string {
  const b = sha256(`amtemu-uuid:${deviceId}`).subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * MAC from the device id: unicast, locally administered (first octet bit 1 set) so an emulated
 * device can never collide with a real NIC's vendor-assigned address.
 */
export function deriveMac(deviceId: string, index = 0): string {
  const b = sha256(`amtemu-mac:${deviceId}:${index}`).subarray(0, 6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A DNS label from the device id ('_' and '.' are not host-name characters). */
export function deriveHostname(deviceId: string): string {
  const label = deviceId.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return label.length > 0 ? label : 'amt';
}

/**
 * "Digest:" + 32 upper-case hex (RPS isDigestRealmValid, reference §5.2). Reference §6.2: realms
 * with 4 hex digits and 28 zeros were seen on AMT 8 and a pre-provisioned device, a fully random
 * one on AMT 16.1 — so older profiles get the short form. (Generation rule is [UNKNOWN], §9 q11.)
 */
export function makeDigestRealm(profile: FirmwareProfile, rng: ByteSource): string {
  const hex = Buffer.from(rng(16)).toString('hex').toUpperCase();
  return 'Digest:' + (profile.amtMajor >= 16 ? hex : hex.slice(0, 4) + '0'.repeat(28));
}

/** ConfigurationNonce: base64 of 20 bytes (reference §5.3). */
export function makeConfigurationNonce(rng: ByteSource): string {
  return Buffer.from(rng(20)).toString('base64');
}

/**
 * LSA password: CFG_GetLocalSystemAccount returns pass[33] (§2.2), so ≤ 32 characters; observed
 * values are 32 base64-like characters (rpc-go payloads, §5.1).
 */
function makeLsaPassword(rng: ByteSource): string {
  return Buffer.from(rng(24)).toString('base64');
}

function tlsDefaults(profile: FirmwareProfile): { remote: TlsSettings; local: TlsSettings } {
  return {
    // Remote TLS is configured by the SCA; until then non-TLS is accepted unless the release
    // dropped remote non-TLS ports (CSME 16.1+, §6.1).
    remote: { enabled: false, mutualAuthentication: false, acceptNonSecureConnections: profile.network.nonTlsRemotePorts, trustedCn: [] },
    // CSME 19: TLS enforced on local ports (MKHI bit 0x40, §2.2/§6.1).
    local: {
      enabled: profile.network.tlsEnforcedLocal,
      mutualAuthentication: false,
      acceptNonSecureConnections: !profile.network.tlsEnforcedLocal,
      trustedCn: [],
    },
  };
}

function check(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new AmtError('BAD_INPUT', `invalid ${what} '${value}'`, { [what]: value });
  return value;
}

/**
 * The factory (Pre-provisioning, no control mode) image of a new device: what it holds when it
 * leaves the OEM. Reference §0 (state), §1.1 (port 9971), §2.1 (24 h timer), §4.1 (hashes),
 * §5.1 ($$OsAdmin), §5.3 (nonce), §6.2 (realm).
 */
export function createFactoryImage(opts: FactoryImageOptions): NvramImage {
  const deviceId = check(opts.deviceId, DEVICE_ID_PATTERN, 'device id');
  const profile = getProfile(opts.profile ?? 'amt16');
  const rng: ByteSource = opts.rng ?? (opts.seed !== undefined ? seededBytes(`${opts.seed}:${deviceId}`) : (n) => randomBytes(n));
  const uuid = check((opts.uuid ?? deriveUuid(deviceId)).toLowerCase(), UUID_PATTERN, 'uuid');
  const macs = (opts.macs ?? [deriveMac(deviceId)]).map((m) => check(m.toLowerCase().replace(/-/g, ':'), MAC_PATTERN, 'mac'));
  const hostname = check(opts.hostname ?? deriveHostname(deviceId), HOSTNAME_PATTERN, 'hostname');

  return {
    schemaVersion: NVRAM_SCHEMA_VERSION,
    deviceId,
    uuid,
    firmware: { profile: profile.id, version: opts.firmwareVersion ?? profile.defaultVersion },
    macs,
    network: { hostname, domain: '', wiredLan: true },
    provisioning: {
      state: 'Pre',
      controlMode: 'none',
      // Seed 001: Enterprise mode with hellos ("talk") is the zero-touch factory setting.
      mode: 'Enterprise',
      trigger: 'talk',
      // §2.1: 24 h bare-metal timer (HP ships 0 on notebooks; scenarios override).
      remoteConfigTimerHours: 24,
      zeroTouchEnabled: true,
      window: { kind: 'closed', elapsedMs: 0, lengthMs: 0, hellosSent: 0, bareMetalUsed: false },
    },
    setup: {
      pkiDnsSuffix: '',
      provisioningServer: { port: 9971 }, // §1.1 default SCA port
      homeDomains: [],
      provisionHalt: false,
    },
    mebx: { password: 'admin', passwordChanged: false },
    adminAcl: { username: 'admin' },
    digestRealm: makeDigestRealm(profile, rng),
    localSystemAccount: { username: '$$OsAdmin', password: makeLsaPassword(rng) },
    configurationNonce: makeConfigurationNonce(rng),
    certHashes: defaultHashEntries(profile),
    tls: { ...tlsDefaults(profile), keyPairs: [], certificates: [] },
    auditRecord: null,
    generation: 0,
  };
}
