/**
 * A fast path for the plain XML that WS-Man envelopes are, producing exactly what
 * fast-xml-parser gives with the options this project uses (namespace prefixes removed,
 * attributes as '@_name', values as trimmed strings, repeated elements as arrays), or
 * `undefined` when the document is outside the plain subset — the caller then runs the
 * existing validator + fast-xml-parser path, so unusual input keeps its exact old behaviour.
 *
 * Why: XML parsing (validator plus parser, on both ends of every WS-Man exchange) was the
 * largest single CPU cost of a PKI-CH activation after the TLS handshake (docs/benchmarks.md
 * (d)). This reads a plain envelope in one pass.
 *
 * The plain subset (anything else → undefined): an optional leading `<?xml …?>` declaration;
 * one root element; element and attribute names of ASCII letters, digits, '_', '.', '-' with
 * at most one ':' prefix; attributes separated by whitespace, each with a quoted value that
 * has no '<'; no comments, CDATA, DOCTYPE or other processing instructions; no carriage
 * returns; no element with both non-blank text and child elements; '&' only in the five named
 * entities (no numeric character references); no name that fast-xml-parser renames or refuses
 * (toString, __proto__, …); no repeated attribute; nesting at most MAX_FAST_DEPTH.
 * Every document this accepts is well-formed, so it never accepts what the validator refuses
 * (test/unit/wsman-xml-fast.test.ts checks both properties against fast-xml-parser itself).
 */

export type FastXmlValue = string | FastXmlObject | FastXmlValue[];
export interface FastXmlObject {
  [name: string]: FastXmlValue;
}

export interface FastXmlOptions {
  /** Decode &amp; &lt; &gt; &quot; &apos; in text and attribute values (processEntities). */
  decodeEntities: boolean;
  /** Keep the XML declaration as a '?xml' element (fast-xml-parser without ignoreDeclaration). */
  keepDeclaration: boolean;
}

export const MAX_FAST_DEPTH = 64;

// Names fast-xml-parser renames (DANGEROUS_PROPERTY_NAMES) or throws on (criticalProperties).
const RESERVED = new Set(['hasOwnProperty', 'toString', 'valueOf', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__', '__proto__', 'constructor', 'prototype']);

const AMP_OK_RE = /&(?:amp|lt|gt|quot|apos);/y;
const ENTITY_RE = /&(amp|lt|gt|quot|apos);/g;
const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

interface Frame {
  raw: string;
  key: string;
  children: FastXmlObject | undefined;
  text: string | undefined;
  attrs: Array<[string, string]> | undefined;
}

/** True when every '&' in s[from, to) starts one of the five named entities. */
function ampersandsOk(s: string, from: number, to: number): boolean {
  let i = s.indexOf('&', from);
  while (i >= 0 && i < to) {
    AMP_OK_RE.lastIndex = i;
    if (!AMP_OK_RE.test(s) || AMP_OK_RE.lastIndex > to) return false;
    i = s.indexOf('&', AMP_OK_RE.lastIndex);
  }
  return true;
}

function localName(raw: string): string {
  const c = raw.indexOf(':');
  return c < 0 ? raw : raw.slice(c + 1);
}

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 9) return i;
    i++;
  }
}

const isNameStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isNameChar = (c: number): boolean => isNameStart(c) || (c >= 48 && c <= 57) || c === 46 || c === 45;

/** A name of the subset (ASCII letters, digits, _ . -, at most one prefix) at i, or undefined. */
function readName(s: string, i: number): string | undefined {
  const start = i;
  if (!isNameStart(s.charCodeAt(i))) return undefined;
  i++;
  while (isNameChar(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) === 58 /* : */) {
    if (!isNameStart(s.charCodeAt(i + 1))) return undefined;
    i += 2;
    while (isNameChar(s.charCodeAt(i))) i++;
  }
  return s.slice(start, i);
}

/** fast-xml-parser's shape for an element once it is closed. */
function valueOf(f: Frame, decode: (v: string) => string): FastXmlValue {
  const text = f.text !== undefined ? decode(f.text) : undefined;
  if (!f.attrs) {
    if (f.children) return f.children;
    return text ?? '';
  }
  const obj: FastXmlObject = f.children ?? {};
  if (text !== undefined && text.length > 0) obj['#text'] = text;
  for (const [k, v] of f.attrs) obj[k] = v;
  return obj;
}

function addChild(parent: FastXmlObject, key: string, value: FastXmlValue): void {
  if (Object.prototype.hasOwnProperty.call(parent, key)) {
    const cur = parent[key] as FastXmlValue;
    if (Array.isArray(cur)) cur.push(value);
    else parent[key] = [cur, value];
  } else parent[key] = value;
}

/**
 * Attributes from s[i] up to the tag end. Returns the index of '>' or '/>' and the attribute
 * list in fast-xml-parser's form, or undefined outside the subset.
 */
function readAttributes(s: string, i: number, decode: (v: string) => string): { end: number; attrs: Array<[string, string]> | undefined } | undefined {
  let attrs: Array<[string, string]> | undefined;
  const seen: string[] = [];
  for (;;) {
    const j = skipWs(s, i);
    const c = s.charCodeAt(j);
    if (c === 62 /* > */ || (c === 47 /* / */ && s.charCodeAt(j + 1) === 62)) return { end: j, attrs };
    if (j === i) return undefined; // attributes must be separated by whitespace
    const raw = readName(s, j);
    if (raw === undefined) return undefined;
    let k = j + raw.length;
    k = skipWs(s, k);
    if (s.charCodeAt(k) !== 61 /* = */) return undefined;
    k = skipWs(s, k + 1);
    const q = s.charCodeAt(k);
    if (q !== 34 && q !== 39) return undefined;
    const close = s.indexOf(q === 34 ? '"' : "'", k + 1);
    if (close < 0) return undefined;
    const rawValue = s.slice(k + 1, close);
    if (rawValue.includes('<') || !ampersandsOk(s, k + 1, close)) return undefined;
    if (seen.includes(raw)) return undefined;
    seen.push(raw);
    const prefix = raw.indexOf(':') < 0 ? raw : raw.slice(0, raw.indexOf(':'));
    if (prefix !== 'xmlns') {
      const local = localName(raw);
      if (RESERVED.has(local) || RESERVED.has(`@_${local}`)) return undefined;
      const key = `@_${local}`;
      const value = decode(rawValue.trim());
      attrs ??= [];
      // A repeated local name (a:x and b:x): the last one wins, as in fast-xml-parser.
      const at = attrs.findIndex((a) => a[0] === key);
      if (at >= 0) attrs[at] = [key, value];
      else attrs.push([key, value]);
    }
    i = close + 1;
  }
}

export function parsePlainXml(xml: string, opts: FastXmlOptions): FastXmlObject | undefined {
  if (xml.includes('\r')) return undefined;
  const decode = opts.decodeEntities
    ? (v: string): string => (v.includes('&') ? v.replace(ENTITY_RE, (_m, e: string) => ENTITY[e] ?? _m) : v)
    : (v: string): string => v;
  const doc: FastXmlObject = {};
  let i = skipWs(xml, 0);
  if (xml.startsWith('<?', i)) {
    const c = xml.charCodeAt(i + 5);
    if (!xml.startsWith('<?xml', i) || !(c === 32 || c === 9 || c === 10 || c === 63)) return undefined;
    const end = xml.indexOf('?>', i);
    if (end < 0) return undefined;
    const decl = readDeclaration(xml, i + 5, end, decode);
    if (decl === undefined) return undefined;
    if (opts.keepDeclaration) doc['?xml'] = decl;
    i = end + 2;
  }
  const stack: Frame[] = [];
  let rootSeen = false;
  const n = xml.length;
  for (;;) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const seg = xml.slice(i, textEnd);
      const top = stack[stack.length - 1];
      const trimmed = seg.trim();
      if (!top) {
        if (trimmed.length > 0) return undefined; // text outside the root element
      } else if (trimmed.length > 0) {
        if (top.children || top.text !== undefined || seg.includes('>') || !ampersandsOk(xml, i, textEnd)) return undefined;
        top.text = trimmed;
      }
    }
    if (lt < 0) break;
    i = lt;
    const next = xml.charCodeAt(i + 1);
    if (next === 47 /* / */) {
      const top = stack.pop();
      if (!top) return undefined;
      const raw = readName(xml, i + 2);
      if (raw !== top.raw) return undefined;
      const j = skipWs(xml, i + 2 + raw.length);
      if (xml.charCodeAt(j) !== 62) return undefined;
      const value = valueOf(top, decode);
      const parent = stack[stack.length - 1];
      if (parent) addChild((parent.children ??= {}), top.key, value);
      else addChild(doc, top.key, value);
      i = j + 1;
      continue;
    }
    const raw = readName(xml, i + 1);
    if (raw === undefined) return undefined; // '<!', '<?', or a name outside the subset
    const parent = stack[stack.length - 1];
    if (parent) {
      if (parent.text !== undefined) return undefined; // mixed content
    } else {
      if (rootSeen) return undefined;
      rootSeen = true;
    }
    if (raw.split(':')[0] === 'xmlns') return undefined;
    const key = localName(raw);
    if (RESERVED.has(key)) return undefined;
    const a = readAttributes(xml, i + 1 + raw.length, decode);
    if (!a) return undefined;
    const frame: Frame = { raw, key, children: undefined, text: undefined, attrs: a.attrs };
    if (parent) parent.children ??= {};
    if (xml.charCodeAt(a.end) === 47) {
      const value = valueOf(frame, decode);
      if (parent) addChild(parent.children as FastXmlObject, key, value);
      else addChild(doc, key, value);
      i = a.end + 2;
    } else {
      if (stack.length >= MAX_FAST_DEPTH) return undefined;
      stack.push(frame);
      i = a.end + 1;
    }
  }
  if (stack.length > 0 || !rootSeen) return undefined;
  return doc;
}

/** The declaration's pseudo-attributes between `<?xml` and `?>`, in fast-xml-parser's shape. */
function readDeclaration(xml: string, from: number, end: number, decode: (v: string) => string): FastXmlValue | undefined {
  // Re-use the attribute reader on a copy whose end is a plain '>'.
  const body = `${xml.slice(from, end)}>`;
  if (body.includes('<')) return undefined;
  const a = readAttributes(body, 0, decode);
  if (!a || a.end !== body.length - 1) return undefined;
  if (!a.attrs) return '';
  const obj: FastXmlObject = {};
  for (const [k, v] of a.attrs) obj[k] = v;
  return obj;
}
