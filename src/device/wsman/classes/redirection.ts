/**
 * Redirection enablement over WS-Man (docs/reference-user-consent.md §1–3): AMT_RedirectionService
 * (SOL/IDER EnabledState + ListenerEnabled), CIM_KVMRedirectionSAP (KVM on/off) and
 * IPS_KVMRedirectionSettingData. State lives in NVRAM `redirection`; a Put or RequestStateChange
 * writes it and a later Get shows it. Changes need a configured device (Post).
 */
import type { RedirectionSettings } from '../../../nvram/image.js';
import { consentSettings, consentSupported, OPT_IN_REQUIRED, redirectionSettings } from '../../user-consent.js';
import { Faults } from '../faults.js';
import { boolText, instance, param, type MethodResult, type WsmanClass, type WsmanContext } from '../types.js';

/** CIM_EnabledLogicalElement.RequestStateChange: 0 completed, 5 invalid parameter; 16 PT NOT_PERMITTED before configuration. */
const RSC = { OK: 0, INVALID_PARAMETER: 5, NOT_PERMITTED: 16 } as const;

const SERVICE = 'Intel(r) AMT Redirection Service';

function write(ctx: WsmanContext, change: Partial<RedirectionSettings>): void {
  const next = { ...redirectionSettings(ctx.device.nvram), ...change };
  ctx.device.update((img) => {
    img.redirection = next;
  });
}

function configured(ctx: WsmanContext): boolean {
  return ctx.device.state === 'Post';
}

function serviceInstance(ctx: WsmanContext) {
  const r = redirectionSettings(ctx.device.nvram);
  return instance('AMT_RedirectionService', {
    CreationClassName: 'AMT_RedirectionService',
    ElementName: SERVICE,
    EnabledState: r.enabledState,
    ListenerEnabled: r.listenerEnabled,
    Name: SERVICE,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
  });
}

const ENABLED_STATES = [32768, 32769, 32770, 32771] as const;
function asEnabledState(v: string | undefined): RedirectionSettings['enabledState'] | undefined {
  const n = Number(v);
  return (ENABLED_STATES as readonly number[]).includes(n) ? (n as RedirectionSettings['enabledState']) : undefined;
}

export const redirectionService: WsmanClass = {
  className: 'AMT_RedirectionService',
  get: (ctx) => serviceInstance(ctx),
  enumerate: (ctx) => [serviceInstance(ctx)],
  put: (ctx, _sel, props) => {
    if (!configured(ctx)) return Faults.accessDenied('Redirection settings can be changed only on a configured device.');
    const change: Partial<RedirectionSettings> = {};
    const listener = props['ListenerEnabled'];
    if (listener !== undefined) {
      const b = boolText(Array.isArray(listener) ? listener[0] : listener);
      if (b === undefined) return Faults.invalidRepresentation('ListenerEnabled must be true or false.');
      change.listenerEnabled = b;
    }
    // MeshCentral and the python amt library put EnabledState back together with ListenerEnabled.
    const es = props['EnabledState'];
    if (es !== undefined) {
      const v = asEnabledState(Array.isArray(es) ? es[0] : es);
      if (v === undefined) return Faults.invalidRepresentation('EnabledState must be 32768, 32769, 32770 or 32771.');
      change.enabledState = v;
    }
    write(ctx, change);
    ctx.device.record('redirection.settings', { ...change });
    return serviceInstance(ctx);
  },
  methods: {
    RequestStateChange: (ctx, input): MethodResult => {
      if (!configured(ctx)) return { returnValue: RSC.NOT_PERMITTED };
      const v = asEnabledState(param(input, 'RequestedState'));
      if (v === undefined) return { returnValue: RSC.INVALID_PARAMETER };
      write(ctx, { enabledState: v });
      ctx.device.record('redirection.settings', { enabledState: v });
      return { returnValue: RSC.OK };
    },
  },
};

function kvmSap(ctx: WsmanContext) {
  const r = redirectionSettings(ctx.device.nvram);
  // 6 "Enabled but Offline" while the redirection listener is off (MeshCentral treats 2 and 6 as enabled).
  return instance('CIM_KVMRedirectionSAP', {
    CreationClassName: 'CIM_KVMRedirectionSAP',
    ElementName: 'KVM Redirection Service Access Point',
    EnabledState: r.kvmEnabled ? (r.listenerEnabled ? 2 : 6) : 3,
    KVMProtocol: 4,
    Name: 'KVM Redirection Service Access Point',
    RequestedState: r.kvmRequestedState,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'ManagedSystem',
  });
}

export const kvmRedirectionSap: WsmanClass = {
  className: 'CIM_KVMRedirectionSAP',
  get: (ctx) => (consentSupported(ctx.device.nvram.firmware.profile) ? kvmSap(ctx) : Faults.destinationUnreachable('This firmware has no KVM.')),
  enumerate: (ctx) => (consentSupported(ctx.device.nvram.firmware.profile) ? [kvmSap(ctx)] : []),
  methods: {
    RequestStateChange: (ctx, input): MethodResult => {
      if (!configured(ctx) || !consentSupported(ctx.device.nvram.firmware.profile)) return { returnValue: RSC.NOT_PERMITTED };
      const v = Number(param(input, 'RequestedState'));
      if (v !== 2 && v !== 3) return { returnValue: RSC.INVALID_PARAMETER };
      write(ctx, { kvmEnabled: v === 2, kvmRequestedState: v });
      ctx.device.record('redirection.settings', { kvmEnabled: v === 2 });
      return { returnValue: RSC.OK };
    },
  },
};

const KVM_SETTINGS_ID = 'Intel(r) KVM Redirection Settings';

function kvmSettings(ctx: WsmanContext) {
  const r = redirectionSettings(ctx.device.nvram);
  return instance('IPS_KVMRedirectionSettingData', {
    ElementName: KVM_SETTINGS_ID,
    InstanceID: KVM_SETTINGS_ID,
    EnabledByMEBx: true,
    BackToBackFbMode: false,
    Is5900PortEnabled: r.is5900PortEnabled,
    OptInPolicy: consentSettings(ctx.device.nvram).optInRequired !== OPT_IN_REQUIRED.NONE,
    SessionTimeout: r.kvmSessionTimeout,
    // "This is a write-only field, an empty string is returned when instance is read" (LMS header).
    RFBPassword: '',
    DefaultScreen: 0,
  });
}

/** "8 characters long and contain at least 1 capital letter, regular letter, digit and special character … can't accept '"' ',' ':'" (LMS header). */
export function rfbPasswordValid(p: string): boolean {
  return p.length === 8 && /[A-Z]/.test(p) && /[a-z]/.test(p) && /[0-9]/.test(p) && /[^A-Za-z0-9]/.test(p) && !/["',:]/.test(p) && /^[\x21-\x7e]+$/.test(p);
}

export const kvmRedirectionSettingData: WsmanClass = {
  className: 'IPS_KVMRedirectionSettingData',
  get: (ctx) => (consentSupported(ctx.device.nvram.firmware.profile) ? kvmSettings(ctx) : Faults.destinationUnreachable('This firmware has no KVM.')),
  enumerate: (ctx) => (consentSupported(ctx.device.nvram.firmware.profile) ? [kvmSettings(ctx)] : []),
  put: (ctx, _sel, props) => {
    if (!configured(ctx)) return Faults.accessDenied('KVM settings can be changed only on a configured device.');
    const one = (k: string): string | undefined => {
      const v = props[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const change: Partial<RedirectionSettings> = {};
    const port = one('Is5900PortEnabled');
    if (port !== undefined) {
      const b = boolText(port);
      if (b === undefined) return Faults.invalidRepresentation('Is5900PortEnabled must be true or false.');
      change.is5900PortEnabled = b;
    }
    const timeout = one('SessionTimeout');
    if (timeout !== undefined) {
      const n = Number(timeout);
      if (!Number.isInteger(n) || n < 0 || n > 65535) return Faults.invalidRepresentation('SessionTimeout must be 0–65535.');
      change.kvmSessionTimeout = n;
    }
    // "When writing, an empty string or lack of field will be ignored."
    const pw = one('RFBPassword');
    if (pw !== undefined && pw !== '') {
      if (!rfbPasswordValid(pw)) return Faults.invalidRepresentation('RFBPassword must be 8 characters with upper, lower, digit and special, without " , :');
      change.rfbPassword = pw;
    }
    // OptInPolicy is the pre-AMT 7 view of IPS_OptInService.OptInRequired; the policy is changed there.
    write(ctx, change);
    ctx.device.record('redirection.settings', { ...change, ...(change.rfbPassword ? { rfbPassword: '(set)' } : {}) });
    return kvmSettings(ctx);
  },
};
