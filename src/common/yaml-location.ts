/**
 * YAML files checked against a JSON Schema, with every problem as `file:line:column: message`.
 * The yaml package keeps source ranges on each node; an ajv instancePath (or a semantic check's
 * path) is walked through the document to the node it names. Shared by the fleet file,
 * the provisioning-server config and the scenario loader.
 */
import type { ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { AmtError } from './errors.js';

export type JsonPath = Array<string | number>;

export interface SourcePos {
  line: number;
  column: number;
}

export interface FileProblem extends SourcePos {
  file: string;
  message: string;
}

/** One line per problem, always: a key or value quoted in a message may itself span lines. */
export function formatFileProblem(p: FileProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.message.replace(/\s*\n\s*/g, ' ')}`;
}

/** A file that cannot be used; message = all problems, one per line. Code BAD_INPUT. */
export class FileLoadError extends AmtError {
  constructor(readonly problems: FileProblem[]) {
    super('BAD_INPUT', problems.map(formatFileProblem).join('\n'), { problems });
    this.name = 'FileLoadError';
  }
}

export interface ParsedYaml {
  data: unknown;
  /** Position of the value (or, with atKey, of the key) at `path`; the deepest existing node otherwise. */
  locate(path: JsonPath, atKey?: boolean): SourcePos;
}

/** Parse YAML text; syntax errors (and duplicate keys) throw FileLoadError with positions. */
export function parseYamlWithPositions(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourcePos => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length > 0) {
    throw new FileLoadError(doc.errors.slice(0, 5).map((e) => ({ file, ...at(e.pos[0]), message: `YAML: ${cleanYamlMessage(e.message)}` })));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new FileLoadError([{ file, ...yamlValueProblem(doc, e, at) }]);
  }
  return { data, locate: (path, atKey = false) => locatePath(doc, path, atKey, at) };
}

/**
 * `doc.toJS` throws a plain ReferenceError for an alias with no anchor before it (`*x`) and for
 * an alias bomb (more than maxAliasCount expansions); neither shows in `doc.errors`. Turn it into
 * a positioned problem at the first alias (found by the hardening fuzz suite, issue 9).
 */
export function yamlValueProblem(doc: Document, e: unknown, at: (offset: number) => SourcePos): SourcePos & { message: string } {
  let offset = 0;
  visit(doc, {
    Alias(_k, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  const raw = e instanceof Error ? e.message : String(e);
  const message = /Excessive alias count/.test(raw)
    ? 'YAML: too many alias expansions (more than 100): an alias bomb is not accepted'
    : `YAML: ${cleanYamlMessage(raw)}`;
  return { ...at(offset), message };
}

export function cleanYamlMessage(m: string): string {
  // yaml appends " at line N, column M" (and a source excerpt when prettyErrors is on).
  return m.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/** Walk the document along `path`; the deepest node reached gives the position. */
export function locatePath(doc: Document, path: JsonPath, atKey: boolean, at: (offset: number) => SourcePos): SourcePos {
  let node: unknown = doc.contents;
  let keyNode: unknown;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      keyNode = undefined;
      node = item;
    } else break;
  }
  const target = atKey && keyNode ? keyNode : (node ?? keyNode);
  const range = (target as { range?: [number, number, number] } | null)?.range;
  return range ? at(range[0]) : { line: 1, column: 1 };
}

export interface PathProblem {
  path: JsonPath;
  message: string;
  atKey?: boolean;
}

export function pointerToPath(pointer: string): JsonPath {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function showPath(path: JsonPath, root: string): string {
  return path.length ? path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '') : root;
}

/**
 * ajv reports many errors per mistake (every oneOf branch). Keep the most telling one per
 * instance path: unknown key, then missing key, then allowed values merged, then the rest;
 * a path under an already reported deeper path is dropped as noise.
 */
export function describeAjvErrors(errors: ErrorObject[], root = 'the file'): PathProblem[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  const out: PathProblem[] = [];
  const paths = [...byPath.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
  const reported: string[] = [];
  for (const ptr of paths) {
    if (reported.some((r) => r.startsWith(`${ptr}/`))) continue;
    const list = byPath.get(ptr)!.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
    if (list.length === 0) continue;
    const path = pointerToPath(ptr);
    const where = showPath(path, root);
    reported.push(ptr);
    const extra = list.find((e) => e.keyword === 'additionalProperties');
    if (extra) {
      const key = String((extra.params as { additionalProperty: string }).additionalProperty);
      const props = (extra.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
      out.push({ path: [...path, key], atKey: true, message: `unknown key "${key}" in ${where}${props ? ` (allowed: ${Object.keys(props).join(', ')})` : ''}` });
      continue;
    }
    const req = list.find((e) => e.keyword === 'required');
    if (req) {
      out.push({ path, message: `${where} needs "${String((req.params as { missingProperty: string }).missingProperty)}"` });
      continue;
    }
    const values = new Set<string>();
    const types = new Set<string>();
    for (const e of list) {
      if (e.keyword === 'enum') for (const v of (e.params as { allowedValues: unknown[] }).allowedValues) values.add(JSON.stringify(v));
      if (e.keyword === 'const') values.add(JSON.stringify((e.params as { allowedValue: unknown }).allowedValue));
      if (e.keyword === 'type') types.add(String((e.params as { type: string }).type));
    }
    if (values.size > 0) {
      const alt = [...values, ...[...types].map((t) => `a${/^[aeiou]/.test(t) ? 'n' : ''} ${t}`)];
      const list = alt.length > 1 ? `${alt.slice(0, -1).join(', ')} or ${alt[alt.length - 1]}` : alt[0]!;
      out.push({ path, message: `${where} must be ${alt.length > 2 ? 'one of ' : ''}${list}` });
    } else if (types.size > 0) {
      out.push({ path, message: `${where} must be ${[...types].join(' or ').replace(/,/g, ' or ')}` });
    } else {
      const e = list[0]!;
      const pattern = e.keyword === 'pattern' ? ` (got ${JSON.stringify(e.data)})` : '';
      out.push({ path, message: `${where} ${e.message ?? 'is invalid'}${pattern}` });
    }
  }
  return out.slice(0, 10);
}
