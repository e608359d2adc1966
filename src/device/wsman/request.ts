/**
 * Parse a WS-Man request envelope safely. Clients use different prefixes (TWM: default soap ns
 * + `a:`/`w:`; MeshCentral the same; wsl `s:`/`wsa:`/`wsman:`), so elements are read by local
 * name (reference §5.6: "prefixes vary; clients must parse by namespace").
 *
 * Safety before parsing: a DOCTYPE or ENTITY declaration is refused outright (no entity
 * expansion, no external entities), the nesting depth and element count are bounded, and the
 * document must be well-formed.
 */
import { XMLParser, XMLValidator, type X2jOptions } from 'fast-xml-parser';
import { Faults, type WsmanFault } from './faults.js';

export const MAX_ENVELOPE_BYTES = 256 * 1024;
export const MAX_DEPTH = 32;
export const MAX_ELEMENTS = 4096;

export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue;
}

export interface WsmanRequest {
  action: string;
  resourceUri: string;
  messageId: string;
  to: string;
  selectors: Record<string, string>;
  /** Children of soap:Body by local name. */
  body: XmlObject;
  /** Local name of the first element in the Body ('' when the Body is empty). */
  bodyName: string;
}

/** The request parser's options (exported so a test can check the parse against other settings). */
export const REQUEST_PARSER_OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // DOCTYPE is refused before we get here, so only the five XML entities and character
  // references can appear; decoding them keeps passwords with '&' intact.
  processEntities: true,
  htmlEntities: false,
  // No callback here reads the jPath, so let the parser hand callbacks its matcher instead of
  // building the path string for every tag and attribute (~20 % of each parse); the parsed
  // object is the same.
  jPath: false,
} as const satisfies X2jOptions;
const parser = new XMLParser(REQUEST_PARSER_OPTIONS);

/** Depth and element count of the document, from a scan of its tags (bounded by input size). */
function scanStructure(xml: string): { depth: number; elements: number } {
  let depth = 0;
  let maxDepth = 0;
  let elements = 0;
  const re = /<(\/?)([A-Za-z_][^\s/>]*)[^>]*?(\/?)>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[1]) {
      depth--;
      continue;
    }
    elements++;
    if (!m[3]) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
    }
    if (maxDepth > MAX_DEPTH || elements > MAX_ELEMENTS) break;
  }
  return { depth: maxDepth, elements };
}

export function text(v: XmlValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return text(v[0]);
  const t = v['#text'];
  return typeof t === 'string' ? t : '';
}

export function child(v: XmlValue | undefined, name: string): XmlValue | undefined {
  if (v === undefined || typeof v === 'string') return undefined;
  if (Array.isArray(v)) return child(v[0], name);
  return v[name];
}

export function asObject(v: XmlValue | undefined): XmlObject {
  if (v === undefined || typeof v === 'string') return {};
  if (Array.isArray(v)) return asObject(v[0]);
  return v;
}

export function asList(v: XmlValue | undefined): XmlValue[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function readSelectors(set: XmlValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of asList(child(set, 'Selector'))) {
    if (typeof s === 'string' || Array.isArray(s)) continue;
    const name = s['@_Name'];
    if (typeof name !== 'string') continue;
    // An EPR-valued selector: keep its text empty; AMT classes we model select by plain values.
    out[name] = text(s);
  }
  return out;
}

export function parseEnvelope(xml: string): WsmanRequest | WsmanFault {
  if (Buffer.byteLength(xml, 'utf8') > MAX_ENVELOPE_BYTES) return Faults.encodingLimit('The request envelope is too large.');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return Faults.schemaValidation('DTDs and entity declarations are not accepted.');
  const shape = scanStructure(xml);
  if (shape.depth > MAX_DEPTH) return Faults.encodingLimit(`The request nests deeper than ${MAX_DEPTH} elements.`);
  if (shape.elements > MAX_ELEMENTS) return Faults.encodingLimit(`The request has more than ${MAX_ELEMENTS} elements.`);
  if (XMLValidator.validate(xml) !== true) return Faults.schemaValidation('The request is not well-formed XML.');
  let doc: XmlObject;
  try {
    doc = parser.parse(xml) as XmlObject;
  } catch {
    return Faults.schemaValidation('The request is not well-formed XML.');
  }
  const env = child(doc, 'Envelope');
  if (env === undefined) return Faults.schemaValidation('The request is not a SOAP envelope.');
  const header = child(env, 'Header');
  const bodyVal = child(env, 'Body');
  const body = asObject(bodyVal);
  const bodyName = Object.keys(body).find((k) => !k.startsWith('@_') && k !== '#text') ?? '';
  return {
    action: text(child(header, 'Action')).trim(),
    resourceUri: text(child(header, 'ResourceURI')).trim(),
    messageId: text(child(header, 'MessageID')).trim(),
    to: text(child(header, 'To')).trim(),
    selectors: readSelectors(child(header, 'SelectorSet')),
    body,
    bodyName,
  };
}

/** A Put/Create/method-input element as property → value(s), attributes dropped. */
export function readProperties(v: XmlValue | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, val] of Object.entries(asObject(v))) {
    if (k.startsWith('@_') || k === '#text') continue;
    out[k] = Array.isArray(val) ? val.map((x) => text(x)) : text(val);
  }
  return out;
}
