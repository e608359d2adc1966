/**
 * One emulated Management Engine. It owns an NVRAM image, reacts to events (power, link, DHCP
 * lease, clock timers, host commands, network requests) and records everything it does on the
 * timeline. It never touches a socket: the world is reached through DeviceNetwork.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, TimerId } from '../clock/clock.js';
import { AmtError, isAmtError, type AmtErrorCode } from '../common/errors.js';
import type { Timeline, TimelineEvent } from '../common/timeline.js';
import type { ConfigurationWindow, ControlMode, NvramImage, ProvisioningState } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';
import { locateProvisioningServer } from './discovery.js';
import { detectEnvironment } from './environment-detection.js';
import type { DeviceNetwork, DhcpHandle, DhcpLease, HelloTarget } from './environment.js';
import { helloFor } from './hello.js';
import { HELLO_TIMING, helloSlotOffset, nextHelloOffset } from './hello-schedule.js';
import { HostInterface } from './host-interface.js';
import { HostPower } from './host-power.js';
import { applyFullUnprovision, applyPartialUnprovision, checkTransition, type LifecycleReason } from './lifecycle.js';
import { cloneImageData, withWindow } from './nvram-draft.js';
import { portAnswers, type Origin } from './port-policy.js';
import { configuredDefaults, peekUserConsent, userConsentFor } from './user-consent.js';

export interface AmtDeviceOptions {
  image: NvramImage;
  profile: FirmwareProfile;
  clock: Clock;
  timeline: Timeline;
  /** Absent: the device has no network stack (a unit test of host commands, MEBx). */
  network?: DeviceNetwork;
  /**
   * Called with the image after every change; the store writes it crash-safely and returns
   * what it wrote (with its generation bumped), which becomes the device's image.
   */
  persist?: (image: Readonly<NvramImage>) => NvramImage | void;
  /** A fresh factory image for this device (full unprovision restores it). */
  factoryImage: () => NvramImage;
  /** Random bytes (nonces, passwords); injectable for reproducible runs. */
  random?: (n: number) => Buffer;
  /**
   * The DER of the TLS leaf this device presents on 16993 (the listeners' certificate store).
   * CFG_StartConfigurationHBased answers its hash (AMTCertHash, reference §5.4).
   */
  tlsCertificate?: () => Promise<Buffer>;
}

/**
 * What CFG_StartConfigurationHBased pinned (reference §5.4): the server leaf hash the local
 * mutual-TLS session must present, and the host's DNS suffixes. Firmware RAM: gone at power-off.
 */
export interface HostBasedPin {
  algorithm: 'SHA256' | 'SHA384';
  /** Lower-case hex of the server leaf certificate hash. */
  serverCertHash: string;
  hostVpnEnable: boolean;
  dnsSuffixes: string[];
}

/** How late a hello slot may be and still be sent as that slot (real and scaled clocks jitter). */
const HELLO_SLOT_TOLERANCE_MS = 1000;

/** Who is connecting: the host OS through LMS on the device's own address, or the network. */
export type { Origin } from './port-policy.js';

export class AmtDevice {
  readonly id: string;
  readonly profile: FirmwareProfile;
  readonly clock: Clock;
  readonly timeline: Timeline;
  readonly host: HostInterface;
  /** The host's S-state as the ME sees it (host-power.ts); runtime only, follows AC power. */
  readonly hostPower: HostPower;
  private img: NvramImage;
  private readonly network: DeviceNetwork | undefined;
  private readonly persistFn: ((image: Readonly<NvramImage>) => NvramImage | void) | undefined;
  private readonly factoryImage: () => NvramImage;
  readonly random: (n: number) => Buffer;

  private poweredOn = false;
  private linkUp = true;
  private currentLease: DhcpLease | undefined;
  private dhcp: DhcpHandle | undefined;
  /** Clock time at which the open window's elapsed counter was last brought up to date. */
  private windowMark = 0;
  private helloTimer: TimerId | undefined;
  private windowEndTimer: TimerId | undefined;
  private helloInFlight = false;
  /** A hello slot came while the device had no address: it goes out as soon as a lease arrives. */
  private helloAwaitingLease = false;
  /** Seed 004 environment detection: the last lease's option 15 is outside every home domain. */
  private outsideHome = false;
  /** Set while an authenticated remote-configuration session (PKI-CH) runs. */
  remoteSession: RemoteSetupSession | undefined;
  /** Source of the device's own 16993 TLS leaf (DER); set by whoever runs the listeners. */
  tlsCertificate: (() => Promise<Buffer>) | undefined;
  private pin: HostBasedPin | undefined;

  constructor(opts: AmtDeviceOptions) {
    this.img = opts.image;
    this.id = opts.image.deviceId;
    this.profile = opts.profile;
    this.clock = opts.clock;
    this.timeline = opts.timeline;
    this.network = opts.network;
    this.persistFn = opts.persist;
    this.factoryImage = opts.factoryImage;
    this.random = opts.random ?? ((n) => randomBytes(n));
    this.tlsCertificate = opts.tlsCertificate;
    this.host = new HostInterface(this);
    this.hostPower = new HostPower({ clock: this.clock, deviceId: this.id, record: (type, data, code) => this.record(type, data, code), redirectionSessions: () => peekUserConsent(this).sessions });
  }

  // ---- read side ---------------------------------------------------------------------------

  get nvram(): Readonly<NvramImage> {
    return this.img;
  }
  get state(): ProvisioningState {
    return this.img.provisioning.state;
  }
  get controlMode(): ControlMode {
    return this.img.provisioning.controlMode;
  }
  get powered(): boolean {
    return this.poweredOn;
  }
  get link(): boolean {
    return this.linkUp;
  }
  get lease(): DhcpLease | undefined {
    return this.currentLease;
  }
  /** The device's IPv4 address (shared with the host OS, as on a real vPro PC). */
  get address(): string | undefined {
    return this.currentLease?.address;
  }
  /** The DNS suffix that authorises a provisioning certificate: MEBx PKI suffix, else option 15. */
  get trustedDnsSuffix(): { suffix: string; secureDns: boolean } | undefined {
    const mebx = this.img.setup.pkiDnsSuffix.trim();
    if (mebx) return { suffix: mebx, secureDns: true };
    const dhcp = this.currentLease?.domain?.trim();
    return dhcp ? { suffix: dhcp, secureDns: false } : undefined;
  }

  /** Window state with the elapsed time brought up to now. */
  get window(): Readonly<NvramImage['provisioning']['window']> & { remainingMs: number } {
    const w = this.img.provisioning.window;
    const elapsed = w.kind === 'closed' ? w.elapsedMs : w.elapsedMs + (this.poweredOn ? Math.floor(this.clock.now() - this.windowMark) : 0);
    return { ...w, elapsedMs: elapsed, remainingMs: w.kind === 'closed' ? 0 : Math.max(0, w.lengthMs - elapsed) };
  }

  record(type: string, data: Record<string, unknown> = {}, code?: AmtErrorCode | string): TimelineEvent {
    return this.timeline.record(this.id, type, data, code);
  }

  /** Change NVRAM and persist it. Every firmware write goes through here. */
  update(mutate: (img: NvramImage) => void): void {
    const next = cloneImageData(this.img);
    mutate(next);
    next.generation = this.img.generation;
    // Persist first: if the store throws (disk full), the in-memory image keeps the last good state.
    const stored = this.persistFn?.(next);
    this.img = stored ?? { ...next, generation: next.generation + 1 };
  }

  // ---- power and link ----------------------------------------------------------------------

  powerOn(): void {
    if (this.poweredOn) return;
    this.poweredOn = true;
    this.windowMark = this.clock.now();
    this.record('power.on', { state: this.state, controlMode: this.controlMode });
    this.hostPower.acOn();
    if (this.linkUp) this.startNetwork();
    this.armWindow();
  }

  /** Power off (or power loss): uptime stops counting, timers stop, the lease is gone. */
  powerOff(reason: 'off' | 'loss' = 'off'): void {
    if (!this.poweredOn) return;
    this.syncWindowElapsed();
    // Keep the accumulated uptime across the power cycle (ITJ 2008: "accumulated system up-time").
    // Power goes off whether or not that write succeeds (the file keeps its last good image).
    if (this.windowOpen()) this.inFirmwareTask(() => this.setWindow(this.img.provisioning.window));
    this.poweredOn = false;
    this.disarmWindow();
    this.helloAwaitingLease = false;
    this.stopNetwork();
    this.remoteSession = undefined;
    this.pin = undefined;
    userConsentFor(this).reset('power off'); // consent is RAM state
    // The host drops with the AC first; power.off stays the last event of the two (the API shows it).
    this.hostPower.acOff(reason);
    this.record('power.off', { reason, windowElapsedMs: this.img.provisioning.window.elapsedMs });
  }

  setLink(up: boolean): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    this.record(up ? 'link.up' : 'link.down');
    if (!this.poweredOn) return;
    if (up) this.startNetwork();
    else this.stopNetwork();
  }

  private startNetwork(): void {
    if (!this.network || this.dhcp) return;
    const mac = this.img.macs[0];
    if (!mac || !this.img.network.wiredLan) {
      this.record('dhcp.skipped', { reason: 'no wired LAN on this platform' });
      return;
    }
    this.dhcp = this.network.startDhcp(
      { deviceId: this.id, mac, hostname: this.img.network.hostname },
      {
        onLease: (lease) => this.onLease(lease),
        onFailure: (code, message) => {
          this.currentLease = undefined;
          this.record('dhcp.failed', { message }, code);
        },
        onPacket: (direction, type, detail) => this.record(`dhcp.${type}`, { direction, ...detail }),
      },
    );
  }

  private stopNetwork(): void {
    this.dhcp?.stop();
    this.dhcp = undefined;
    if (this.currentLease) this.record('dhcp.released', { address: this.currentLease.address });
    this.currentLease = undefined;
    this.outsideHome = false;
  }

  /** Whether environment detection found this device outside its home domains (seed 004). */
  get outsideHomeDomain(): boolean {
    return this.outsideHome;
  }

  private onLease(lease: DhcpLease): void {
    const renewed = this.currentLease?.address === lease.address;
    this.currentLease = lease;
    this.record('dhcp.lease', { address: lease.address, domain: lease.domain, dnsServers: lease.dnsServers, renewed });
    const env = detectEnvironment(this.img.setup.homeDomains, lease.domain);
    if (env) {
      this.outsideHome = !env.inside;
      // Seed 004: outside the home domains the firmware network interface is closed.
      this.record('environment.detected', {
        inside: env.inside, domain: lease.domain ?? null, homeDomains: this.img.setup.homeDomains,
        ...(env.matched ? { matched: env.matched } : { policy: 'network interface closed' }),
      }, env.inside ? undefined : 'OUTSIDE_HOME_DOMAIN');
    }
    if (!lease.domain) {
      // SDK cfgstartconfigurationex.htm: without option 15 the firmware has no domain to trust.
      this.record('dhcp.no-domain', { note: 'lease has no option 15; only the MEBx PKI DNS suffix can authorise a server' }, 'DHCP_NO_DOMAIN');
    }
    // A hello slot that found no address goes out now, as firmware says hello once it has an IP.
    if (this.helloAwaitingLease && !this.helloInFlight) {
      this.helloAwaitingLease = false;
      void this.clock.track(this.sayHello().catch((e: unknown) => this.inFirmwareTask(() => { throw e; })));
    }
  }

  /**
   * Run firmware work that no caller waits for (a timer, a DHCP callback). A failed NVRAM write
   * (disk full, no file descriptors) becomes a coded timeline event and the device keeps its last
   * good image, instead of an exception that would take the whole fleet process down.
   */
  private inFirmwareTask(work: () => void): void {
    try {
      work();
    } catch (e) {
      if (!this.recordWriteFailure(e)) throw e;
    }
  }

  /**
   * A store that refused a write: out of space or descriptors (NVRAM_IO), or an image its
   * schema rejects (NVRAM_INVALID, a bug elsewhere). Either way the file keeps its last good
   * image (the store writes a temp file and renames it only when the whole write succeeded)
   * and the firmware goes on; the failure is a coded timeline event. False: not a store failure.
   */
  private recordWriteFailure(e: unknown): boolean {
    if (!isAmtError(e, 'NVRAM_IO') && !isAmtError(e, 'NVRAM_INVALID')) return false;
    this.record('nvram.write-failed', { message: e.message }, e.code);
    return true;
  }

  // ---- the configuration window and hellos ---------------------------------------------------

  windowOpen(): boolean {
    return this.img.provisioning.window.kind !== 'closed';
  }

  private sendsHellos(): boolean {
    const p = this.img.provisioning;
    // Seed 001: SMB devices never say hello; HP ships the OEM timer at 0 (no hellos at all).
    return p.state === 'In' && p.mode === 'Enterprise' && !p.window.hostBased && (this.profile.hello.pki || this.profile.hello.psk);
  }

  /** On power-on in setup state: the one-time bare-metal window opens for 'talk' devices. */
  private maybeOpenBareMetalWindow(): void {
    const p = this.img.provisioning;
    if (p.state !== 'In' || p.window.kind !== 'closed' || p.window.bareMetalUsed) return;
    if (p.mode !== 'Enterprise' || p.trigger !== 'talk' || p.remoteConfigTimerHours <= 0) return;
    // setup.bin var 28 "ME Provision Halt/Active" = Stop: no self-started hellos (an agent may still start them).
    if (this.img.setup.provisionHalt) return;
    // Self-started (power-on, a timer): a refused write leaves the window closed and is an event.
    this.inFirmwareTask(() => this.openWindow('bareMetal', p.remoteConfigTimerHours * HELLO_TIMING.HOUR, 'power-on in setup state'));
  }

  openWindow(kind: 'bareMetal' | 'agent', lengthMs: number, reason: string, hostBased = false): void {
    this.syncWindowElapsed();
    this.update((img) => {
      img.provisioning.window = {
        kind,
        elapsedMs: 0,
        lengthMs,
        hellosSent: 0,
        bareMetalUsed: img.provisioning.window.bareMetalUsed || kind === 'bareMetal' || lengthMs >= HELLO_TIMING.BARE_METAL_WINDOW_MS,
        ...(hostBased ? { hostBased: true } : {}),
      };
    });
    this.windowMark = this.clock.now();
    this.record('window.opened', { kind, lengthMs, reason, hostBased });
    this.disarmWindow();
    this.armWindow();
  }

  /** The server leaf hash StartConfigurationHBased pinned, while its host-based window is open. */
  get hostBasedPin(): Readonly<HostBasedPin> | undefined {
    return this.pin;
  }

  /**
   * CFG_StartConfigurationHBased's effect (reference §5.4): Pre → In, a host-based window (no
   * remote port filters opened, no hellos), the server leaf hash kept in RAM. The window length
   * is the agent window's 6 h (choice: the SDK gives none for this command).
   */
  startHostBasedConfiguration(pin: HostBasedPin): void {
    this.transition('In', 'startConfigurationHBased');
    this.pin = { ...pin, dnsSuffixes: [...pin.dnsSuffixes] };
    this.openWindow('agent', HELLO_TIMING.AGENT_WINDOW_MS, 'StartConfigurationHBased', true);
  }

  closeWindow(reason: 'expired' | 'stopped' | 'configured' | 'unprovisioned'): void {
    this.pin = undefined;
    if (!this.windowOpen()) return;
    this.syncWindowElapsed();
    const w = this.img.provisioning.window;
    this.update((img) => {
      img.provisioning.window = { ...w, kind: 'closed', hostBased: false };
    });
    this.disarmWindow();
    this.record('window.closed', { reason, kind: w.kind, elapsedMs: w.elapsedMs, hellosSent: w.hellosSent }, reason === 'expired' ? 'WINDOW_CLOSED' : undefined);
  }

  /** ExtendProvisioningPeriod: the window's remaining time becomes `hours` (1–24, ≤ 255 h in all). */
  extendWindow(hours: number): void {
    this.syncWindowElapsed();
    const w = this.img.provisioning.window;
    const lengthMs = Math.min(w.elapsedMs + hours * HELLO_TIMING.HOUR, HELLO_TIMING.MAX_PERIOD_MS);
    this.update((img) => {
      img.provisioning.window = { ...w, lengthMs };
    });
    this.record('window.extended', { hours, lengthMs, elapsedMs: w.elapsedMs });
    this.disarmWindow();
    this.armWindow();
  }

  private syncWindowElapsed(): void {
    const w = this.img.provisioning.window;
    if (w.kind === 'closed' || !this.poweredOn) {
      this.windowMark = this.clock.now();
      return;
    }
    // Whole milliseconds only: NVRAM counts uptime in ms (the image schema says integer), while a
    // scaled or real clock reads fractions of one. The fraction stays behind the mark and counts
    // with the next sync, so nothing is lost to rounding however often this runs.
    const delta = Math.floor(this.clock.now() - this.windowMark);
    if (delta <= 0) return;
    this.windowMark += delta;
    // The uptime counter lives in RAM and reaches NVRAM with the next write (a hello, power-off,
    // any transition). A new image object keeps earlier snapshots of `nvram` unchanged.
    this.img = withWindow(this.img, { ...w, elapsedMs: w.elapsedMs + delta });
  }

  /**
   * Write just the window: the hot path of a fleet (one write per hello). Shares every other
   * part of the image instead of deep-cloning it, with the same persist-first rule as update().
   */
  private setWindow(w: ConfigurationWindow): void {
    const next = withWindow(this.img, w);
    const stored = this.persistFn?.(next);
    this.img = stored ?? { ...next, generation: next.generation + 1 };
  }

  private disarmWindow(): void {
    if (this.helloTimer !== undefined) this.clock.cancel(this.helloTimer);
    if (this.windowEndTimer !== undefined) this.clock.cancel(this.windowEndTimer);
    this.helloTimer = undefined;
    this.windowEndTimer = undefined;
  }

  private armWindow(): void {
    if (!this.poweredOn) return;
    this.maybeOpenBareMetalWindow();
    if (!this.windowOpen()) return;
    this.syncWindowElapsed();
    const w = this.img.provisioning.window;
    if (this.windowEndTimer === undefined) {
      this.windowEndTimer = this.clock.setTimer(Math.max(0, w.lengthMs - w.elapsedMs), () => {
        this.windowEndTimer = undefined;
        this.inFirmwareTask(() => this.closeWindow('expired'));
      }, `${this.id} window end`);
    }
    if (!this.sendsHellos() || this.helloTimer !== undefined || this.helloAwaitingLease) return;
    // The next hello is slot k (k = hellos already sent) when that slot is now or a little late
    // (timer jitter on real clocks); slots missed while off or without an address are not replayed.
    const slot = helloSlotOffset(w.hellosSent);
    const next = slot >= w.elapsedMs - HELLO_SLOT_TOLERANCE_MS ? Math.max(slot, w.elapsedMs) : nextHelloOffset(w.lengthMs, w.elapsedMs + 1);
    if (next === undefined || next >= w.lengthMs) return;
    this.helloTimer = this.clock.setTimer(next - w.elapsedMs, () => {
      this.helloTimer = undefined;
      void this.clock.track(this.sayHello().catch((e: unknown) => this.inFirmwareTask(() => { throw e; })));
    }, `${this.id} hello`);
  }

  private async sayHello(): Promise<void> {
    if (!this.poweredOn || !this.windowOpen() || !this.sendsHellos()) return;
    const lease = this.currentLease;
    if (!lease) {
      if (!this.helloAwaitingLease) this.record('hello.deferred', { reason: 'no DHCP lease yet' });
      this.helloAwaitingLease = true;
      return;
    }
    this.helloInFlight = true;
    try {
      this.syncWindowElapsed();
      const w = this.img.provisioning.window;
      const retryCount = w.hellosSent;
      const counted = { ...w, hellosSent: w.hellosSent + 1 };
      try {
        this.setWindow(counted);
      } catch (e) {
        // The RAM counter moves on even when flash cannot be written (NVRAM catches up on the
        // next good write); otherwise the same slot would fire again at once, forever.
        if (!this.recordWriteFailure(e)) throw e;
        this.img = withWindow(this.img, counted);
      }
      const target = await this.locateProvisioningServer(lease);
      if (!target) return;
      const bytes = this.buildHello(retryCount);
      const sent = await this.network!.sendHello(lease.address, target, bytes);
      if (sent.ok) {
        this.record('hello.sent', {
          to: `${target.host}:${target.port}`,
          version: bytes.readUInt16LE(2),
          retryCount,
          hashes: bytes.readUInt16LE(2) === 3 ? bytes[24] : 0,
          bytes: bytes.length,
        });
      } else {
        this.record('hello.failed', { to: `${target.host}:${target.port}`, retryCount, message: sent.message }, sent.code);
      }
    } finally {
      this.helloInFlight = false;
      this.armWindow();
    }
  }

  /** The hello this device sends now (hello.ts decides v2 or v3 and which hashes). */
  buildHello(retryCount: number): Buffer {
    return helloFor(this.img, this.profile, retryCount);
  }

  private locateProvisioningServer(lease: DhcpLease): Promise<HelloTarget | undefined> {
    return locateProvisioningServer(this.img, lease, this.network!, (type, data, code) => this.record(type, data, code));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Move between states with a legal reason; records `lifecycle.transition`. */
  transition(to: ProvisioningState, reason: LifecycleReason, controlMode?: ControlMode, extra: Record<string, unknown> = {}): void {
    const from = this.state;
    checkTransition(from, to, reason);
    const mode = controlMode ?? this.controlMode;
    this.update((img) => {
      img.provisioning.state = to;
      img.provisioning.controlMode = mode;
      // A fresh configuration starts from the firmware's redirection/consent defaults (docs/reference-user-consent.md §5).
      if (to === 'Post' && from !== 'Post') Object.assign(img, configuredDefaults(mode, img.firmware.profile));
    });
    this.record('lifecycle.transition', { from, to, controlMode: mode, reason, ...extra });
    // Entering setup by MEBx/PID-PPS/USB starts the bare-metal timer; StartConfiguration(HBased)
    // opens its own window right after, so it must not get a bare-metal one first.
    if (to === 'In' && from === 'Pre' && reason !== 'startConfiguration' && reason !== 'startConfigurationHBased') this.armWindow();
  }

  /** New IPS_HostBasedSetupService.ConfigurationNonce (after setup and unprovision, LMS header). */
  regenerateNonce(): void {
    const nonce = this.random(20).toString('base64');
    this.update((img) => {
      img.configurationNonce = nonce;
    });
  }

  /** MEBx password change: the technician's first act; moves a factory device into setup. */
  setMebxPassword(password: string, via: 'mebx' | 'wsman' | 'usb'): void {
    const wasDefault = !this.img.mebx.passwordChanged;
    this.update((img) => {
      img.mebx.password = password;
      img.mebx.passwordChanged = true;
    });
    this.record('mebx.password-set', { via });
    if (via !== 'wsman' && wasDefault && this.state === 'Pre') this.transition('In', via === 'usb' ? 'usbSetup' : 'mebxPassword');
  }

  setPidPps(pid: string, pps: string): void {
    if (!/^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}$/.test(pid)) throw new AmtError('INVALID_PARAMETER', `PID must be 8 alphanumerics (XXXX-XXXX), got "${pid}"`);
    if (!/^[A-Za-z0-9]{4}(-?[A-Za-z0-9]{4}){7}$/.test(pps)) throw new AmtError('INVALID_PARAMETER', 'PPS must be 32 alphanumerics in groups of four');
    if (this.state === 'Post') throw new AmtError('INVALID_AMT_MODE', 'PID/PPS cannot be entered in configured (Post) state');
    this.update((img) => {
      img.setup.pid = pid.replace(/-/g, '').toUpperCase();
      img.setup.pps = pps.replace(/-/g, '').toUpperCase();
    });
    this.record('mebx.pid-pps-set', {});
    if (this.state === 'Pre') this.transition('In', 'pidPps');
  }

  /**
   * End of remote configuration (AMT_SetupAndConfigurationService.CommitChanges in an
   * authenticated PKI/PSK session): the device becomes configured in ACM (reference §1.3 step 6).
   */
  completeRemoteConfiguration(audit: Omit<NonNullable<NvramImage['auditRecord']>, 'time' | 't'>): void {
    if (!this.img.mebx.passwordChanged) {
      throw new AmtError('DATA_MISSING', 'CommitChanges needs the MEBx password set first (PT_STATUS_DATA_MISSING, 2057)');
    }
    this.update((img) => {
      img.auditRecord = { ...audit, time: this.clock.date().toISOString(), t: this.clock.now() };
    });
    this.transition('Post', 'remoteConfiguration', 'ACM', { provServer: audit.provServerFqdn });
    this.closeWindow('configured');
    this.remoteSession = undefined;
    this.regenerateNonce();
  }

  /** Host-based CCM (IPS_HostBasedSetupService.Setup) or ACM (AdminSetup). */
  completeHostBasedSetup(mode: 'CCM' | 'ACM', adminDigestHash: string, audit: Partial<NonNullable<NvramImage['auditRecord']>> = {}): void {
    const reason: LifecycleReason = mode === 'CCM' ? 'hostBasedCCM' : 'hostBasedACM';
    checkTransition(this.state, 'Post', reason);
    this.update((img) => {
      img.adminAcl.digestHash = adminDigestHash;
      img.auditRecord = { kind: mode === 'CCM' ? 'hostBasedCCM' : 'hostBasedACM', hostInitiated: true, ...audit, time: this.clock.date().toISOString(), t: this.clock.now() };
    });
    this.transition('Post', reason, mode);
    this.closeWindow('configured');
    this.regenerateNonce();
  }

  /**
   * End of secure host-based ACM (reference §5.4): CommitChanges in the local mutual-TLS session
   * whose server leaf matched the pinned hash. The admin ACL was set with SetAdminAclEntryEx and
   * the MEBx password with SetMEBxPassword before (the caller checks both).
   */
  completeHostBasedTlsSetup(audit: Partial<NonNullable<NvramImage['auditRecord']>>): void {
    checkTransition(this.state, 'Post', 'hostBasedACM');
    this.update((img) => {
      img.auditRecord = { kind: 'hostBasedACM', hostInitiated: true, ...audit, time: this.clock.date().toISOString(), t: this.clock.now() };
    });
    this.transition('Post', 'hostBasedACM', 'ACM', { tls: true });
    this.closeWindow('configured');
    this.remoteSession = undefined;
    this.regenerateNonce();
  }

  upgradeClientToAdmin(): void {
    if (this.state !== 'Post' || this.controlMode !== 'CCM') {
      throw new AmtError('ILLEGAL_TRANSITION', `UpgradeClientToAdmin needs a configured device in CCM, this one is ${this.state}/${this.controlMode}`);
    }
    this.transition('Post', 'upgradeToAdmin', 'ACM');
    this.regenerateNonce();
  }

  unprovision(kind: 'partial' | 'full'): void {
    const from = this.state;
    if (kind === 'partial') {
      checkTransition(from, 'In', 'partialUnprovision');
      this.update((img) => applyPartialUnprovision(img));
      this.record('lifecycle.transition', { from, to: 'In', controlMode: 'none', reason: 'partialUnprovision' });
      this.regenerateNonce();
      // HP: partial unprovision re-opens the 6-hour hello window.
      this.openWindow('agent', HELLO_TIMING.AGENT_WINDOW_MS, 'partial unprovision');
    } else {
      checkTransition(from, 'Pre', 'fullUnprovision');
      this.closeWindow('unprovisioned');
      const factory = this.factoryImage();
      this.update((img) => applyFullUnprovision(img, factory));
      this.record('lifecycle.transition', { from, to: 'Pre', controlMode: 'none', reason: 'fullUnprovision' });
    }
    this.remoteSession = undefined;
    this.pin = undefined;
    userConsentFor(this).reset('unprovisioned');
  }

  // ---- ports -------------------------------------------------------------------------------

  /**
   * Whether a TCP/UDP port answers, by state, window and firmware profile (reference §6.1);
   * the rules are in port-policy.ts.
   */
  portOpen(port: number, origin: Origin): boolean {
    // LMS runs in the host OS: with the host asleep, off or in POST nothing connects locally.
    if (origin === 'local' && !this.hostPower.running) return false;
    return portAnswers({ powered: this.poweredOn, state: this.state, profile: this.profile, image: this.img, outsideHome: this.outsideHome, windowOpen: this.windowOpen() }, port, origin);
  }
}

/** What the PKI-CH (or PSK) handshake established for the session that will configure the device. */
export interface RemoteSetupSession {
  /** hostBasedTls: the local mutual-TLS session after StartConfigurationHBased (reference §5.4). */
  method: 'pki' | 'psk' | 'hostBasedTls';
  peerAddress: string;
  provServerFqdn?: string;
  certificateCn?: string;
  selectedHash?: { algorithm: 'SHA1' | 'SHA256' | 'SHA384'; hash: string; isDefault: boolean };
  caSerials?: string[];
  additionalCaSerialNums?: boolean;
  secureDns?: boolean;
  startedAt: number;
}
