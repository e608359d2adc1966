/**
 * Response envelopes in the firmware's style (reference §5.6, GWM fixtures
 * `responses/amt/timesynchronization/get.xml`, `.../pull.xml`): prefixes a: soap-envelope,
 * b: addressing, c: wsman, d: trust, e: secext, f: cimbinding, then g:, h:, … for the body's
 * namespaces; header order To, RelatesTo, Action(mustUnderstand), MessageID, ResourceURI.
 * No whitespace between elements: MeshCentral's parser takes Body.childNodes[0] as the payload.
 */
import { NS, type WsmanFault } from './faults.js';

export interface Epr {
  kind: 'epr';
  resourceUri: string;
  selectors: Record<string, string | Epr>;
}
export type PropValue = string | number | boolean | null | undefined | Epr | PropValue[];

/** One CIM instance: its class, namespace and properties in the order the firmware prints them. */
export interface Instance {
  className: string;
  resourceUri: string;
  props: Record<string, PropValue>;
}

export const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

export function epr(resourceUri: string, selectors: Record<string, string | Epr>): Epr {
  return { kind: 'epr', resourceUri, selectors };
}

function isEpr(v: PropValue): v is Epr {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'epr';
}

/** The EPR body (Address + ReferenceParameters) with the envelope's b:/c: prefixes. */
export function eprXml(e: Epr): string {
  const sel = Object.entries(e.selectors)
    .map(([k, v]) => `<c:Selector Name="${xmlEscape(k)}">${typeof v === 'string' ? xmlEscape(v) : `<b:EndpointReference>${eprXml(v)}</b:EndpointReference>`}</c:Selector>`)
    .join('');
  return `<b:Address>${ANONYMOUS}</b:Address><b:ReferenceParameters><c:ResourceURI>${xmlEscape(e.resourceUri)}</c:ResourceURI><c:SelectorSet>${sel}</c:SelectorSet></b:ReferenceParameters>`;
}

export function propXml(prefix: string, name: string, v: PropValue): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => propXml(prefix, name, x)).join('');
  const inner = isEpr(v) ? eprXml(v) : xmlEscape(typeof v === 'string' ? v : String(v));
  return `<${prefix}:${name}>${inner}</${prefix}:${name}>`;
}

/** AMT prints instance properties in alphabetical order (GWM fixtures). */
export function instanceXml(prefix: string, inst: Instance, declareNamespace = false): string {
  const props = Object.entries(inst.props)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => propXml(prefix, k, v))
    .join('');
  const xmlns = declareNamespace ? ` xmlns:${prefix}="${xmlEscape(inst.resourceUri)}"` : '';
  return `<${prefix}:${inst.className}${xmlns}>${props}</${prefix}:${inst.className}>`;
}

export interface EnvelopeParts {
  /** Extra body namespaces in order; they get prefixes g, h, i, …. */
  bodyNamespaces: string[];
  action: string;
  relatesTo: string;
  messageId: string;
  resourceUri?: string;
  /** Body XML using the prefixes handed out (see `prefixFor`). */
  body: string;
}

const BODY_PREFIXES = 'ghijklmnopqrstuvwxyz';

/** Prefix assigned to the i-th body namespace. */
export function bodyPrefix(i: number): string {
  return BODY_PREFIXES[i] ?? `n${i}`;
}

export function buildEnvelope(p: EnvelopeParts): string {
  const extra = p.bodyNamespaces.map((uri, i) => ` xmlns:${bodyPrefix(i)}="${xmlEscape(uri)}"`).join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<a:Envelope xmlns:a="${NS.envelope}" xmlns:b="${NS.addressing}" xmlns:c="${NS.wsman}" xmlns:d="${NS.trust}" xmlns:e="${NS.secext}" xmlns:f="${NS.cimbinding}"${extra} xmlns:xsi="${NS.xsi}">` +
    '<a:Header>' +
    `<b:To>${ANONYMOUS}</b:To>` +
    `<b:RelatesTo>${xmlEscape(p.relatesTo)}</b:RelatesTo>` +
    `<b:Action a:mustUnderstand="true">${xmlEscape(p.action)}</b:Action>` +
    `<b:MessageID>${p.messageId}</b:MessageID>` +
    (p.resourceUri ? `<c:ResourceURI>${xmlEscape(p.resourceUri)}</c:ResourceURI>` : '') +
    '</a:Header>' +
    `<a:Body>${p.body}</a:Body>` +
    '</a:Envelope>'
  );
}

const FAULT_NS_PREFIX: Record<WsmanFault['ns'], { uri: string; prefix: string }> = {
  envelope: { uri: NS.envelope, prefix: 'a' },
  addressing: { uri: NS.addressing, prefix: 'b' },
  wsman: { uri: NS.wsman, prefix: 'c' },
  transfer: { uri: NS.transfer, prefix: 'g' },
  enumeration: { uri: NS.enumeration, prefix: 'g' },
};

export function faultEnvelope(f: WsmanFault, relatesTo: string, messageId: string): string {
  const sub = FAULT_NS_PREFIX[f.ns];
  const bodyNs = sub.prefix === 'g' ? [sub.uri] : [];
  const action = f.ns === 'addressing' ? 'http://schemas.xmlsoap.org/ws/2004/08/addressing/fault' : 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault';
  const detail = f.detail ? `<a:Detail><c:FaultDetail>${xmlEscape(f.detail)}</c:FaultDetail></a:Detail>` : '';
  const body =
    '<a:Fault>' +
    `<a:Code><a:Value>a:${f.code}</a:Value><a:Subcode><a:Value>${sub.prefix}:${f.subcode}</a:Value></a:Subcode></a:Code>` +
    `<a:Reason><a:Text xml:lang="en-US">${xmlEscape(f.reason)}</a:Text></a:Reason>` +
    detail +
    '</a:Fault>';
  return buildEnvelope({ bodyNamespaces: bodyNs, action, relatesTo, messageId, body });
}
