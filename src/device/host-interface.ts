/**
 * The host (MEI/HECI PTHI) commands an OS agent sends, as an in-process API (reference §2.2).
 * Each returns the PTHI status the firmware would and records `host.<Command>` on the timeline.
 */
import { createHash } from 'node:crypto';
import { isAmtError } from '../common/errors.js';
import { CONTROL_MODE_NUMBER, PROVISIONING_STATE_NUMBER, type CertHashEntry } from '../nvram/image.js';
import { DOMAIN_PATTERN } from '../nvram/schema.js';
import type { AmtDevice } from './device.js';
import { HELLO_TIMING } from './hello-schedule.js';
import { PthiStatus, pthiStatusName, type PthiStatusCode } from './pthi.js';

export interface PthiResult<T = undefined> {
  status: PthiStatusCode;
  value?: T;
  /**
   * HOST_OFF: the command never reached the ME — the host OS that would send it is not running
   * (S3/S4/S5 or still in POST, host-power.ts). The status is NOT_READY for callers that only
   * look at the status.
   */
  code?: 'HOST_OFF';
  message?: string;
}

/** CFG_StartConfigurationHBased request fields (reference §5.4, SDK cfgstartconfigurationHBased.htm). */
export interface StartConfigurationHBasedRequest {
  /** CERT_HASH_ALGORITHM: only SHA-256 = 2 and SHA-384 = 3 are supported. */
  serverHashAlgorithm: number;
  /** The server leaf certificate hash the local mutual-TLS session may present (32 or 48 bytes). */
  serverCertHash: Buffer;
  hostVpnEnable: boolean;
  /** NetworkDnsSuffixList: NUL-separated on the wire, at most 320 bytes (SuffixListLen ≤ 320). */
  dnsSuffixList: string[];
}

export interface StartConfigurationHBasedResponse {
  /** The same algorithm the server hash used (2 SHA-256, 3 SHA-384). */
  hashAlgorithm: 2 | 3;
  /** AMTCertHash: hash of the device's own 16993 TLS leaf. */
  amtCertHash: Buffer;
}

/** SuffixListLen ≤ 320 (reference §5.4). */
export const HBASED_SUFFIX_LIST_MAX = 320;
const HBASED_HASH = { 2: { name: 'SHA256', node: 'sha256', bytes: 32 }, 3: { name: 'SHA384', node: 'sha384', bytes: 48 } } as const;
/** A suffix in the list: a DNS name as NVRAM takes one (schema.ts), not empty, no trailing dot. */
const isDnsSuffix = (x: unknown): x is string => typeof x === 'string' && x !== '' && !x.endsWith('.') && DOMAIN_PATTERN.test(x);

/** The wire size of the suffix list: each suffix NUL-terminated. */
export function hbasedSuffixListBytes(list: readonly string[]): number {
  return list.reduce((n, s) => n + Buffer.byteLength(s, 'latin1') + 1, 0);
}

export class HostInterface {
  constructor(private readonly device: AmtDevice) {}

  private done<T>(command: string, status: PthiStatusCode, value?: T, data: Record<string, unknown> = {}): PthiResult<T> {
    // ready() is every command's first check, so NOT_READY with the ME up and the host down is
    // "the OS agent could not send it", which gets its own code.
    const hostOff = status === PthiStatus.NOT_READY && this.device.powered && !this.device.hostPower.running;
    if (hostOff) {
      const hp = this.device.hostPower;
      const message = `host is ${hp.state}${hp.transitioning ? ' (power transition in progress)' : ''}: no OS to send ${command}`;
      this.device.record(`host.${command}`, { status: pthiStatusName(status), hostState: hp.state, message, ...data }, 'HOST_OFF');
      return { status, code: 'HOST_OFF', message };
    }
    this.device.record(`host.${command}`, { status: pthiStatusName(status), ...data }, status === PthiStatus.SUCCESS ? undefined : pthiStatusName(status));
    return value === undefined ? { status } : { status, value };
  }

  /** The ME is powered and the host OS (the agent's side of MEI) is running (host-power.ts). */
  private ready(): boolean {
    return this.device.powered && this.device.hostPower.running;
  }

  getProvisioningState(): PthiResult<0 | 1 | 2> {
    if (!this.ready()) return this.done('GetProvisioningState', PthiStatus.NOT_READY);
    const v = PROVISIONING_STATE_NUMBER[this.device.state];
    return this.done('GetProvisioningState', PthiStatus.SUCCESS, v, { state: this.device.state });
  }

  getControlMode(): PthiResult<0 | 1 | 2> {
    if (!this.ready()) return this.done('GetControlMode', PthiStatus.NOT_READY);
    return this.done('GetControlMode', PthiStatus.SUCCESS, CONTROL_MODE_NUMBER[this.device.controlMode], { controlMode: this.device.controlMode });
  }

  getUuid(): PthiResult<string> {
    if (!this.ready()) return this.done('GetUUID', PthiStatus.NOT_READY);
    return this.done('GetUUID', PthiStatus.SUCCESS, this.device.nvram.uuid);
  }

  getPkiFqdnSuffix(): PthiResult<string> {
    if (!this.ready()) return this.done('GetPkiFQDNSuffix', PthiStatus.NOT_READY);
    return this.done('GetPkiFQDNSuffix', PthiStatus.SUCCESS, this.device.nvram.setup.pkiDnsSuffix);
  }

  getLocalSystemAccount(): PthiResult<{ username: string; password: string }> {
    if (!this.ready()) return this.done('GetLocalSystemAccount', PthiStatus.NOT_READY);
    return this.done('GetLocalSystemAccount', PthiStatus.SUCCESS, { ...this.device.nvram.localSystemAccount });
  }

  getCertHashEntries(): PthiResult<CertHashEntry[]> {
    if (!this.ready()) return this.done('GetCertificateHashEntry', PthiStatus.NOT_READY);
    return this.done('GetCertificateHashEntry', PthiStatus.SUCCESS, this.device.nvram.certHashes.map((h) => ({ ...h })), { count: this.device.nvram.certHashes.length });
  }

  /** SDK cfgsetpkifqdnsuffix.htm: ≤ 223 bytes; not in Post; in In only after the period elapsed. */
  setPkiFqdnSuffix(suffix: string): PthiResult {
    if (!this.ready()) return this.done('SetPkiFQDNSuffix', PthiStatus.NOT_READY);
    if (Buffer.byteLength(suffix, 'latin1') > 223 || !/^[A-Za-z0-9.-]*$/.test(suffix)) return this.done('SetPkiFQDNSuffix', PthiStatus.INVALID_PARAMETER, undefined, { suffix });
    if (this.device.state === 'Post' || (this.device.state === 'In' && this.device.windowOpen())) return this.done('SetPkiFQDNSuffix', PthiStatus.INVALID_AMT_MODE);
    this.device.update((img) => {
      img.setup.pkiDnsSuffix = suffix;
    });
    return this.done('SetPkiFQDNSuffix', PthiStatus.SUCCESS, undefined, { suffix });
  }

  /** SET_PROVISIONING_SERVER_OTP: the SCA must present this OTP; allowed before configuration. */
  setProvisioningServerOtp(otp: Buffer): PthiResult {
    if (!this.ready()) return this.done('SetProvisioningServerOTP', PthiStatus.NOT_READY);
    if (otp.length < 8 || otp.length > 32) return this.done('SetProvisioningServerOTP', PthiStatus.INVALID_PARAMETER, undefined, { length: otp.length });
    if (this.device.state === 'Post') return this.done('SetProvisioningServerOTP', PthiStatus.INVALID_AMT_MODE);
    this.device.update((img) => {
      img.setup.otp = otp.toString('hex');
    });
    return this.done('SetProvisioningServerOTP', PthiStatus.SUCCESS, undefined, { length: otp.length });
  }

  /**
   * CFG_StartConfiguration(Ex): start hellos and open the remote port filters. Not allowed in
   * Post; in In only once the previous period has elapsed (SDK cfgstartconfiguration.htm). The
   * first window is 24 h, later ones 6 h (Altiris OOB guide, reference §2.1).
   */
  startConfiguration(ex = false, ipv6Enable = false): PthiResult {
    const name = ex ? 'StartConfigurationEx' : 'StartConfiguration';
    const d = this.device;
    if (!this.ready()) return this.done(name, PthiStatus.NOT_READY);
    if (d.state === 'Post') return this.done(name, PthiStatus.INVALID_AMT_MODE, undefined, { reason: 'device is configured (Post)' });
    if (d.state === 'In' && d.windowOpen()) return this.done(name, PthiStatus.INVALID_AMT_MODE, undefined, { reason: 'provisioning period has not elapsed' });
    if (d.nvram.provisioning.mode === 'SMB') return this.done(name, PthiStatus.NOT_PERMITTED, undefined, { reason: 'SMB mode has no remote configuration', code: 'SMB_NO_REMOTE_CONFIG' });
    // Seed 004: without a wired LAN only host-based or manual configuration remain.
    if (!d.nvram.network.wiredLan) return this.done(name, PthiStatus.NOT_PERMITTED, undefined, { reason: 'no wired LAN: remote configuration is unavailable', code: 'REMOTE_CONFIG_NEEDS_WIRED_LAN' });
    // SDK cfgstartconfigurationex.htm: NOT_READY "typically means … not connected to a DHCP server or … option 15 is not present".
    if (ex && !d.lease) return this.done(name, PthiStatus.NOT_READY, undefined, { reason: 'no DHCP lease' });
    if (ex && !d.trustedDnsSuffix) return this.done(name, PthiStatus.NOT_READY, undefined, { reason: 'no DHCP option 15 and no PKI DNS suffix' });
    const first = !d.nvram.provisioning.window.bareMetalUsed;
    const lengthMs = first ? HELLO_TIMING.BARE_METAL_WINDOW_MS : HELLO_TIMING.AGENT_WINDOW_MS;
    if (d.state === 'Pre') d.transition('In', 'startConfiguration');
    d.openWindow('agent', lengthMs, name);
    return this.done(name, PthiStatus.SUCCESS, undefined, { windowHours: lengthMs / HELLO_TIMING.HOUR, ipv6Enable });
  }

  /**
   * CFG_StartConfigurationHBased (0x0400008B, reference §5.4): "transitions to the IN_PROVISIONING
   * State and waits for an incoming TLS session"; does not open the remote port filters and sends
   * no hellos. The response carries AMTCertHash, the hash of the device's own TLS leaf with the
   * server's algorithm (rpc-go pkg/pthi, MeshCentral reads type then 32/48 bytes).
   * Refusals: INVALID_PARAMETER (algorithm not 2/3, hash length, suffix list), NOT_PERMITTED
   * (firmware before CSME 14: profile.setup.hostBasedTls), INVALID_AMT_MODE (not in Pre — choice:
   * lifecycle.ts allows only Pre → In for this command, so In needs CFG_StopConfiguration first,
   * which is what MeshCentral does), CERTIFICATE_NOT_READY (no TLS certificate source: the device
   * runs without listeners).
   */
  async startConfigurationHBased(req: StartConfigurationHBasedRequest): Promise<PthiResult<StartConfigurationHBasedResponse>> {
    const name = 'StartConfigurationHBased';
    const d = this.device;
    if (!this.ready()) return this.done<StartConfigurationHBasedResponse>(name, PthiStatus.NOT_READY);
    const refuse = (status: PthiStatusCode, reason: string, data: Record<string, unknown> = {}): PthiResult<StartConfigurationHBasedResponse> =>
      this.done<StartConfigurationHBasedResponse>(name, status, undefined, { reason, ...data });
    const alg = req.serverHashAlgorithm === 2 || req.serverHashAlgorithm === 3 ? HBASED_HASH[req.serverHashAlgorithm] : undefined;
    if (!alg) return refuse(PthiStatus.INVALID_PARAMETER, `ServerHashAlgorithm must be 2 (SHA-256) or 3 (SHA-384), got ${String(req.serverHashAlgorithm)}`);
    if (!Buffer.isBuffer(req.serverCertHash) || req.serverCertHash.length !== alg.bytes) {
      return refuse(PthiStatus.INVALID_PARAMETER, `ServerCertHash must be ${alg.bytes} bytes for ${alg.name}, got ${Buffer.isBuffer(req.serverCertHash) ? req.serverCertHash.length : typeof req.serverCertHash}`);
    }
    if (typeof req.hostVpnEnable !== 'boolean') return refuse(PthiStatus.INVALID_PARAMETER, 'HostVPNEnable must be a boolean');
    if (!Array.isArray(req.dnsSuffixList)) return refuse(PthiStatus.INVALID_PARAMETER, 'NetworkDnsSuffixList must be a list of DNS suffixes');
    const badSuffix = req.dnsSuffixList.find((x) => !isDnsSuffix(x));
    if (badSuffix !== undefined) return refuse(PthiStatus.INVALID_PARAMETER, `DNS suffix ${JSON.stringify(badSuffix)} is not a DNS name`);
    const listBytes = hbasedSuffixListBytes(req.dnsSuffixList);
    if (listBytes > HBASED_SUFFIX_LIST_MAX) return refuse(PthiStatus.INVALID_PARAMETER, `NetworkDnsSuffixList is ${listBytes} bytes NUL-separated; at most ${HBASED_SUFFIX_LIST_MAX}`);
    if (!d.profile.setup.hostBasedTls) {
      return this.done<StartConfigurationHBasedResponse>(name, PthiStatus.NOT_PERMITTED, undefined, { reason: `firmware ${d.profile.id} has no secure host-based configuration (CSME 14+)`, code: 'NOT_PERMITTED' });
    }
    if (d.state !== 'Pre') return refuse(PthiStatus.INVALID_AMT_MODE, d.state === 'Post' ? 'device is configured (Post)' : 'device is already in setup (In): CFG_StopConfiguration first', { state: d.state });
    const source = d.tlsCertificate;
    if (!source) return refuse(PthiStatus.CERTIFICATE_NOT_READY, 'the device has no TLS certificate (no 16993 listener attached)');
    let leaf: Buffer;
    try {
      leaf = await source();
    } catch (e) {
      return refuse(PthiStatus.CERTIFICATE_NOT_READY, `device TLS certificate unavailable: ${(e as Error).message}`);
    }
    // The certificate was made asynchronously: the state may have moved meanwhile.
    if (!this.ready()) return this.done<StartConfigurationHBasedResponse>(name, PthiStatus.NOT_READY);
    if (d.state !== 'Pre') return refuse(PthiStatus.INVALID_AMT_MODE, 'device left Pre while the command ran', { state: d.state });
    const serverCertHash = req.serverCertHash.toString('hex');
    d.startHostBasedConfiguration({ algorithm: alg.name, serverCertHash, hostVpnEnable: req.hostVpnEnable, dnsSuffixes: [...req.dnsSuffixList] });
    const amtCertHash = createHash(alg.node).update(leaf).digest();
    return this.done(name, PthiStatus.SUCCESS, { hashAlgorithm: req.serverHashAlgorithm as 2 | 3, amtCertHash }, {
      serverHashAlgorithm: alg.name,
      serverCertHash,
      amtCertHash: amtCertHash.toString('hex'),
      hostVpnEnable: req.hostVpnEnable,
      dnsSuffixList: req.dnsSuffixList,
    });
  }

  /** CFG_StopConfiguration: back to Pre (MeshCentral: status 3 when not in In). */
  stopConfiguration(): PthiResult {
    const d = this.device;
    if (!this.ready()) return this.done('StopConfiguration', PthiStatus.NOT_READY);
    if (d.state !== 'In') return this.done('StopConfiguration', PthiStatus.INVALID_AMT_MODE, undefined, { state: d.state });
    d.closeWindow('stopped');
    d.transition('Pre', 'stopConfiguration');
    return this.done('StopConfiguration', PthiStatus.SUCCESS);
  }

  /**
   * ExtendProvisioningPeriod (1–24 h per call, reference §1.4). The SCA sends it over WS-Man;
   * exposed here too so agents and scenarios can drive it.
   */
  extendProvisioningPeriod(hours: number, via: 'host' | 'wsman' = 'host'): PthiResult {
    const d = this.device;
    // Over WS-Man the SCA reaches the ME directly: the host's power state does not matter.
    if (via === 'wsman' ? !d.powered : !this.ready()) return this.done('ExtendProvisioningPeriod', PthiStatus.NOT_READY);
    if (!Number.isInteger(hours) || hours < 1 || hours > d.profile.setup.maxExtendHours) {
      return this.done('ExtendProvisioningPeriod', PthiStatus.INVALID_PARAMETER, undefined, { hours, max: d.profile.setup.maxExtendHours });
    }
    if (d.state !== 'In' || !d.windowOpen()) return this.done('ExtendProvisioningPeriod', PthiStatus.INVALID_AMT_MODE, undefined, { state: d.state, window: d.window.kind });
    d.extendWindow(hours);
    return this.done('ExtendProvisioningPeriod', PthiStatus.SUCCESS, undefined, { hours });
  }

  /** CFG_Unprovision(mode): MeshCentral uses it to deactivate CCM from the host. */
  unprovision(mode = 1): PthiResult {
    const d = this.device;
    if (!this.ready()) return this.done('Unprovision', PthiStatus.NOT_READY);
    if (d.controlMode === 'ACM') return this.done('Unprovision', PthiStatus.NOT_PERMITTED, undefined, { reason: 'ACM devices are unprovisioned over WS-Man or in MEBx' });
    try {
      d.unprovision('full');
      return this.done('Unprovision', PthiStatus.SUCCESS, undefined, { mode });
    } catch (e) {
      if (isAmtError(e)) return this.done('Unprovision', PthiStatus.INVALID_AMT_MODE, undefined, { reason: e.message });
      throw e;
    }
  }
}
