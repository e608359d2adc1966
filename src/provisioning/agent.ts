/**
 * The reference OS agent (agent-initiated remote configuration, seeds 000/001; reference §1.4
 * steps 1–5): over the host interface it reads the provisioning state and UUID, creates a
 * one-time password and writes it to the ME, opens the 6-hour window with StartConfiguration(Ex)
 * and reports {uuid, otp, state} to its console. If the window closes without the device reaching
 * Post it opens it again (a bounded number of times) — the "recovery action" Intel leaves to the
 * management software. It runs in-process beside an emulated device and uses only the Clock.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { TimerId } from '../clock/clock.js';
import type { TimelineEvent } from '../common/timeline.js';
import type { AmtDevice } from '../device/device.js';
import { PthiStatus, pthiStatusName } from '../device/pthi.js';

export type AgentStatus = 'window-opened' | 'configured' | 'gave-up' | 'failed' | 'stopped';

export interface AgentReport {
  /** Clock time of the report. */
  t: number;
  deviceId: string;
  status: AgentStatus;
  uuid?: string;
  /** Hex of the OTP written with SET_PROVISIONING_SERVER_OTP (share it with the SCA). */
  otp?: string;
  state?: 'Pre' | 'In' | 'Post';
  /** 1 for the first window, 2 for the first restart, … */
  attempt: number;
  /** Set when a host command failed. */
  code?: string;
  reason?: string;
}

export interface OsAgentOptions {
  device: AmtDevice;
  /** OTP length in bytes, 8–32 (PTHI limit). Default 16. */
  otpBytes?: number;
  /** How many times to reopen an expired window. Default 3. */
  maxRestarts?: number;
  /** Wait this long (Clock ms) after an expiry before reopening. Default 0. */
  restartDelayMs?: number;
  /** StartConfigurationEx (needs a DHCP lease with option 15) instead of StartConfiguration. */
  useEx?: boolean;
  /** A fresh OTP for each window (default true). */
  newOtpPerWindow?: boolean;
  random?: (n: number) => Buffer;
  onReport?: (r: AgentReport) => void;
}

const STATE_NAME = { 0: 'Pre', 1: 'In', 2: 'Post' } as const;

export class OsAgent extends EventEmitter {
  readonly reports: AgentReport[] = [];
  private readonly device: AmtDevice;
  private attempt = 0;
  private restarts = 0;
  private unsubscribe: (() => void) | undefined;
  private restartTimer: TimerId | undefined;
  private running = false;
  private otp: Buffer | undefined;
  private uuid: string | undefined;

  constructor(private readonly opts: OsAgentOptions) {
    super();
    this.device = opts.device;
    const n = opts.otpBytes ?? 16;
    if (!Number.isInteger(n) || n < 8 || n > 32) throw new RangeError(`otpBytes must be an integer 8–32, got ${n}`);
    const m = opts.maxRestarts ?? 3;
    if (!Number.isInteger(m) || m < 0) throw new RangeError(`maxRestarts must be an integer ≥ 0, got ${m}`);
  }

  get active(): boolean {
    return this.running;
  }

  /** Run the agent's first pass; returns its report. Later reports arrive via onReport / 'report'. */
  start(): AgentReport {
    if (this.running) throw new Error('agent already running');
    this.running = true;
    this.unsubscribe = this.device.timeline.subscribe((e) => this.onTimeline(e));
    return this.openWindow();
  }

  stop(): void {
    if (!this.running) return;
    this.halt();
    this.report({ status: 'stopped' });
  }

  private halt(): void {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.restartTimer !== undefined) this.device.clock.cancel(this.restartTimer);
    this.restartTimer = undefined;
  }

  private report(r: Omit<AgentReport, 't' | 'deviceId' | 'attempt'>): AgentReport {
    const full: AgentReport = { t: this.device.clock.now(), deviceId: this.device.id, attempt: this.attempt, ...r };
    if (this.uuid && !full.uuid) full.uuid = this.uuid;
    this.reports.push(full);
    this.device.record('agent.report', { status: full.status, attempt: full.attempt, ...(full.reason ? { reason: full.reason } : {}) }, full.code);
    this.opts.onReport?.(full);
    this.emit('report', full);
    return full;
  }

  private fail(command: string, status: number): AgentReport {
    this.halt();
    return this.report({ status: 'failed', code: pthiStatusName(status), reason: `${command} returned ${pthiStatusName(status)}` });
  }

  private openWindow(): AgentReport {
    const host = this.device.host;
    this.attempt += 1;
    const st = host.getProvisioningState();
    if (st.status !== PthiStatus.SUCCESS || st.value === undefined) return this.fail('GetProvisioningState', st.status);
    const state = STATE_NAME[st.value];
    const id = host.getUuid();
    if (id.status !== PthiStatus.SUCCESS || !id.value) return this.fail('GetUUID', id.status);
    this.uuid = id.value;
    if (state === 'Post') {
      this.halt();
      return this.report({ status: 'configured', state });
    }
    if (!this.otp || this.opts.newOtpPerWindow !== false) this.otp = (this.opts.random ?? randomBytes)(this.opts.otpBytes ?? 16);
    const otp = host.setProvisioningServerOtp(this.otp);
    if (otp.status !== PthiStatus.SUCCESS) return this.fail('SetProvisioningServerOTP', otp.status);
    const started = host.startConfiguration(this.opts.useEx ?? false);
    if (started.status !== PthiStatus.SUCCESS) {
      // In with the period still running: the window is already open; keep watching it.
      if (!(started.status === PthiStatus.INVALID_AMT_MODE && this.device.state === 'In' && this.device.windowOpen())) {
        return this.fail(this.opts.useEx ? 'StartConfigurationEx' : 'StartConfiguration', started.status);
      }
    }
    return this.report({ status: 'window-opened', otp: this.otp.toString('hex'), state: this.device.state });
  }

  private onTimeline(e: TimelineEvent): void {
    if (!this.running || e.deviceId !== this.device.id) return;
    if (e.type === 'lifecycle.transition' && e.data.to === 'Post') {
      this.halt();
      this.report({ status: 'configured', state: 'Post' });
      return;
    }
    if (e.type === 'window.closed' && e.data.reason === 'expired' && this.restartTimer === undefined) {
      if (this.restarts >= (this.opts.maxRestarts ?? 3)) {
        this.halt();
        this.report({ status: 'gave-up', code: 'WINDOW_CLOSED', reason: `window expired ${this.restarts + 1} times without configuration` });
        return;
      }
      this.restarts += 1;
      // Not from inside the firmware's own closeWindow(): schedule on the Clock.
      this.restartTimer = this.device.clock.setTimer(this.opts.restartDelayMs ?? 0, () => {
        this.restartTimer = undefined;
        if (this.running) this.openWindow();
      }, `${this.device.id} agent restart`);
    }
  }
}

