/**
 * WS-Man response parsing for the provisioning client. Prefixes vary between firmware builds
 * (reference §5.6), so namespaces are stripped and elements found by local name. Entity
 * processing is off (no expansion attacks); the five XML entities are decoded in `text()`.
 */
import { XMLParser, type X2jOptions } from 'fast-xml-parser';

export type XmlNode = string | { [k: string]: XmlValue };
export type XmlValue = XmlNode | XmlNode[];

/** The response parser's options (exported so a test can check the parse against other settings). */
export const RESPONSE_PARSER_OPTIONS = {
  removeNSPrefix: true,
  processEntities: false,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // No callback reads the jPath: skip building the path string per tag (same parsed object).
  jPath: false,
} as const satisfies X2jOptions;
const parser = new XMLParser(RESPONSE_PARSER_OPTIONS);

export type WsmanErrorCode =
  | 'WSMAN_CONNECT_FAILED'
  | 'WSMAN_TLS_FAILED'
  /** The device's TLS leaf is not the one pinned (secure host-based ACM pins AMTCertHash, reference §5.4). */
  | 'WSMAN_CERT_PIN_MISMATCH'
  | 'WSMAN_TIMEOUT'
  | 'WSMAN_AUTH_FAILED'
  | 'WSMAN_HTTP_ERROR'
  | 'WSMAN_BAD_RESPONSE'
  | 'WSMAN_FAULT'
  | 'WSMAN_RETURN_VALUE'
  | 'WSMAN_CLOSED';

/** A failed WS-Man exchange with a code the provisioning timeline shows. */
export class WsmanError extends Error {
  constructor(
    readonly code: WsmanErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'WsmanError';
  }
}

export interface WsmanFault {
  code: string;
  subcode?: string;
  reason: string;
  detail?: string;
}

export interface WsmanEnvelope {
  header: Record<string, XmlValue>;
  body: Record<string, XmlValue>;
  fault?: WsmanFault;
}

function isObj(v: unknown): v is Record<string, XmlValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITY[e] ?? _m;
  });
}

/** Text content of a leaf (string, or an element that also had attributes); '' for xsi:nil. */
export function text(v: XmlValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return decodeEntities(v);
  if (Array.isArray(v)) return text(v[0]);
  const t = v['#text'];
  if (typeof t === 'string') return decodeEntities(t);
  if (v['@_nil'] === 'true') return '';
  return undefined;
}

export function child(v: XmlValue | undefined, name: string): XmlValue | undefined {
  if (Array.isArray(v)) return child(v[0], name);
  return isObj(v) ? v[name] : undefined;
}

export function asArray(v: XmlValue | undefined): XmlNode[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** A flat record of an instance's leaf properties (first value of repeated ones kept in `all`). */
export function instanceFields(v: XmlValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const node = Array.isArray(v) ? v[0] : v;
  if (!isObj(node)) return out;
  for (const [k, val] of Object.entries(node)) {
    if (k.startsWith('@_') || k === '#text') continue;
    const t = text(val);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

export function parseEnvelope(xml: string): WsmanEnvelope {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (e) {
    throw new WsmanError('WSMAN_BAD_RESPONSE', `response is not XML: ${(e as Error).message}`);
  }
  const env = isObj(doc) ? doc.Envelope : undefined;
  if (!isObj(env)) throw new WsmanError('WSMAN_BAD_RESPONSE', 'response has no SOAP Envelope');
  const header = isObj(env.Header) ? env.Header : {};
  const body = isObj(env.Body) ? env.Body : env.Body === '' || env.Body === undefined ? {} : undefined;
  if (!body) throw new WsmanError('WSMAN_BAD_RESPONSE', 'response has no SOAP Body');
  const out: WsmanEnvelope = { header, body };
  const f = body.Fault;
  if (f !== undefined) {
    const fault: WsmanFault = {
      code: text(child(child(f, 'Code'), 'Value')) ?? 'unknown',
      reason: text(child(child(f, 'Reason'), 'Text')) ?? '',
    };
    const sub = text(child(child(child(f, 'Code'), 'Subcode'), 'Value'));
    if (sub) fault.subcode = sub;
    const detail = child(f, 'Detail');
    const d = text(child(detail, 'FaultDetail')) ?? text(detail);
    if (d) fault.detail = d;
    out.fault = fault;
  }
  return out;
}

/** The InstanceID selector in an EPR (e.g. AddCertificate's CreatedCertificate, GenerateKeyPair's KeyPair). */
export function eprSelector(epr: XmlValue | undefined, name = 'InstanceID'): string | undefined {
  const set = child(child(epr, 'ReferenceParameters'), 'SelectorSet');
  for (const s of asArray(child(set, 'Selector'))) {
    if (isObj(s) && s['@_Name'] === name) return text(s);
  }
  return undefined;
}
