/**
 * Platform description classes: CIM_SoftwareIdentity (firmware versions; MeshCentral reads the
 * `AMT` instance's VersionString, reference §1.3 step 5.1), CIM_ComputerSystemPackage
 * (PlatformGUID), AMT_EthernetPortSettings and AMT_TimeSynchronizationService (§1.3 step 5.4).
 */
import { uuidToGuidBytes } from '../../hello.js';
import { epr } from '../envelope.js';
import { Faults } from '../faults.js';
import { boolText, instance, param, selectInstance, uriOf, type WsmanClass, type WsmanContext } from '../types.js';

function softwareIdentities(ctx: WsmanContext) {
  const v = ctx.device.nvram.firmware.version;
  const [major = '0', minor = '0', micro = '0', build = '0'] = v.split('.');
  const list: Array<[string, string]> = [
    ['Flash', v],
    ['Netstack', v],
    ['AMTApps', v],
    ['AMT', `${major}.${minor}.${micro}`],
    ['Sku', '16392'],
    ['VendorID', '8086'],
    ['Build Number', build],
    ['Recovery Version', v],
    ['Recovery Build Num', build],
    ['Legacy Mode', 'False'],
    ['AMT FW Core Version', v],
  ];
  return list.map(([id, ver]) => instance('CIM_SoftwareIdentity', { InstanceID: id, IsEntity: true, VersionString: ver }));
}

export const softwareIdentity: WsmanClass = {
  className: 'CIM_SoftwareIdentity',
  get: (ctx, sel) => selectInstance(softwareIdentities(ctx), sel) ?? Faults.invalidSelectors(),
  enumerate: (ctx) => softwareIdentities(ctx),
};

function computerSystemPackage(ctx: WsmanContext) {
  return instance('CIM_ComputerSystemPackage', {
    Antecedent: epr(uriOf('CIM_Chassis'), { CreationClassName: 'CIM_Chassis', Tag: 'CIM_Chassis' }),
    Dependent: epr(uriOf('CIM_ComputerSystem'), { CreationClassName: 'CIM_ComputerSystem', Name: 'ManagedSystem' }),
    PlatformGUID: uuidToGuidBytes(ctx.device.nvram.uuid).toString('hex').toUpperCase(),
  });
}

export const computerSystemPackageClass: WsmanClass = {
  className: 'CIM_ComputerSystemPackage',
  get: (ctx) => computerSystemPackage(ctx),
  enumerate: (ctx) => [computerSystemPackage(ctx)],
};

// ---- AMT_EthernetPortSettings ---------------------------------------------------------------

const ETH_ID = 'Intel(r) AMT Ethernet Port Settings 0';
const ethOverrides = new WeakMap<object, Record<string, string>>();
const ETH_WRITABLE = ['DHCPEnabled', 'IpSyncEnabled', 'SharedStaticIp', 'IPAddress', 'SubnetMask', 'DefaultGateway', 'PrimaryDNS', 'SecondaryDNS'];

function ethernet(ctx: WsmanContext) {
  const d = ctx.device;
  const lease = d.lease;
  const o = ethOverrides.get(ctx.state) ?? {};
  const mac = (d.nvram.macs[0] ?? '00:00:00:00:00:00').replace(/:/g, '-');
  const bool = (k: string, dflt: boolean) => (o[k] !== undefined ? boolText(o[k]) ?? dflt : dflt);
  return instance('AMT_EthernetPortSettings', {
    DHCPEnabled: bool('DHCPEnabled', true),
    DefaultGateway: o['DefaultGateway'] ?? undefined,
    ElementName: 'Intel(r) AMT Ethernet Port Settings',
    IPAddress: o['IPAddress'] ?? lease?.address,
    InstanceID: ETH_ID,
    IpSyncEnabled: bool('IpSyncEnabled', true),
    LinkIsUp: d.link,
    LinkPolicy: [1, 14],
    MACAddress: mac,
    PhysicalConnectionType: 0,
    PrimaryDNS: o['PrimaryDNS'] ?? lease?.dnsServers[0],
    SecondaryDNS: o['SecondaryDNS'] ?? undefined,
    SharedDynamicIP: true,
    SharedMAC: true,
    SharedStaticIp: bool('SharedStaticIp', false),
    SubnetMask: o['SubnetMask'] ?? (lease ? '255.255.255.0' : undefined),
  });
}

export const ethernetPortSettings: WsmanClass = {
  className: 'AMT_EthernetPortSettings',
  get: (ctx, sel) => selectInstance([ethernet(ctx)], sel) ?? Faults.invalidSelectors(),
  enumerate: (ctx) => (ctx.device.nvram.network.wiredLan ? [ethernet(ctx)] : []),
  put: (ctx, sel, props) => {
    if (sel['InstanceID'] !== undefined && sel['InstanceID'] !== ETH_ID) return Faults.invalidSelectors();
    const o = ethOverrides.get(ctx.state) ?? {};
    for (const k of ETH_WRITABLE) {
      const v = props[k];
      if (typeof v === 'string') o[k] = v;
    }
    ethOverrides.set(ctx.state, o);
    return ethernet(ctx);
  },
};

// ---- AMT_TimeSynchronizationService -----------------------------------------------------------

/** Offset (s) the SCA set with SetHighAccuracyTimeSynch, on top of the device clock (RAM state). */
const timeOffset = new WeakMap<object, number>();
const TS_NAME = 'Intel(r) AMT Time Synchronization Service';

function deviceSeconds(ctx: WsmanContext): number {
  return Math.floor(ctx.device.clock.date().getTime() / 1000) + (timeOffset.get(ctx.state) ?? 0);
}

function timeSync() {
  // GWM fixture `amt/timesynchronization/get.xml`.
  return instance('AMT_TimeSynchronizationService', {
    CreationClassName: 'AMT_TimeSynchronizationService',
    ElementName: TS_NAME,
    EnabledState: 5,
    LocalTimeSyncEnabled: 0,
    Name: TS_NAME,
    RequestedState: 12,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
    TimeSource: 0,
  });
}

export const timeSynchronizationService: WsmanClass = {
  className: 'AMT_TimeSynchronizationService',
  get: () => timeSync(),
  enumerate: () => [timeSync()],
  methods: {
    GetLowAccuracyTimeSynch: (ctx) => ({ returnValue: 0, out: { Ta0: deviceSeconds(ctx) } }),
    SetHighAccuracyTimeSynch: (ctx, input) => {
      const ta0 = Number(param(input, 'Ta0'));
      const tm1 = Number(param(input, 'Tm1'));
      const tm2 = Number(param(input, 'Tm2'));
      if (![ta0, tm1, tm2].every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32)) return { returnValue: 36 };
      // The console's time at the midpoint of its round trip becomes the device's time now.
      const target = Math.round((tm1 + tm2) / 2);
      const base = Math.floor(ctx.device.clock.date().getTime() / 1000);
      timeOffset.set(ctx.state, target - base);
      ctx.device.record('clock.set', { offsetSeconds: target - base });
      return { returnValue: 0 };
    },
  },
};
