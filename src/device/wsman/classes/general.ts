/**
 * AMT_GeneralSettings (reference §5.6, GWM `amt/general` types): the one instance
 * 'Intel(r) AMT: General Settings'. DigestRealm is the HTTP realm (§6.2); HostName/DomainName
 * live in NVRAM. The other writable settings are kept in WS-Man RAM state (the NVRAM schema
 * has no fields for them yet), so a Put then Get shows them until the device loses power.
 */
import { Faults } from '../faults.js';
import type { PropValue } from '../envelope.js';
import { instance, type WsmanClass, type WsmanContext } from '../types.js';

const INSTANCE_ID = 'Intel(r) AMT: General Settings';
const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const DOMAIN_RE = /^$|^(?=.{1,192}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Writable settings not in NVRAM, with their factory values (GWM fixture values). */
const RAM_DEFAULTS: Record<string, string> = {
  PingResponseEnabled: 'true',
  RmcpPingResponseEnabled: 'true',
  DDNSUpdateEnabled: 'false',
  DDNSUpdateByDHCPServerEnabled: 'true',
  DDNSTTL: '900',
  DDNSPeriodicUpdateInterval: '1440',
  SharedFQDN: 'true',
  PrivacyLevel: '0',
  PresenceNotificationInterval: '0',
  IdleWakeTimeout: '65535',
  WsmanOnlyMode: 'false',
  PreferredAddressFamily: '0',
  DHCPv6ConfigurationTimeout: '0',
  AMTNetworkEnabled: '1',
  ThunderboltDockEnabled: '0',
  DHCPSyncRRTTL: '0',
};
const overrides = new WeakMap<object, Record<string, string>>();

function ram(ctx: WsmanContext): Record<string, string> {
  let o = overrides.get(ctx.state);
  if (!o) {
    o = { ...RAM_DEFAULTS };
    overrides.set(ctx.state, o);
  }
  return o;
}

function typed(v: string): PropValue {
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

function current(ctx: WsmanContext) {
  const img = ctx.device.nvram;
  const extra: Record<string, PropValue> = {};
  for (const [k, v] of Object.entries(ram(ctx))) extra[k] = typed(v);
  return instance('AMT_GeneralSettings', {
    ElementName: 'Intel(r) AMT: General Settings',
    InstanceID: INSTANCE_ID,
    NetworkInterfaceEnabled: true,
    DigestRealm: img.digestRealm,
    HostName: img.network.hostname,
    DomainName: img.network.domain,
    HostOSFQDN: img.network.domain ? `${img.network.hostname}.${img.network.domain}` : img.network.hostname,
    PowerSource: 0,
    ...extra,
  });
}

export const generalSettings: WsmanClass = {
  className: 'AMT_GeneralSettings',
  get: (ctx) => current(ctx),
  enumerate: (ctx) => [current(ctx)],
  put: (ctx, _selectors, props) => {
    const host = typeof props['HostName'] === 'string' ? props['HostName'] : undefined;
    const domain = typeof props['DomainName'] === 'string' ? props['DomainName'] : undefined;
    if (host !== undefined && !HOST_RE.test(host)) return Faults.invalidRepresentation(`HostName "${host.slice(0, 80)}" is not a valid host label.`);
    if (domain !== undefined && !DOMAIN_RE.test(domain)) return Faults.invalidRepresentation(`DomainName "${domain.slice(0, 80)}" is not a valid domain.`);
    for (const k of Object.keys(RAM_DEFAULTS)) {
      const v = props[k];
      if (typeof v === 'string') ram(ctx)[k] = v;
    }
    if ((host !== undefined && host !== ctx.device.nvram.network.hostname) || (domain !== undefined && domain !== ctx.device.nvram.network.domain)) {
      ctx.device.update((img) => {
        if (host !== undefined) img.network.hostname = host;
        if (domain !== undefined) img.network.domain = domain;
      });
    }
    return current(ctx);
  },
};
