/**
 * User consent ("opt-in") and the redirection enablement it sits next to, as the firmware keeps
 * them (facts and sources: docs/reference-user-consent.md). Persistent policy lives in NVRAM
 * (`redirection`, `userConsent`); the consent itself — the 6-digit code on the host screen and
 * whether it was given — is RAM state driven by the device Clock.
 *
 * States (IPS_OptInService.OptInState): 0 not started → StartOptIn → 2 displayed (1 "requested"
 * lasts as long as drawing the sprite; the emulator draws at once) → SendOptInCode(right code)
 * → 3 received → a redirection session starts → 4 in session → all sessions end → 3 → no
 * session for OptInCodeTimeout → 0. The code disappears after OptInDisplayTimeout (→ 0).
 */
import type { Clock, TimerId } from '../clock/clock.js';
import type { ControlMode, FirmwareProfileId, NvramImage, RedirectionSettings, UserConsentSettings } from '../nvram/image.js';

export const OPT_IN_REQUIRED = { NONE: 0, KVM: 1, ALL: 4294967295 } as const;
export const OPT_IN_STATE = { NOT_STARTED: 0, REQUESTED: 1, DISPLAYED: 2, RECEIVED: 3, IN_SESSION: 4 } as const;
export type OptInState = (typeof OPT_IN_STATE)[keyof typeof OPT_IN_STATE];

/**
 * ReturnValues of the IPS_OptInService methods. PT_STATUS names from MeshCommander's
 * AmtStatusCodes; which one firmware uses for which case is not documented in the sources we
 * found (reference doc §4.4): 2 for "wrong state" (the value GWM's captured fixtures show for
 * all three methods), 2054 INVALID_PASSWORD for a wrong code, 36 for a code outside 0..999999.
 */
export const OPT_IN_RV = { SUCCESS: 0, NOT_READY: 2, NOT_PERMITTED: 16, INVALID_PARAMETER: 36, INVALID_PASSWORD: 2054 } as const;

/** Wrong codes accepted before the displayed code is withdrawn (choice: bounds guessing 10^6 codes). */
export const MAX_WRONG_CODES = 3;

/** Redirection session tags as the protocol names them (reference §6.3). */
export type RedirectionFeature = 'SOL ' | 'IDER' | 'KVMR';

/** AMT 6 introduced user consent and KVM (Configurator docs; MeshCentral queries them only for major > 5). */
export function consentSupported(profile: FirmwareProfileId): boolean {
  return profile !== 'amt3';
}

/**
 * What a freshly configured device has (reference doc §5): SOL+IDER enabled but the listener
 * off, KVM off, consent KVM-only in ACM (MEBx default) and forced in CCM.
 */
export function configuredDefaults(mode: ControlMode, profile: FirmwareProfileId): { redirection: RedirectionSettings; userConsent: UserConsentSettings } {
  return {
    redirection: {
      enabledState: 32771,
      listenerEnabled: false,
      kvmEnabled: false,
      kvmRequestedState: 5,
      is5900PortEnabled: false,
      kvmSessionTimeout: 0,
      rfbPassword: '',
    },
    userConsent: {
      optInRequired: mode === 'CCM' ? ccmOptInRequired(profile) : OPT_IN_REQUIRED.KVM,
      canModifyOptInPolicy: true,
      optInCodeTimeout: 120,
      optInDisplayTimeout: 300,
    },
  };
}

/** In CCM the policy is fixed: all redirection from AMT 7, KVM only on AMT 6 (Configurator docs). */
export function ccmOptInRequired(profile: FirmwareProfileId): UserConsentSettings['optInRequired'] {
  return profile === 'amt6' ? OPT_IN_REQUIRED.KVM : OPT_IN_REQUIRED.ALL;
}

/** An image from before this model keeps the emulator's earlier behaviour: every feature on. */
const LEGACY_REDIRECTION: RedirectionSettings = {
  enabledState: 32771,
  listenerEnabled: true,
  kvmEnabled: true,
  kvmRequestedState: 2,
  is5900PortEnabled: false,
  kvmSessionTimeout: 0,
  rfbPassword: '',
};

export function redirectionSettings(img: Readonly<NvramImage>): RedirectionSettings {
  return img.redirection ?? LEGACY_REDIRECTION;
}

export function consentSettings(img: Readonly<NvramImage>): UserConsentSettings {
  const base = img.userConsent ?? { optInRequired: OPT_IN_REQUIRED.NONE, canModifyOptInPolicy: true, optInCodeTimeout: 120, optInDisplayTimeout: 300 };
  // "This value is Read Only if the system was configured in Client Control Mode … Possible values in CCM: All" (LMS header).
  if (img.provisioning.controlMode === 'CCM') return { ...base, optInRequired: ccmOptInRequired(img.firmware.profile) };
  return base;
}

/** Whether a feature is enabled at all (EnabledState bits: 1 IDER, 2 SOL; KVM by its SAP). */
export function featureEnabled(img: Readonly<NvramImage>, feature: RedirectionFeature): boolean {
  const r = redirectionSettings(img);
  if (feature === 'KVMR') return r.kvmEnabled && consentSupported(img.firmware.profile);
  const bits = r.enabledState - 32768;
  return feature === 'SOL ' ? (bits & 2) !== 0 : (bits & 1) !== 0;
}

/** Whether this feature needs consent under the current policy. */
export function consentRequiredFor(img: Readonly<NvramImage>, feature: RedirectionFeature): boolean {
  if (!consentSupported(img.firmware.profile)) return false;
  const req = consentSettings(img).optInRequired;
  if (req === OPT_IN_REQUIRED.ALL) return true;
  return req === OPT_IN_REQUIRED.KVM && feature === 'KVMR';
}

/** What the consent machine needs from the device (AmtDevice satisfies it). */
export interface ConsentHost {
  readonly id: string;
  readonly nvram: Readonly<NvramImage>;
  readonly clock: Clock;
  readonly random: (n: number) => Buffer;
  record(type: string, data?: Record<string, unknown>, code?: string): unknown;
}

export class UserConsent {
  private st: OptInState = OPT_IN_STATE.NOT_STARTED;
  private displayed: string | undefined;
  private wrong = 0;
  private sessions = 0;
  private timer: TimerId | undefined;

  constructor(private readonly host: ConsentHost) {}

  get state(): OptInState {
    return this.st;
  }
  /** The code on the host screen, while it is shown. */
  get code(): string | undefined {
    return this.displayed;
  }
  /** Sessions currently holding the consent. */
  get activeSessions(): number {
    return this.sessions;
  }
  /** Consent given and not yet expired. */
  get granted(): boolean {
    return this.st === OPT_IN_STATE.RECEIVED || this.st === OPT_IN_STATE.IN_SESSION;
  }

  /** StartOptIn: generate a code and show it on the host screen. */
  start(): number {
    if (this.granted) return OPT_IN_RV.SUCCESS; // consent already there: nothing to show
    if (this.st !== OPT_IN_STATE.NOT_STARTED) return OPT_IN_RV.NOT_READY; // a code is on screen: a second console cannot replace it
    this.set(OPT_IN_STATE.REQUESTED);
    this.host.record('consent.requested', {});
    // "Generated Code: 0..999999" (LMS IPS_OptInService.h); consoles expect six characters (MeshCommander).
    this.displayed = String(this.host.random(4).readUInt32LE(0) % 1_000_000).padStart(6, '0');
    this.wrong = 0;
    this.set(OPT_IN_STATE.DISPLAYED);
    const s = consentSettings(this.host.nvram);
    this.host.record('consent.code-displayed', { code: this.displayed, displayTimeoutS: s.optInDisplayTimeout });
    this.arm(s.optInDisplayTimeout * 1000, () => this.expire('display timeout'));
    return OPT_IN_RV.SUCCESS;
  }

  /** SendOptInCode: the remote operator types the code the user read out. */
  sendCode(raw: string | undefined): number {
    const code = raw === undefined ? NaN : Number(raw.trim());
    if (!Number.isInteger(code) || code < 0 || code > 999_999) return OPT_IN_RV.INVALID_PARAMETER;
    if (this.st !== OPT_IN_STATE.DISPLAYED || this.displayed === undefined) return OPT_IN_RV.NOT_READY;
    if (code !== Number(this.displayed)) {
      this.wrong++;
      const locked = this.wrong >= MAX_WRONG_CODES;
      this.host.record('consent.code-rejected', { attempts: this.wrong, locked }, 'USER_CONSENT_WRONG_CODE');
      if (locked) this.expire(`${this.wrong} wrong codes`);
      return OPT_IN_RV.INVALID_PASSWORD;
    }
    this.displayed = undefined;
    this.set(this.sessions > 0 ? OPT_IN_STATE.IN_SESSION : OPT_IN_STATE.RECEIVED);
    this.host.record('consent.received', {});
    this.armIdle();
    return OPT_IN_RV.SUCCESS;
  }

  /** CancelOptIn: withdraw the code or the consent. Sessions already running continue (consent is checked at session start). */
  cancel(): number {
    if (this.st === OPT_IN_STATE.NOT_STARTED) return OPT_IN_RV.NOT_READY;
    this.expire('cancelled');
    return OPT_IN_RV.SUCCESS;
  }

  /** A SOL/IDER/KVM session started; consent (if given) is now in session. */
  sessionOpened(): void {
    this.sessions++;
    if (this.st === OPT_IN_STATE.RECEIVED) {
      this.disarm();
      this.set(OPT_IN_STATE.IN_SESSION);
    }
  }

  /** A session ended; with none left the consent idles for OptInCodeTimeout (SDK "User Consent General Flow"). */
  sessionClosed(): void {
    if (this.sessions > 0) this.sessions--;
    if (this.sessions === 0 && this.st === OPT_IN_STATE.IN_SESSION) {
      this.set(OPT_IN_STATE.RECEIVED);
      this.armIdle();
    }
  }

  /** Power loss or unprovision: RAM state is gone. */
  reset(reason: string): void {
    if (this.st !== OPT_IN_STATE.NOT_STARTED) this.expire(reason);
  }

  private armIdle(): void {
    if (this.st !== OPT_IN_STATE.RECEIVED) return;
    const s = consentSettings(this.host.nvram);
    this.arm(s.optInCodeTimeout * 1000, () => this.expire('no redirection session within OptInCodeTimeout'));
  }

  private expire(reason: string): void {
    this.disarm();
    const was = this.st;
    this.displayed = undefined;
    this.wrong = 0;
    this.set(OPT_IN_STATE.NOT_STARTED);
    this.host.record('consent.ended', { reason, from: was });
  }

  private set(s: OptInState): void {
    if (s === this.st) return;
    this.st = s;
    this.host.record('consent.state', { state: s });
  }

  private arm(ms: number, fn: () => void): void {
    this.disarm();
    this.timer = this.host.clock.setTimer(ms, () => {
      this.timer = undefined;
      fn();
    }, `${this.host.id} user consent`);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.host.clock.cancel(this.timer);
    this.timer = undefined;
  }
}

const machines = new WeakMap<object, UserConsent>();

/** The consent machine of a device (created on first use, lives as long as the device object). */
export function userConsentFor(device: ConsentHost): UserConsent {
  let m = machines.get(device);
  if (!m) {
    m = new UserConsent(device);
    machines.set(device, m);
  }
  return m;
}

/** The consent state without creating a machine (device view). */
export function peekUserConsent(device: object): { state: OptInState; code: string | null; sessions: number } {
  const m = machines.get(device);
  return { state: m?.state ?? OPT_IN_STATE.NOT_STARTED, code: m?.code ?? null, sessions: m?.activeSessions ?? 0 };
}
