/**
 * AMT_TLSSettingData (remote '802.3' instance and the local 'LMS' instance, reference §1.3
 * step 5.5) and AMT_TLSCredentialContext (which certificate 16993 presents). TLS setting Puts
 * wait for AMT_SetupAndConfigurationService.CommitChanges (§6.1: "Most changes made via the
 * AMT_TLSSettingData class are not applied until … CommitChanges"); Get shows the pending value.
 */
import type { TlsSettings } from '../../../nvram/image.js';
import { epr } from '../envelope.js';
import { Faults } from '../faults.js';
import { asList, asObject, child, text } from '../request.js';
import { boolText, instance, selectInstance, uriOf, type WsmanClass, type WsmanContext } from '../types.js';

export const REMOTE_TLS_ID = 'Intel(r) AMT 802.3 TLS Settings';
export const LOCAL_TLS_ID = 'Intel(r) AMT LMS TLS Settings';

function settingInstance(id: string, s: TlsSettings) {
  return instance('AMT_TLSSettingData', {
    AcceptNonSecureConnections: s.acceptNonSecureConnections,
    ElementName: id,
    Enabled: s.enabled,
    InstanceID: id,
    MutualAuthentication: s.mutualAuthentication,
    NonSecureConnectionsSupported: true,
    TrustedCN: s.trustedCn.length ? s.trustedCn : undefined,
  });
}

function settings(ctx: WsmanContext) {
  const img = ctx.device.nvram;
  const p = ctx.state.pendingTls;
  return [settingInstance(REMOTE_TLS_ID, p.remote ?? img.tls.remote), settingInstance(LOCAL_TLS_ID, p.local ?? img.tls.local)];
}

export const tlsSettingData: WsmanClass = {
  className: 'AMT_TLSSettingData',
  get: (ctx, sel) => selectInstance(settings(ctx), sel) ?? Faults.invalidSelectors(),
  enumerate: (ctx) => settings(ctx),
  put: (ctx, sel, props) => {
    const id = sel['InstanceID'] ?? (typeof props['InstanceID'] === 'string' ? props['InstanceID'] : '');
    const which = id === REMOTE_TLS_ID ? 'remote' : id === LOCAL_TLS_ID ? 'local' : undefined;
    if (!which) return Faults.invalidSelectors(`No AMT_TLSSettingData instance "${id.slice(0, 80)}".`);
    const base = ctx.state.pendingTls[which] ?? ctx.device.nvram.tls[which];
    const next: TlsSettings = { ...base, trustedCn: [...base.trustedCn] };
    const b = (k: string): boolean | undefined => {
      const v = props[k];
      return typeof v === 'string' ? boolText(v) : undefined;
    };
    for (const [k, field] of [['Enabled', 'enabled'], ['MutualAuthentication', 'mutualAuthentication'], ['AcceptNonSecureConnections', 'acceptNonSecureConnections']] as const) {
      if (props[k] === undefined) continue;
      const v = b(k);
      if (v === undefined) return Faults.invalidRepresentation(`${k} must be true or false.`);
      next[field] = v;
    }
    const cn = props['TrustedCN'];
    if (cn !== undefined) next.trustedCn = (Array.isArray(cn) ? cn : [cn]).filter((s) => s !== '').slice(0, 4);
    // choice: enabling TLS without a credential context cannot serve TLS with the configured certificate.
    if (next.enabled && which === 'remote' && !ctx.device.nvram.tls.credentialContext && ctx.device.state === 'Post') {
      return Faults.invalidRepresentation('TLS cannot be enabled before an AMT_TLSCredentialContext exists.');
    }
    ctx.state.pendingTls = { ...ctx.state.pendingTls, [which]: next };
    return settingInstance(which === 'remote' ? REMOTE_TLS_ID : LOCAL_TLS_ID, next);
  },
};

const COLLECTION = epr(uriOf('AMT_TLSProtocolEndpointCollection'), { ElementName: 'TLSProtocolEndpoint Instances Collection' });

function contexts(ctx: WsmanContext) {
  const id = ctx.device.nvram.tls.credentialContext;
  if (!id) return [];
  return [
    instance('AMT_TLSCredentialContext', {
      ElementInContext: epr(uriOf('AMT_PublicKeyCertificate'), { InstanceID: id }),
      ElementProvidingContext: COLLECTION,
    }),
  ];
}

/** The InstanceID selector inside an ElementInContext EPR of a Create/Put body. */
function certificateIdFrom(raw: ReturnType<typeof asObject>): string {
  const sels = asList(child(child(child(raw['ElementInContext'], 'ReferenceParameters'), 'SelectorSet'), 'Selector'));
  for (const s of sels) {
    const o = asObject(s);
    if (o['@_Name'] === 'InstanceID') return text(s).trim();
  }
  return '';
}

export const tlsCredentialContext: WsmanClass = {
  className: 'AMT_TLSCredentialContext',
  enumerate: (ctx) => contexts(ctx),
  get: (ctx) => contexts(ctx)[0] ?? Faults.invalidSelectors('No TLS credential context exists.'),
  create: (ctx, _props, raw) => {
    const id = certificateIdFrom(raw);
    const cert = ctx.device.nvram.tls.certificates.find((c) => c.instanceId === id);
    if (!cert) return Faults.invalidRepresentation(`ElementInContext names no certificate in the store ("${id.slice(0, 80)}").`);
    if (!cert.keyPairId) return Faults.invalidRepresentation('The certificate has no private key on the device.');
    if (ctx.device.nvram.tls.credentialContext) return Faults.accessDenied('A TLS credential context already exists; Put or Delete it.');
    ctx.device.update((img) => {
      img.tls.credentialContext = id;
    });
    return {
      ElementInContext: epr(uriOf('AMT_PublicKeyCertificate'), { InstanceID: id }),
      ElementProvidingContext: COLLECTION,
    };
  },
  delete: (ctx) => {
    if (!ctx.device.nvram.tls.credentialContext) return Faults.invalidSelectors();
    ctx.device.update((img) => {
      delete img.tls.credentialContext;
    });
    return undefined;
  },
};
