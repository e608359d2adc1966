/**
 * The host (MEI/HECI PTHI) commands an OS agent sends, as an in-process API (reference §2.2).
 * Each returns the PTHI status the firmware would and records `host.<Command>` on the timeline.
 */
import { isAmtError } from '../common/errors.js';
import { CONTROL_MODE_NUMBER, PROVISIONING_STATE_NUMBER, type CertHashEntry } from '../nvram/image.js';
import type { AmtDevice } from './device.js';
import { HELLO_TIMING } from './hello-schedule.js';
import { PthiStatus, pthiStatusName, type PthiStatusCode } from './pthi.js';

export interface PthiResult<T = undefined> {
  status: PthiStatusCode;
  value?: T;
}

export class HostInterface {
  constructor(private readonly device: AmtDevice) {}

  private done<T>(command: string, status: PthiStatusCode, value?: T, data: Record<string, unknown> = {}): PthiResult<T> {
    this.device.record(`host.${command}`, { status: pthiStatusName(status), ...data }, status === PthiStatus.SUCCESS ? undefined : pthiStatusName(status));
    return value === undefined ? { status } : { status, value };
  }

  private ready(): boolean {
    return this.device.powered;
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
  extendProvisioningPeriod(hours: number): PthiResult {
    const d = this.device;
    if (!this.ready()) return this.done('ExtendProvisioningPeriod', PthiStatus.NOT_READY);
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
