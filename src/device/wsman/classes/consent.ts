/**
 * IPS_OptInService (docs/reference-user-consent.md §4): the consent policy (NVRAM `userConsent`)
 * and the consent itself (src/device/user-consent.ts, RAM). OptInRequired is read-only in CCM
 * ("Possible values in Client Control Mode: All", LMS IPS_OptInService.h) and writable in ACM
 * only while CanModifyOptInPolicy is true.
 */
import type { UserConsentSettings } from '../../../nvram/image.js';
import { consentSettings, consentSupported, OPT_IN_REQUIRED, OPT_IN_RV, userConsentFor } from '../../user-consent.js';
import { Faults } from '../faults.js';
import { instance, param, type MethodResult, type WsmanClass, type WsmanContext } from '../types.js';

const NAME = 'Intel(r) AMT OptIn Service';

function optInService(ctx: WsmanContext) {
  const s = consentSettings(ctx.device.nvram);
  return instance('IPS_OptInService', {
    CanModifyOptInPolicy: s.canModifyOptInPolicy ? 1 : 0,
    CreationClassName: 'IPS_OptInService',
    ElementName: NAME,
    Name: NAME,
    OptInCodeTimeout: s.optInCodeTimeout,
    OptInDisplayTimeout: s.optInDisplayTimeout,
    OptInRequired: s.optInRequired,
    OptInState: userConsentFor(ctx.device).state,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
  });
}

function intIn(v: string | string[] | undefined, lo: number, hi: number): number | undefined | null {
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) && n >= lo && n <= hi ? n : null;
}

/** Methods need a configured device with consent support; the LSA cannot reach them (service.ts). */
function refused(ctx: WsmanContext): MethodResult | undefined {
  if (ctx.device.state !== 'Post' || !consentSupported(ctx.device.nvram.firmware.profile)) return { returnValue: OPT_IN_RV.NOT_PERMITTED };
  return undefined;
}

export const optInServiceClass: WsmanClass = {
  className: 'IPS_OptInService',
  get: (ctx) => (consentSupported(ctx.device.nvram.firmware.profile) ? optInService(ctx) : Faults.destinationUnreachable('User consent needs AMT 6 or later.')),
  enumerate: (ctx) => (consentSupported(ctx.device.nvram.firmware.profile) ? [optInService(ctx)] : []),
  put: (ctx, _sel, props) => {
    if (ctx.device.state !== 'Post' || !consentSupported(ctx.device.nvram.firmware.profile)) return Faults.accessDenied('The opt-in policy can be changed only on a configured device.');
    const cur = consentSettings(ctx.device.nvram);
    const ccm = ctx.device.controlMode === 'CCM';
    const next: UserConsentSettings = { ...cur };
    const req = intIn(props['OptInRequired'], 0, 4294967295);
    if (req === null || (req !== undefined && req !== OPT_IN_REQUIRED.NONE && req !== OPT_IN_REQUIRED.KVM && req !== OPT_IN_REQUIRED.ALL)) {
      return Faults.invalidRepresentation('OptInRequired must be 0 (none), 1 (KVM) or 4294967295 (all).');
    }
    if (req !== undefined && req !== cur.optInRequired) {
      // CCM: consent cannot be turned off or narrowed; ACM: only while the MEBx allows remote changes.
      if (ccm) return Faults.accessDenied('OptInRequired is read-only in Client Control Mode.');
      if (!cur.canModifyOptInPolicy) return Faults.accessDenied('CanModifyOptInPolicy is false: the opt-in policy is set in MEBx only.');
      next.optInRequired = req;
    }
    const code = intIn(props['OptInCodeTimeout'], 60, 900);
    if (code === null) return Faults.invalidRepresentation('OptInCodeTimeout must be 60–900 seconds.');
    if (code !== undefined) next.optInCodeTimeout = code;
    const display = intIn(props['OptInDisplayTimeout'], 10, 4095);
    if (display === null) return Faults.invalidRepresentation('OptInDisplayTimeout must be 10–4095 seconds.');
    if (display !== undefined && display !== cur.optInDisplayTimeout) {
      // "Read Only in Client Control Mode, R/W in Admin Control Mode" (LMS header).
      if (ccm) return Faults.accessDenied('OptInDisplayTimeout is read-only in Client Control Mode.');
      next.optInDisplayTimeout = display;
    }
    // In CCM the stored policy keeps whatever was there; consentSettings() forces the CCM value on read.
    ctx.device.update((img) => {
      img.userConsent = { ...next, optInRequired: ccm ? (img.userConsent?.optInRequired ?? next.optInRequired) : next.optInRequired };
    });
    if (next.optInRequired !== cur.optInRequired) ctx.device.record('consent.policy-changed', { from: cur.optInRequired, to: next.optInRequired });
    return optInService(ctx);
  },
  methods: {
    StartOptIn: (ctx) => refused(ctx) ?? { returnValue: userConsentFor(ctx.device).start() },
    SendOptInCode: (ctx, input) => refused(ctx) ?? { returnValue: userConsentFor(ctx.device).sendCode(param(input, 'OptInCode')) },
    CancelOptIn: (ctx) => refused(ctx) ?? { returnValue: userConsentFor(ctx.device).cancel() },
  },
};
