/**
 * The MEBx screens a technician uses (seed 002 "Manual Setup", "MEBx Parameters and Settings";
 * seed 004 "Manual"; reference §2.1, §3, §4.1), as functions over a device. Each validates like
 * the firmware, changes NVRAM through the device, and records `mebx.<op>` on the timeline; a
 * refusal is an AmtError with a code (and a `mebx.refused` event), never a silent no-op.
 *
 * Login: every screen needs the MEBx password. While it is still the factory 'admin', the only
 * thing MEBx lets a technician do is change it (the forced first-login change, seed 002 Stage 1),
 * and the new one must be strong: ≥ 8 characters with upper, lower, digit and a non-alphanumeric
 * (seed 002 "Admin Username and Password"; the same rule WS-Man SetMEBxPassword applies).
 */
import { AmtError, isAmtError, type AmtErrorCode } from '../common/errors.js';
import { addHash, setHashActive } from '../nvram/hash-table.js';
import type { HashAlgorithm, ProvisioningMode } from '../nvram/image.js';
import { DOMAIN_PATTERN, HOSTNAME_PATTERN, IPV4_PATTERN, MAX_PKI_DNS_SUFFIX } from '../nvram/schema.js';
import type { AmtDevice } from './device.js';
import { HELLO_TIMING } from './hello-schedule.js';
import { digestHa1 } from './http/digest.js';
import { canonicalPskText } from './psk.js';
import { isStrongPassword } from './wsman/classes/setup.js';

/** The factory MEBx password on every AMT platform (seed 002: "OEM factory defaults", 'admin'). */
export const DEFAULT_MEBX_PASSWORD = 'admin';

/** Record a refusal and throw it: the timeline shows every failed MEBx attempt. */
function refuse(device: AmtDevice, op: string, code: AmtErrorCode, message: string): never {
  device.record('mebx.refused', { op, message }, code);
  throw new AmtError(code, message, { op });
}

/** MEBx login; outside of the forced first change the default password opens nothing. */
export function mebxLogin(device: AmtDevice, password: string, op = 'login'): void {
  if (password !== device.nvram.mebx.password) refuse(device, op, 'MEBX_PASSWORD_WRONG', 'MEBx password incorrect');
  if (!device.nvram.mebx.passwordChanged) {
    refuse(device, op, 'NOT_PERMITTED', "the default MEBx password 'admin' must be changed first (mebx password)");
  }
}

/** The first thing a technician does: change 'admin' to a strong password (factory → setup). */
export function mebxChangePassword(device: AmtDevice, current: string, next: string): void {
  const op = 'password';
  if (current !== device.nvram.mebx.password) refuse(device, op, 'MEBX_PASSWORD_WRONG', 'current MEBx password incorrect');
  if (next === current) refuse(device, op, 'INVALID_PASSWORD', 'the new MEBx password must differ from the current one');
  if (!isStrongPassword(next)) {
    refuse(device, op, 'INVALID_PASSWORD', 'MEBx password must be 8-32 characters with an upper-case and a lower-case letter, a digit and a non-alphanumeric character (not : , ")');
  }
  device.setMebxPassword(next, 'mebx');
}

function checkDomain(device: AmtDevice, op: string, field: string, v: string, max = 253): string {
  const s = v.trim().replace(/\.$/, '');
  if (s.length > max) refuse(device, op, 'INVALID_PARAMETER', `${field}: at most ${max} characters, got ${s.length}`);
  if (!DOMAIN_PATTERN.test(s)) refuse(device, op, 'INVALID_PARAMETER', `${field}: '${v}' is not a DNS name`);
  return s.toLowerCase();
}

/** Remote Setup and Configuration screens are gone once the device is configured (SDK cfgsetpkifqdnsuffix: not in Post). */
function notConfigured(device: AmtDevice, op: string): void {
  if (device.state === 'Post') refuse(device, op, 'INVALID_AMT_MODE', `${op} is set in MEBx only before the device is configured (it is Post)`);
}

/** Network Setup → host name (one DNS label, ≤ 63). */
export function mebxSetHostname(device: AmtDevice, password: string, hostname: string): void {
  mebxLogin(device, password, 'hostname');
  if (!HOSTNAME_PATTERN.test(hostname)) refuse(device, 'hostname', 'INVALID_PARAMETER', `'${hostname}' is not a host name (1-63 letters, digits, '-')`);
  device.update((img) => {
    img.network.hostname = hostname;
  });
  device.record('mebx.hostname', { hostname });
}

/** Network Setup → domain name ('' clears). */
export function mebxSetDomain(device: AmtDevice, password: string, domain: string): void {
  mebxLogin(device, password, 'domain');
  const d = domain === '' ? '' : checkDomain(device, 'domain', 'domain', domain);
  device.update((img) => {
    img.network.domain = d;
  });
  device.record('mebx.domain', { domain: d });
}

/** Remote Setup and Configuration → TLS PKI → PKI DNS Suffix (≤ 223, reference §2.2/§3; '' clears). */
export function mebxSetPkiDnsSuffix(device: AmtDevice, password: string, suffix: string): void {
  mebxLogin(device, password, 'pki-dns-suffix');
  notConfigured(device, 'pki-dns-suffix');
  const s = suffix === '' ? '' : checkDomain(device, 'pki-dns-suffix', 'PKI DNS suffix', suffix, MAX_PKI_DNS_SUFFIX);
  device.update((img) => {
    img.setup.pkiDnsSuffix = s;
  });
  device.record('mebx.pki-dns-suffix', { suffix: s });
}

export interface ProvisioningServerInput {
  /** IPv4 address ('' clears): locating method 1 (reference §3). */
  address?: string;
  /** FQDN ('' clears): locating method 2a. */
  fqdn?: string;
  port?: number;
}

/** Remote Setup and Configuration → provisioning server address / FQDN / port (reference §1.1, §3). */
export function mebxSetProvisioningServer(device: AmtDevice, password: string, input: ProvisioningServerInput): void {
  const op = 'provisioning-server';
  mebxLogin(device, password, op);
  notConfigured(device, op);
  if (input.address !== undefined && input.address !== '' && !IPV4_PATTERN.test(input.address)) refuse(device, op, 'INVALID_PARAMETER', `'${input.address}' is not an IPv4 address`);
  const fqdn = input.fqdn === undefined || input.fqdn === '' ? input.fqdn : checkDomain(device, op, 'provisioning server FQDN', input.fqdn);
  if (input.port !== undefined && (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535)) refuse(device, op, 'INVALID_PARAMETER', `port ${input.port} is out of range 1-65535`);
  device.update((img) => {
    const ps = img.setup.provisioningServer;
    if (input.address === '') delete ps.address;
    else if (input.address !== undefined) ps.address = input.address;
    if (fqdn === '') delete ps.fqdn;
    else if (fqdn !== undefined) ps.fqdn = fqdn;
    if (input.port !== undefined) ps.port = input.port;
  });
  device.record('mebx.provisioning-server', { ...device.nvram.setup.provisioningServer });
}

/** Remote Setup and Configuration → TLS PSK → PID/PPS (seed 002); not on profiles without TLS-PSK (§1.2). */
export function mebxSetPidPps(device: AmtDevice, password: string, pid: string, pps: string): void {
  mebxLogin(device, password, 'pid-pps');
  if (!device.profile.setup.tlsPsk) refuse(device, 'pid-pps', 'PSK_NOT_SUPPORTED', `${device.profile.id} has no TLS-PSK setup (removed in AMT 11); its MEBx has no PID/PPS screen`);
  try {
    device.setPidPps(canonicalPskText(pid), canonicalPskText(pps));
  } catch (e) {
    if (isAmtError(e)) refuse(device, 'pid-pps', e.code, e.message);
    throw e;
  }
}

/** Remote Setup and Configuration → TLS PKI → Manage Certificate Hashes → add (active, §4.1). */
export function mebxAddHash(device: AmtDevice, password: string, entry: { name: string; algorithm: HashAlgorithm; hash: string }): void {
  mebxLogin(device, password, 'hash-add');
  notConfigured(device, 'hash-add');
  let table;
  try {
    table = addHash(device.nvram.certHashes, device.profile, { ...entry, isActive: true });
  } catch (e) {
    if (isAmtError(e)) refuse(device, 'hash-add', e.code, e.message);
    throw e;
  }
  device.update((img) => {
    img.certHashes = table;
  });
  device.record('mebx.hash-added', { name: entry.name, algorithm: entry.algorithm, hash: table[table.length - 1]!.hash });
}

/** Manage Certificate Hashes → activate / deactivate an entry (default or custom, §4.1 HP). */
export function mebxSetHashActive(device: AmtDevice, password: string, key: string, active: boolean): void {
  const op = active ? 'hash-activate' : 'hash-deactivate';
  mebxLogin(device, password, op);
  notConfigured(device, op);
  let table;
  try {
    table = setHashActive(device.nvram.certHashes, key, active);
  } catch (e) {
    if (isAmtError(e)) refuse(device, op, e.code, e.message);
    throw e;
  }
  device.update((img) => {
    img.certHashes = table;
  });
  device.record(`mebx.${op}`, { key });
}

/**
 * Intel AMT Configuration → Provisioning Model: SMB or Enterprise (seed 001: set by the OEM,
 * "can be changed by an administrator during the setup process"). Reference §0: "Starting from
 * Release 6.0 only effective value is ProvisioningModeEnterprise" — SMB is refused from 6.0 on.
 */
export function mebxSetProvisioningMode(device: AmtDevice, password: string, mode: ProvisioningMode): void {
  mebxLogin(device, password, 'mode');
  notConfigured(device, 'mode');
  if (mode === 'SMB' && device.profile.amtMajor >= 6) refuse(device, 'mode', 'NOT_PERMITTED', `SMB mode does not exist from Release 6.0 on (${device.profile.id}); only Enterprise`);
  device.update((img) => {
    img.provisioning.mode = mode;
  });
  device.record('mebx.mode', { mode });
}

/**
 * "Activate Network Access". SMB: the technician's manual setup ends here — the device is
 * configured and the admin account uses the MEBx password over HTTP digest (seed 002 "SMB mode
 * relies on an administrator password and HTTP"). Enterprise: re-opens the hello window like an
 * agent's StartConfiguration ("From Release 6 … re-open … from the MEBx menu", reference §2.1).
 */
export function mebxActivateNetwork(device: AmtDevice, password: string): void {
  const op = 'activate';
  mebxLogin(device, password, op);
  if (device.state === 'Post') refuse(device, op, 'INVALID_AMT_MODE', 'the device is already configured');
  if (device.nvram.provisioning.mode === 'SMB') {
    device.update((img) => {
      img.adminAcl.digestHash = digestHa1('admin', img.digestRealm, img.mebx.password);
      img.auditRecord = { kind: 'manual', hostInitiated: true, time: device.clock.date().toISOString(), t: device.clock.now() };
    });
    device.transition('Post', 'manualSetup', 'ACM', { mode: 'SMB' });
    device.closeWindow('configured');
    device.record('mebx.activate', { mode: 'SMB' });
    return;
  }
  if (!device.nvram.network.wiredLan) refuse(device, op, 'REMOTE_CONFIG_NEEDS_WIRED_LAN', 'remote configuration needs the wired LAN; this platform can only be configured host-based or manually');
  if (device.windowOpen()) refuse(device, op, 'INVALID_AMT_MODE', 'the configuration window is already open');
  const first = !device.nvram.provisioning.window.bareMetalUsed;
  device.openWindow('agent', first ? HELLO_TIMING.BARE_METAL_WINDOW_MS : HELLO_TIMING.AGENT_WINDOW_MS, 'MEBx activate network access');
  device.record('mebx.activate', { mode: 'Enterprise', windowHours: (first ? HELLO_TIMING.BARE_METAL_WINDOW_MS : HELLO_TIMING.AGENT_WINDOW_MS) / HELLO_TIMING.HOUR });
}

/** Intel AMT Configuration → Un-Provision: partial (keeps PID/PPS, reopens 6 h) or full (factory), reference §5.5. */
export function mebxUnprovision(device: AmtDevice, password: string, kind: 'partial' | 'full'): void {
  mebxLogin(device, password, 'unprovision');
  try {
    device.unprovision(kind);
  } catch (e) {
    if (isAmtError(e)) refuse(device, 'unprovision', e.code, e.message);
    throw e;
  }
  device.record('mebx.unprovision', { kind });
}
