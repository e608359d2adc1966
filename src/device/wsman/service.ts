/**
 * The WS-Man service: WS-Transfer (Get/Put/Create/Delete), WS-Enumeration (Enumerate/Pull/
 * Release), custom methods (Invoke) and WS-Management Identify, dispatched to class handlers.
 * Every state change goes through the handler → device.update(); every method call is a
 * `wsman.<Class>.<Method>` timeline event with its ReturnValue.
 */
import { NS, Faults, isFault, type WsmanFault } from './faults.js';
import { bodyPrefix, buildEnvelope, eprXml, epr, faultEnvelope, instanceXml, propXml, type Instance } from './envelope.js';
import { asObject, readProperties, type WsmanRequest } from './request.js';
import { CLASSES } from './classes/index.js';
import { uriOf, type Account, type WsmanClass, type WsmanContext } from './types.js';

const T = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/';
const E = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/';
const KNOWN_BASES = ['http://intel.com/wbem/wscim/1/amt-schema/1/', 'http://intel.com/wbem/wscim/1/ips-schema/1/', 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/'];
/** Open enumerations per device; the oldest is dropped past this (bounded memory). */
const MAX_ENUMERATIONS = 16;

export interface WsmanReply {
  status: 200 | 400 | 500;
  xml: string;
}

/** Identify is answered without authentication (WS-Management DSP0226 §11). */
export function isIdentify(req: WsmanRequest): boolean {
  return req.bodyName === 'Identify';
}

export function identifyResponse(firmwareVersion: string): string {
  const [major = '0', minor = '0'] = firmwareVersion.split('.');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<a:Envelope xmlns:a="${NS.envelope}" xmlns:b="${NS.identity}"><a:Header></a:Header><a:Body><b:IdentifyResponse>` +
    `<b:ProtocolVersion>${NS.wsman}</b:ProtocolVersion>` +
    '<b:ProductVendor>Intel Corporation</b:ProductVendor>' +
    `<b:ProductVersion>AMT ${major}.${minor}</b:ProductVersion>` +
    '<b:DASHVersion>1.0.0</b:DASHVersion>' +
    '<b:SecurityProfiles>' +
    '<b:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/digest</b:SecurityProfileName>' +
    '<b:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest</b:SecurityProfileName>' +
    '<b:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual</b:SecurityProfileName>' +
    '</b:SecurityProfiles></b:IdentifyResponse></a:Body></a:Envelope>'
  );
}

function classOf(resourceUri: string): { name: string; cls: WsmanClass | undefined } | undefined {
  const base = KNOWN_BASES.find((b) => resourceUri.startsWith(b));
  if (!base) return undefined;
  const name = resourceUri.slice(base.length);
  return { name, cls: CLASSES[name] };
}

/** What the local system account may do (reference §6.1: the calls host agents make pre-provisioning). */
function lsaAllowed(className: string, operation: string): boolean {
  if (operation === 'Get' || operation === 'Enumerate' || operation === 'Pull' || operation === 'Release') return true;
  if (className === 'IPS_HostBasedSetupService') return true;
  if (className === 'AMT_SetupAndConfigurationService') return ['CommitChanges', 'GetUuid'].includes(operation);
  return false;
}

function permitted(account: Account, className: string, operation: string): boolean {
  return account === 'lsa' ? lsaAllowed(className, operation) : true;
}

export class WsmanService {
  async handle(ctx: WsmanContext, req: WsmanRequest): Promise<WsmanReply> {
    const messageId = ctx.state.nextMessageId();
    const out = await this.dispatch(ctx, req, messageId);
    if (isFault(out)) {
      ctx.device.record('wsman.fault', { action: req.action.slice(0, 200), resourceUri: req.resourceUri.slice(0, 200), subcode: out.subcode, reason: out.reason });
      return { status: out.httpStatus, xml: faultEnvelope(out, req.messageId, messageId) };
    }
    return { status: 200, xml: out };
  }

  private async dispatch(ctx: WsmanContext, req: WsmanRequest, messageId: string): Promise<string | WsmanFault> {
    if (!req.action) return Faults.invalidRepresentation('The request has no wsa:Action.');
    const target = classOf(req.resourceUri);
    if (!target || !target.cls) return Faults.destinationUnreachable(`No resource at ${req.resourceUri.slice(0, 200) || '(no ResourceURI)'}.`);
    const { name, cls } = target;
    const env = (action: string, bodyNamespaces: string[], body: string): string =>
      buildEnvelope({ bodyNamespaces, action, relatesTo: req.messageId, messageId, resourceUri: req.resourceUri, body });
    const classNs = uriOf(name);

    if (req.action.startsWith(T) || req.action.startsWith(E)) {
      const op = req.action.slice(req.action.lastIndexOf('/') + 1);
      if (!permitted(ctx.account, name, op)) return Faults.accessDenied();
      switch (req.action) {
        case `${T}Get`: {
          if (!cls.get) return Faults.actionNotSupported(req.action);
          const inst = cls.get(ctx, req.selectors);
          if (isFault(inst)) return inst;
          return env(`${T}GetResponse`, [classNs, NS.common], instanceXml('g', inst));
        }
        case `${T}Put`: {
          if (!cls.put) return Faults.actionNotSupported(req.action);
          const props = readProperties(asObject(req.body)[name]);
          if (req.bodyName !== name) return Faults.invalidRepresentation(`Put needs a ${name} element in the Body.`);
          const inst = cls.put(ctx, req.selectors, props);
          if (isFault(inst)) return inst;
          ctx.device.record(`wsman.${name}.Put`, { properties: Object.keys(props) });
          return env(`${T}PutResponse`, [classNs, NS.common], instanceXml('g', inst));
        }
        case `${T}Create`: {
          if (!cls.create) return Faults.actionNotSupported(req.action);
          if (req.bodyName !== name) return Faults.invalidRepresentation(`Create needs a ${name} element in the Body.`);
          const raw = asObject(asObject(req.body)[name]);
          const sel = cls.create(ctx, readProperties(raw), raw);
          if (isFault(sel)) return sel;
          ctx.device.record(`wsman.${name}.Create`, {});
          return env(`${T}CreateResponse`, [NS.transfer], `<g:ResourceCreated>${eprXml(epr(classNs, sel))}</g:ResourceCreated>`);
        }
        case `${T}Delete`: {
          if (!cls.delete) return Faults.actionNotSupported(req.action);
          const f = cls.delete(ctx, req.selectors);
          if (f) return f;
          ctx.device.record(`wsman.${name}.Delete`, { selectors: req.selectors });
          return env(`${T}DeleteResponse`, [], '');
        }
        case `${E}Enumerate`: {
          if (!cls.enumerate) return Faults.actionNotSupported(req.action);
          const id = this.openEnumeration(ctx, req.resourceUri, cls.enumerate(ctx));
          return env(`${E}EnumerateResponse`, [NS.enumeration], `<g:EnumerateResponse><g:EnumerationContext>${id}</g:EnumerationContext></g:EnumerateResponse>`);
        }
        case `${E}Pull`:
          return this.pull(ctx, req, classNs, env);
        case `${E}Release`: {
          const id = this.contextOf(req);
          if (!ctx.state.enumerations.delete(id)) return Faults.invalidEnumerationContext();
          return env(`${E}ReleaseResponse`, [], '');
        }
        default:
          return Faults.actionNotSupported(req.action);
      }
    }
    return this.invoke(ctx, req, name, cls, classNs, env);
  }

  private async invoke(
    ctx: WsmanContext,
    req: WsmanRequest,
    name: string,
    cls: WsmanClass,
    classNs: string,
    env: (action: string, ns: string[], body: string) => string,
  ): Promise<string | WsmanFault> {
    const method = req.action.slice(req.action.lastIndexOf('/') + 1);
    const handler = cls.methods?.[method];
    if (!handler) return Faults.actionNotSupported(req.action);
    if (!permitted(ctx.account, name, method)) return Faults.accessDenied();
    const inputName = `${method}_INPUT`;
    if (req.bodyName !== '' && req.bodyName !== inputName) return Faults.invalidRepresentation(`Expected ${inputName} in the Body.`);
    const raw = asObject(asObject(req.body)[inputName]);
    const injected = ctx.conn.injectReturnValue;
    const result = injected !== undefined ? { returnValue: injected } : await handler(ctx, readProperties(raw), raw);
    if (isFault(result)) return result;
    ctx.device.record(`wsman.${name}.${method}`, { returnValue: result.returnValue, account: ctx.account, origin: ctx.conn.origin, ...(injected !== undefined ? { injected: true } : {}) });
    const outs = Object.entries(result.out ?? {})
      .map(([k, v]) => propXml('g', k, v))
      .join('');
    const body = `<g:${method}_OUTPUT>${outs}<g:ReturnValue>${result.returnValue}</g:ReturnValue></g:${method}_OUTPUT>`;
    return env(`${req.action}Response`, [classNs], body);
  }

  private openEnumeration(ctx: WsmanContext, resourceUri: string, items: Instance[]): string {
    const st = ctx.state;
    const n = st.nextContext++ & 0xffffffff;
    // Firmware contexts look like `17000000-0000-0000-0000-000000000000` (GWM enumerate fixtures).
    const id = `${n.toString(16).toUpperCase().padStart(2, '0').padEnd(8, '0')}-0000-0000-0000-000000000000`;
    st.enumerations.set(id, { resourceUri, items });
    if (st.enumerations.size > MAX_ENUMERATIONS) {
      const oldest = st.enumerations.keys().next().value;
      if (oldest !== undefined) st.enumerations.delete(oldest);
    }
    return id;
  }

  private contextOf(req: WsmanRequest): string {
    const body = asObject(req.body);
    const el = asObject(body['Pull'] ?? body['Release']);
    const v = el['EnumerationContext'];
    return typeof v === 'string' ? v.trim() : '';
  }

  private pull(ctx: WsmanContext, req: WsmanRequest, classNs: string, env: (action: string, ns: string[], body: string) => string): string | WsmanFault {
    const id = this.contextOf(req);
    const en = ctx.state.enumerations.get(id);
    if (!en || en.resourceUri !== req.resourceUri) return Faults.invalidEnumerationContext();
    const pull = asObject(asObject(req.body)['Pull']);
    const maxRaw = Number(typeof pull['MaxElements'] === 'string' ? pull['MaxElements'] : '1');
    const max = Number.isInteger(maxRaw) && maxRaw > 0 ? Math.min(maxRaw, 1000) : 1;
    const batch = en.items.splice(0, max);
    // Items of a subclass (CIM_ServiceAvailableToElement → CIM_AssociatedPowerManagementService) get
    // their namespace declared on the envelope like the class's own, not on the item: MeshCentral's
    // parser (amt-xml.js _ParseWsmanRec) wraps any element with attributes in {Value: …}.
    const foreign = [...new Set(batch.map((i) => i.resourceUri).filter((u) => u !== classNs))];
    const items = batch.map((i) => (i.resourceUri === classNs ? instanceXml('h', i) : instanceXml(bodyPrefix(3 + foreign.indexOf(i.resourceUri)), i))).join('');
    let tail: string;
    if (en.items.length === 0) {
      ctx.state.enumerations.delete(id);
      tail = '<g:EndOfSequence></g:EndOfSequence>';
    } else {
      tail = `<g:EnumerationContext>${id}</g:EnumerationContext>`;
    }
    return env(`${E}PullResponse`, [NS.enumeration, classNs, NS.common, ...foreign], `<g:PullResponse><g:Items>${items}</g:Items>${tail}</g:PullResponse>`);
  }
}
