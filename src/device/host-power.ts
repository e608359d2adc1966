/**
 * The host's power state as the Management Engine sees it: the x86 side of the PC (S0 on, S3
 * sleep, S4 hibernate, S5 soft-off), separate from the ME's own AC power (AmtDevice.powerOn/Off).
 * A console changes it with CIM_PowerManagementService.RequestPowerStateChange and reads it from
 * CIM_AssociatedPowerManagementService (wsman/classes/power.ts). Facts and choices, with their
 * sources, are in docs/reference-host-power.md.
 *
 * Runtime state, not NVRAM: the ME does not own the host's power state, it observes it through
 * the platform's SLP_S3#/SLP_S4#/SLP_S5# lines (HP white paper "Setting up and configuring Intel
 * AMT", appendix B: ME states M0/M3/Moff follow the host's S-state). After AC loss the PC comes
 * back by the BIOS "AC recovery" setting, not by anything the ME stored — so nothing here is
 * written to flash. powerOn() brings the host to S0 (what the emulator always assumed).
 */
import type { Clock, TimerId } from '../clock/clock.js';

/** The host's ACPI state; G3 = no AC power at all (the ME is off too, nobody can ask). */
export type HostSleepState = 'S0' | 'S3' | 'S4' | 'S5' | 'G3';

/**
 * CIM PowerState ValueMap (DSP1027; wsman-messages cim/types PowerManagementService.PowerState;
 * MeshCentral amtmanager.js fetchPowerState comment). The same numbers are both the state a
 * console reads and the change it requests.
 */
export const PowerState = {
  On: 2,
  SleepLight: 3,
  SleepDeep: 4,
  PowerCycleOffSoft: 5,
  OffHard: 6,
  Hibernate: 7,
  OffSoft: 8,
  PowerCycleOffHard: 9,
  MasterBusReset: 10,
  DiagnosticInterruptNmi: 11,
  OffSoftGraceful: 12,
  OffHardGraceful: 13,
  MasterBusResetGraceful: 14,
  PowerCycleOffSoftGraceful: 15,
  PowerCycleOffHardGraceful: 16,
} as const;
export type PowerStateValue = (typeof PowerState)[keyof typeof PowerState];

export function powerStateName(v: number): string {
  for (const [k, n] of Object.entries(PowerState)) if (n === v) return k;
  return `PowerState${v}`;
}

/** The CIM PowerState a console reads for each host state. */
export const REPORTED_POWER_STATE: Record<HostSleepState, PowerStateValue> = {
  S0: PowerState.On,
  S3: PowerState.SleepDeep,
  S4: PowerState.Hibernate,
  S5: PowerState.OffSoft,
  G3: PowerState.OffHard,
};

/**
 * RequestPowerStateChange ReturnValue (CIM_PowerManagementService ValueMap, DSP1027). AMT answers
 * 2 for a request the current state does not allow (sdague/amt#28: power off answered 2;
 * MeshCentral PR #2426: "poweroff NOT READY because of unsupported power off state" — 2 is also
 * PT_STATUS_NOT_READY).
 */
export const RequestPowerStateChangeReturn = {
  CompletedWithNoError: 0,
  NotSupported: 1,
  UnknownOrUnspecifiedError: 2,
  InvalidParameter: 5,
} as const;

/**
 * Virtual-time durations. Sources: Intel AMT Implementation and Reference Guide, "Change System
 * Power State": do not request a second change before the BIOS has told AMT it finished, "as much
 * as 10 seconds" → BIOS_MS. The rest have no source; chosen as typical desktop figures so a
 * scenario sees the host go through each step, and short enough to run in milliseconds of CI.
 */
export const HOST_POWER_TIMING = {
  /** S0/S3/S4 → S5 after a hard power-off request (the platform drops power at once; ~1 s). */
  OFF_MS: 1_000,
  /** Power cycle: how long the host stays in S5 before it powers back up. */
  CYCLE_HOLD_MS: 4_000,
  /** S5/S4 → S0 reported: power button pressed until the platform is in S0. */
  POWER_UP_MS: 2_000,
  /** S3 → S0: resume from RAM, no POST. */
  RESUME_MS: 2_000,
  /** POST after power-up or reset, until the BIOS tells AMT it is done (reference guide: ≤ 10 s). */
  BIOS_MS: 10_000,
  /** The OS agent shuts the OS down (graceful off / graceful reset). */
  GRACEFUL_SHUTDOWN_MS: 15_000,
  /** The OS agent puts the OS to sleep / hibernate. */
  SLEEP_MS: 3_000,
  HIBERNATE_MS: 8_000,
} as const;

/** Who caused a host power change (timeline `origin`). */
export type HostPowerOrigin = 'wsman' | 'ac' | 'api';

export interface HostPowerRequestResult {
  returnValue: number;
  /** Why a request was refused (timeline and test messages; not on the wire). */
  reason?: string;
}

interface Step {
  afterMs: number;
  /** Enter this state; `reset` = the host stays in S0 but reboots; undefined = BIOS done. */
  to?: HostSleepState | 'reset';
}

export interface HostPowerOptions {
  clock: Clock;
  deviceId: string;
  record: (type: string, data: Record<string, unknown>, code?: string) => void;
  /** Open SOL / storage-redirection / KVM sessions (they block power off and cycle). */
  redirectionSessions?: () => number;
}

/** The requests that take the host down or cycle it (blocked while a redirection session runs). */
const OFF_OR_CYCLE: readonly number[] = [
  PowerState.PowerCycleOffSoft, PowerState.OffHard, PowerState.OffSoft, PowerState.PowerCycleOffHard,
  PowerState.OffSoftGraceful, PowerState.OffHardGraceful, PowerState.PowerCycleOffSoftGraceful, PowerState.PowerCycleOffHardGraceful,
];

export class HostPower {
  private current: HostSleepState = 'G3';
  private steps: Step[] = [];
  private timer: TimerId | undefined;
  private pending: { requested: number; origin: HostPowerOrigin } | undefined;
  private lastRequested: number | undefined;
  /**
   * Whether the OS runs an Intel agent (LMS / the AMT in-band service). The graceful requests and
   * sleep/hibernate go through it: DMT docs "AMT Power States" list 4, 7, 12, 14 as needing the
   * in-band agent. Off by default (a bare OS image); a scenario or test turns it on.
   */
  osAgent = false;

  constructor(private readonly opts: HostPowerOptions) {}

  get state(): HostSleepState {
    return this.current;
  }
  /** The CIM PowerState CIM_AssociatedPowerManagementService reports now. */
  get powerState(): PowerStateValue {
    return REPORTED_POWER_STATE[this.current];
  }
  /** A requested change is still in progress (includes the BIOS's POST after power-up/reset). */
  get transitioning(): boolean {
    return this.steps.length > 0;
  }
  /** The OS is up: S0 and not in POST. Host (MEI/PTHI) commands and LMS need this. */
  get running(): boolean {
    return this.current === 'S0' && !this.transitioning;
  }
  /** The last accepted request (CIM_AssociatedPowerManagementService.RequestedPowerState). */
  get requestedPowerState(): number | undefined {
    return this.lastRequested;
  }

  /**
   * What a console may request now (AvailableRequestedPowerStates). Real firmware answers:
   * host off (8) → [2] (sdague/amt tests/test_wsman.py fixture); host on (2) → [10, 8, 5, 11]
   * (Chromium AMT client test fixture). With the OS agent, S0 also offers 4, 7, 12, 14 (choice:
   * order not sourced). S3/S4 → [2, 5, 8] (choice: DMT docs allow 2 from "Asleep, Hibernating";
   * sdague/amt#16 reports a power cycle (5) works from standby; 8 by analogy).
   */
  availableRequests(): PowerStateValue[] {
    switch (this.current) {
      case 'S0':
        return this.osAgent
          ? [PowerState.MasterBusReset, PowerState.OffSoft, PowerState.PowerCycleOffSoft, PowerState.DiagnosticInterruptNmi, PowerState.SleepDeep, PowerState.Hibernate, PowerState.OffSoftGraceful, PowerState.MasterBusResetGraceful]
          : [PowerState.MasterBusReset, PowerState.OffSoft, PowerState.PowerCycleOffSoft, PowerState.DiagnosticInterruptNmi];
      case 'S3':
      case 'S4':
        return [PowerState.On, PowerState.PowerCycleOffSoft, PowerState.OffSoft];
      case 'S5':
        return [PowerState.On];
      case 'G3':
        return [];
    }
  }

  /**
   * RequestPowerStateChange. Refusals: a value outside the ValueMap → 5 Invalid Parameter (CIM
   * ValueMap; no AMT source); a valid value the current state does not offer → 2 (sdague/amt#28,
   * MeshCentral #2426) — this covers On when already on, Reset/Cycle when off (sdague/amt#16) and
   * the graceful ones without an OS agent; a second request while one is in progress → 2 (the
   * reference guide says not to send one; the return value is a choice, the same "not ready").
   */
  request(value: number, origin: HostPowerOrigin = 'wsman'): HostPowerRequestResult {
    const refuse = (returnValue: number, reason: string, code?: string): HostPowerRequestResult => {
      this.opts.record('hostpower.refused', { requested: value, requestedName: powerStateName(value), state: this.current, powerState: this.powerState, origin, returnValue, reason }, code ?? (returnValue === RequestPowerStateChangeReturn.InvalidParameter ? 'INVALID_PARAMETER' : 'NOT_PERMITTED'));
      return { returnValue, reason };
    };
    if (!Number.isInteger(value) || value < PowerState.On || value > PowerState.PowerCycleOffHardGraceful) {
      return refuse(RequestPowerStateChangeReturn.InvalidParameter, `PowerState ${value} is not in the CIM ValueMap (2..16)`);
    }
    if (this.current === 'G3') return refuse(RequestPowerStateChangeReturn.UnknownOrUnspecifiedError, 'no AC power');
    if (this.transitioning) {
      return refuse(RequestPowerStateChangeReturn.UnknownOrUnspecifiedError, `a change to ${powerStateName(this.pending?.requested ?? 0)} is still in progress`);
    }
    // Intel AMT Implementation and Reference Guide, "Change System Power State": power cycle and
    // power off are "rejected as invalid" while a SOL, storage-redirection or KVM session is
    // active (the console must end the session first). "Invalid" is read as 5 Invalid Parameter.
    const sessions = this.opts.redirectionSessions?.() ?? 0;
    if (sessions > 0 && OFF_OR_CYCLE.includes(value)) {
      return refuse(RequestPowerStateChangeReturn.InvalidParameter, `${powerStateName(value)} while ${sessions} redirection session${sessions === 1 ? '' : 's'} run`, 'REDIRECTION_ACTIVE');
    }
    if (!(this.availableRequests() as number[]).includes(value)) {
      const graceful = [PowerState.SleepDeep, PowerState.Hibernate, PowerState.OffSoftGraceful, PowerState.MasterBusResetGraceful] as number[];
      const why = this.current === 'S0' && graceful.includes(value) && !this.osAgent ? 'needs the OS agent (LMS), none is running' : `not available in ${this.current}`;
      return refuse(RequestPowerStateChangeReturn.UnknownOrUnspecifiedError, `${powerStateName(value)} ${why}`);
    }
    const t = HOST_POWER_TIMING;
    let steps: Step[];
    switch (value) {
      case PowerState.On:
        steps = this.current === 'S3' ? [{ afterMs: t.RESUME_MS, to: 'S0' }, { afterMs: t.RESUME_MS }] : [{ afterMs: t.POWER_UP_MS, to: 'S0' }, { afterMs: t.BIOS_MS }];
        break;
      case PowerState.OffSoft:
        steps = [{ afterMs: t.OFF_MS, to: 'S5' }];
        break;
      case PowerState.PowerCycleOffSoft:
        steps = [{ afterMs: t.OFF_MS, to: 'S5' }, { afterMs: t.CYCLE_HOLD_MS, to: 'S0' }, { afterMs: t.BIOS_MS }];
        break;
      case PowerState.MasterBusReset:
        steps = [{ afterMs: 0, to: 'reset' }, { afterMs: t.BIOS_MS }];
        break;
      case PowerState.MasterBusResetGraceful:
        steps = [{ afterMs: t.GRACEFUL_SHUTDOWN_MS, to: 'reset' }, { afterMs: t.BIOS_MS }];
        break;
      case PowerState.OffSoftGraceful:
        steps = [{ afterMs: t.GRACEFUL_SHUTDOWN_MS, to: 'S5' }];
        break;
      case PowerState.SleepDeep:
        steps = [{ afterMs: t.SLEEP_MS, to: 'S3' }];
        break;
      case PowerState.Hibernate:
        steps = [{ afterMs: t.HIBERNATE_MS, to: 'S4' }];
        break;
      case PowerState.DiagnosticInterruptNmi:
        // An NMI to the running OS: no power state change (the OS decides what to do with it).
        this.lastRequested = value;
        this.opts.record('hostpower.nmi', { origin, powerState: this.powerState });
        return { returnValue: RequestPowerStateChangeReturn.CompletedWithNoError };
      default:
        return refuse(RequestPowerStateChangeReturn.UnknownOrUnspecifiedError, `${powerStateName(value)} is not modelled`);
    }
    this.lastRequested = value;
    this.pending = { requested: value, origin };
    this.opts.record('hostpower.requested', { requested: value, requestedName: powerStateName(value), from: this.powerState, state: this.current, origin, expectedMs: steps.reduce((n, s) => n + s.afterMs, 0) });
    this.steps = steps;
    this.armNext();
    return { returnValue: RequestPowerStateChangeReturn.CompletedWithNoError };
  }

  /** AC power came back with the ME: the host is in S0 at once (the emulator's behaviour so far). */
  acOn(): void {
    this.cancel();
    this.enter('S0', { origin: 'ac' });
  }

  /** AC power off or loss: the host goes down with the ME (G3), whatever it was doing. */
  acOff(reason: 'off' | 'loss'): void {
    const interrupted = this.pending?.requested;
    this.cancel();
    this.enter('G3', { origin: 'ac', reason, ...(interrupted !== undefined ? { interrupted } : {}) });
  }

  private cancel(): void {
    if (this.timer !== undefined) this.opts.clock.cancel(this.timer);
    this.timer = undefined;
    this.steps = [];
    this.pending = undefined;
  }

  private armNext(): void {
    const step = this.steps[0];
    if (!step) return;
    this.timer = this.opts.clock.setTimer(step.afterMs, () => {
      this.timer = undefined;
      this.steps.shift();
      const p = this.pending;
      const meta = { origin: p?.origin ?? 'wsman', requested: p?.requested };
      if (step.to === 'reset') {
        this.opts.record('hostpower.changed', { from: this.powerState, to: this.powerState, fromState: this.current, toState: this.current, reset: true, ...meta });
      } else if (step.to !== undefined) {
        this.enter(step.to, meta);
      } else {
        this.opts.record('hostpower.ready', { state: this.current, ...meta });
      }
      if (this.steps.length === 0) this.pending = undefined;
      else this.armNext();
    }, `${this.opts.deviceId} host power`);
  }

  private enter(to: HostSleepState, meta: Record<string, unknown>): void {
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    this.opts.record('hostpower.changed', { from: REPORTED_POWER_STATE[from], to: REPORTED_POWER_STATE[to], fromState: from, toState: to, ...meta });
  }
}
