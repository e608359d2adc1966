/**
 * Remote power control (Intel AMT Implementation and Reference Guide, "Remote Control > Change
 * System Power State"; DSP1027 Power State Management profile): CIM_PowerManagementService with
 * RequestPowerStateChange, CIM_AssociatedPowerManagementService (the host's PowerState and
 * AvailableRequestedPowerStates), CIM_ServiceAvailableToElement (MeshCentral amtmanager.js
 * fetchPowerState and the DMT console enumerate this association and get the
 * CIM_AssociatedPowerManagementService subclass instance back), and IPS_PowerManagementService
 * (OSPowerSavingState, read by MeshCentral on AMT 10+ when the host is on). The host's state
 * machine is src/device/host-power.ts; facts and choices are in docs/reference-host-power.md.
 */
import { RequestPowerStateChangeReturn } from '../../host-power.js';
import { epr, type Instance } from '../envelope.js';
import { Faults, type WsmanFault } from '../faults.js';
import { asList, asObject, child, text, type XmlObject } from '../request.js';
import { instance, param, uriOf, type WsmanClass, type WsmanContext } from '../types.js';

const SERVICE_NAME = 'Intel(r) AMT Power Management Service';

/** Selectors of the service (Chromium AMT client / sdague/amt fixtures: ServiceProvided EPR). */
const SERVICE_SELECTORS = {
  CreationClassName: 'CIM_PowerManagementService',
  Name: SERVICE_NAME,
  SystemCreationClassName: 'CIM_ComputerSystem',
  SystemName: 'Intel(r) AMT',
};
const MANAGED_SYSTEM = { CreationClassName: 'CIM_ComputerSystem', Name: 'ManagedSystem' };

/**
 * Reads need an authenticated admin (configured device) or the local system account (its
 * Get/Enumerate rights, service.ts lsaAllowed); a PKI remote-configuration session has no business
 * with the host's power. The method needs admin on a configured (Post) device: the same rule as
 * every management call, stated here because the dispatcher lets a PKI session invoke methods.
 */
function mayRead(ctx: WsmanContext): boolean {
  return ctx.account === 'admin' || ctx.account === 'lsa';
}
function mayControl(ctx: WsmanContext): boolean {
  return ctx.account === 'admin' && ctx.device.state === 'Post';
}

function powerManagementService(): Instance {
  // EnabledState 5 / RequestedState 12 follow the other AMT services' GWM fixtures (time sync);
  // no fixture of this class was found (choice).
  return instance('CIM_PowerManagementService', {
    ...SERVICE_SELECTORS,
    ElementName: SERVICE_NAME,
    EnabledState: 5,
    RequestedState: 12,
  });
}

/** GetResponse of a host in S0 (Chromium AMT client test) and in S5 (sdague/amt tests). */
function associatedPowerManagementService(ctx: WsmanContext): Instance {
  const hp = ctx.device.hostPower;
  return instance('CIM_AssociatedPowerManagementService', {
    AvailableRequestedPowerStates: hp.availableRequests(),
    PowerState: hp.powerState,
    RequestedPowerState: hp.requestedPowerState,
    ServiceProvided: epr(uriOf('CIM_PowerManagementService'), SERVICE_SELECTORS),
    UserOfService: epr(uriOf('CIM_ComputerSystem'), MANAGED_SYSTEM),
  });
}

function readOnly<T>(ctx: WsmanContext, make: () => T): T | WsmanFault {
  return mayRead(ctx) ? make() : Faults.accessDenied();
}

/**
 * The ManagedElement EPR must name the managed system (CIM_ComputerSystem, Name=ManagedSystem):
 * wsman-messages and MeshCentral send both selectors, sdague/amt only Name. Missing or another
 * element → 5 Invalid Parameter (choice: no source says what AMT answers).
 */
function namesManagedSystem(raw: XmlObject): boolean {
  const me = raw['ManagedElement'];
  if (me === undefined) return false;
  const refs = child(me, 'ReferenceParameters');
  const uri = text(child(refs, 'ResourceURI')).trim();
  if (uri !== uriOf('CIM_ComputerSystem')) return false;
  for (const s of asList(child(child(refs, 'SelectorSet'), 'Selector'))) {
    const o = asObject(s);
    const name = o['@_Name'];
    const value = text(s).trim();
    if (name === 'Name' && value !== MANAGED_SYSTEM.Name) return false;
    if (name === 'CreationClassName' && value !== MANAGED_SYSTEM.CreationClassName) return false;
  }
  return true;
}

export const powerManagementServiceClass: WsmanClass = {
  className: 'CIM_PowerManagementService',
  get: (ctx) => readOnly(ctx, powerManagementService),
  enumerate: (ctx) => (mayRead(ctx) ? [powerManagementService()] : []),
  methods: {
    RequestPowerStateChange: (ctx, input, raw) => {
      if (!mayControl(ctx)) return Faults.accessDenied();
      const v = (param(input, 'PowerState') ?? '').trim();
      if (!/^\d{1,5}$/.test(v) || !namesManagedSystem(raw)) {
        const reason = /^\d{1,5}$/.test(v) ? 'ManagedElement does not name CIM_ComputerSystem ManagedSystem' : `PowerState "${v.slice(0, 20)}" is not a number`;
        ctx.device.record('hostpower.refused', { requested: v.slice(0, 20), origin: 'wsman', returnValue: RequestPowerStateChangeReturn.InvalidParameter, reason }, 'INVALID_PARAMETER');
        return { returnValue: RequestPowerStateChangeReturn.InvalidParameter };
      }
      return { returnValue: ctx.device.hostPower.request(Number(v), 'wsman').returnValue };
    },
  },
};

export const associatedPowerManagementServiceClass: WsmanClass = {
  className: 'CIM_AssociatedPowerManagementService',
  get: (ctx) => readOnly(ctx, () => associatedPowerManagementService(ctx)),
  enumerate: (ctx) => (mayRead(ctx) ? [associatedPowerManagementService(ctx)] : []),
};

/** The association enumerates as its one subclass instance (MeshCentral reads responses[0].PowerState). */
export const serviceAvailableToElementClass: WsmanClass = {
  className: 'CIM_ServiceAvailableToElement',
  enumerate: (ctx) => (mayRead(ctx) ? [associatedPowerManagementService(ctx)] : []),
};

// ---- IPS_PowerManagementService ----------------------------------------------------------------

/** OSPowerSavingState: 0 Unknown, 1 Unsupported, 2 Full Power, 3 OS power saving (wsman-messages ips/types). */
const OS_FULL_POWER = 2;
const OS_POWER_SAVING = 3;

function ipsPowerManagementService(ctx: WsmanContext): Instance {
  const on = ctx.device.hostPower.state === 'S0';
  return instance('IPS_PowerManagementService', {
    CreationClassName: 'IPS_PowerManagementService',
    ElementName: SERVICE_NAME,
    EnabledState: 5,
    Name: SERVICE_NAME,
    // DMT mps#2278: with the host off AMT leaves OSPowerSavingState out of the instance.
    OSPowerSavingState: on ? OS_FULL_POWER : undefined,
    RequestedState: 12,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
  });
}

export const ipsPowerManagementServiceClass: WsmanClass = {
  className: 'IPS_PowerManagementService',
  get: (ctx) => readOnly(ctx, () => ipsPowerManagementService(ctx)),
  enumerate: (ctx) => (mayRead(ctx) ? [ipsPowerManagementService(ctx)] : []),
  methods: {
    /**
     * MeshCentral sends (2) after a power-on on AMT 10+ to wake a Modern Standby OS. Modern Standby
     * is not modelled, so the OS is at full power whenever the host is in S0: 2 → 0 there, 2
     * otherwise (no OS); 3 → 1 (the reference guide: remote control does not put a platform into
     * Modern Standby); other values → 36 PT_STATUS_INVALID_PARAMETER (choices).
     */
    RequestOSPowerSavingStateChange: (ctx, input) => {
      if (!mayControl(ctx)) return Faults.accessDenied();
      const v = Number((param(input, 'OSPowerSavingState') ?? '').trim());
      if (v === OS_POWER_SAVING) return { returnValue: RequestPowerStateChangeReturn.NotSupported };
      if (v !== OS_FULL_POWER) return { returnValue: 36 };
      return { returnValue: ctx.device.hostPower.state === 'S0' ? 0 : RequestPowerStateChangeReturn.UnknownOrUnspecifiedError };
    },
  },
};

export const powerClasses: WsmanClass[] = [powerManagementServiceClass, associatedPowerManagementServiceClass, serviceAvailableToElementClass, ipsPowerManagementServiceClass];
