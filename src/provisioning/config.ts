/**
 * `amtemu provision-server --config FILE`: the YAML file that names the server's profiles,
 * provisioning chains (PEM files, leaf first) and optional TLS CA. Validated with ajv; every
 * problem is reported as `file:line: message`.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { AmtError, isAmtError } from '../common/errors.js';
import { certHashes, pemToDerList } from '../pki/hashes.js';
import type { ProvisioningChain } from './chain-select.js';
import type { ProvisioningProfileConfig } from './server.js';
import type { TlsCa } from './tls-setup.js';
import { yamlValueProblem } from '../common/yaml-location.js';

export interface ProvisioningFileConfig {
  helloPort: number;
  bind: string;
  deviceWsmanPort: number;
  wsmanTimeoutMs?: number;
  deviceTls?: { ciphers?: string; minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' };
  profiles: ProvisioningProfileConfig[];
  chains: ProvisioningChain[];
  tlsCa?: TlsCa;
}

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
// AMT password rule (MeshCentral checkAmtPassword): ≥ 8, a digit, a lower, an upper, a non-alphanumeric.
const AMT_PASSWORD = '^(?=.*\\d)(?=.*[a-z])(?=.*[A-Z])(?=.*[^A-Za-z0-9]).{8,32}$';

/** Where the hello listener binds when neither the file (bind:) nor --bind says. */
export const DEFAULT_BIND = '127.0.0.1';

export const PROVISIONING_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['profiles', 'chains'],
  properties: {
    helloPort: { type: 'integer', minimum: 0, maximum: 65535 },
    bind: { type: 'string', minLength: 1, description: 'listen address for hellos (default 127.0.0.1; 0.0.0.0 for every interface)' },
    deviceWsmanPort: { type: 'integer', minimum: 1, maximum: 65535 },
    wsmanTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
    deviceTls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ciphers: { type: 'string', minLength: 1 },
        minVersion: { enum: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] },
      },
    },
    profiles: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'adminPassword', 'mebxPassword'],
        properties: {
          name: { type: 'string', minLength: 1 },
          adminPassword: { type: 'string', pattern: AMT_PASSWORD },
          mebxPassword: { type: 'string', pattern: AMT_PASSWORD },
          tls: { type: 'boolean' },
          match: {
            type: 'object',
            additionalProperties: false,
            properties: { uuids: { type: 'array', items: { type: 'string', pattern: UUID } } },
          },
        },
      },
    },
    chains: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['chain', 'key'],
        properties: {
          name: { type: 'string', minLength: 1 },
          chain: { type: 'string', minLength: 1, description: 'PEM file, leaf first' },
          key: { type: 'string', minLength: 1, description: 'PEM private key of the leaf' },
          root: { type: 'string', minLength: 1, description: 'root PEM when the chain file does not end with it' },
        },
      },
    },
    tlsCa: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key'],
      properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
    },
  },
} as const;

interface RawConfig {
  helloPort?: number;
  bind?: string;
  deviceWsmanPort?: number;
  wsmanTimeoutMs?: number;
  deviceTls?: { ciphers?: string; minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' };
  profiles: Array<{ name: string; adminPassword: string; mebxPassword: string; tls?: boolean; match?: { uuids?: string[] } }>;
  chains: Array<{ name?: string; chain: string; key: string; root?: string }>;
  tlsCa?: { cert: string; key: string };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile<RawConfig>(PROVISIONING_CONFIG_SCHEMA);

function bad(file: string, line: number | undefined, message: string): AmtError {
  return new AmtError('BAD_INPUT', `${file}${line ? `:${line}` : ''}: ${message}`);
}

function lineOf(doc: Document, lc: LineCounter, path: string[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function ajvMessage(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'config';
  if (e.keyword === 'additionalProperties') return `${where}: unknown key "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'required') return `${where}: missing "${String(e.params.missingProperty)}"`;
  if (e.keyword === 'pattern' && /Password$/.test(where)) return `${where}: an AMT password needs 8–32 characters with a digit, a lower-case and an upper-case letter and a symbol`;
  return `${where}: ${e.message ?? e.keyword}`;
}

/** A PEM private key as a KeyObject, or why not (encrypted, garbage between the markers, …). */
function privateKey(pem: string): KeyObject | string {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Does the key belong to the certificate? A leaf key from another chain is otherwise only found
 * at the first TLS handshake, where every device then fails with "key values mismatch".
 * Returns undefined (it matches), MISMATCH, or why the check could not be made.
 */
const MISMATCH = 'mismatch';
function keyMismatch(certDer: Buffer, key: KeyObject): string | undefined {
  try {
    return new X509Certificate(certDer).checkPrivateKey(key) ? undefined : MISMATCH;
  } catch (e) {
    return (e as Error).message;
  }
}

function readPem(file: string, base: string, what: string, line: number | undefined): string {
  const p = resolve(base, what);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw bad(file, line, `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function loadProvisioningConfigText(text: string, file = '<inline>', baseDir = process.cwd()): ProvisioningFileConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw bad(file, lc.linePos(e.pos[0]).line, e.message.split('\n')[0] ?? 'YAML syntax error');
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // An alias without anchor or an alias bomb throws a plain ReferenceError (issue 9 fuzz).
    const p = yamlValueProblem(doc, e, (offset) => ({ line: lc.linePos(offset).line, column: lc.linePos(offset).col }));
    throw bad(file, p.line, p.message);
  }
  if (!validate(data)) {
    const e = validate.errors![0]!;
    const path = e.instancePath.split('/').slice(1);
    // An unknown key: point at the key's own line, not at the start of its map.
    if (e.keyword === 'additionalProperties') path.push(String(e.params.additionalProperty));
    throw bad(file, lineOf(doc, lc, path), ajvMessage(e));
  }
  const names = new Set<string>();
  data.profiles.forEach((p, i) => {
    if (names.has(p.name)) throw bad(file, lineOf(doc, lc, ['profiles', String(i), 'name']), `profiles.${i}.name: duplicate profile "${p.name}"`);
    names.add(p.name);
  });
  if (data.profiles.some((p) => p.tls) && !data.tlsCa) {
    throw bad(file, lineOf(doc, lc, ['profiles']), 'a profile has tls: true, so tlsCa (cert, key) is required to sign device certificates');
  }
  const chains: ProvisioningChain[] = data.chains.map((c, i) => {
    const line = lineOf(doc, lc, ['chains', String(i)]);
    const at = (k: string): number | undefined => lineOf(doc, lc, ['chains', String(i), k]);
    const chainPem = readPem(file, baseDir, c.chain, at('chain'));
    const keyPem = readPem(file, baseDir, c.key, at('key'));
    let ders: Buffer[];
    try {
      ders = pemToDerList(chainPem, c.chain);
    } catch (e) {
      throw bad(file, at('chain'), (e as Error).message);
    }
    let rootDer = ders[ders.length - 1]!;
    if (c.root) {
      try {
        rootDer = pemToDerList(readPem(file, baseDir, c.root, at('root')), c.root)[0]!;
      } catch (e) {
        throw isAmtError(e) && e.message.startsWith(file) ? e : bad(file, at('root'), (e as Error).message);
      }
    }
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(keyPem)) throw bad(file, at('key') ?? line, `${c.key} is not a PEM private key`);
    const key = privateKey(keyPem);
    if (typeof key === 'string') throw bad(file, at('key') ?? line, `chains.${i}.key: cannot read ${c.key} as a private key (${key})`);
    const mismatch = keyMismatch(ders[0]!, key);
    if (mismatch === MISMATCH) throw bad(file, at('key') ?? line, `chains.${i}.key: ${c.key} does not match the leaf certificate (the first one in ${c.chain}); give the key the leaf was issued for`);
    if (mismatch) throw bad(file, at('key') ?? line, `chains.${i}.key: cannot check ${c.key} against the leaf certificate of ${c.chain}: ${mismatch}`);
    return { name: c.name ?? `chain ${i}`, chainPem, keyPem, rootHashes: certHashes(rootDer) };
  });
  const out: ProvisioningFileConfig = {
    helloPort: data.helloPort ?? 9971,
    // Loopback unless asked (bind: 0.0.0.0 or --bind), like the control API: a test server
    // that configures any PC saying hello should not be reachable from the LAN by accident.
    bind: data.bind ?? DEFAULT_BIND,
    deviceWsmanPort: data.deviceWsmanPort ?? 16993,
    profiles: data.profiles.map((p) => ({ name: p.name, adminPassword: p.adminPassword, mebxPassword: p.mebxPassword, tls: p.tls ?? false, ...(p.match ? { match: p.match } : {}) })),
    chains,
  };
  if (data.wsmanTimeoutMs !== undefined) out.wsmanTimeoutMs = data.wsmanTimeoutMs;
  if (data.deviceTls) out.deviceTls = { ...data.deviceTls };
  if (data.tlsCa) {
    const line = lineOf(doc, lc, ['tlsCa']);
    const at = (k: string): number | undefined => lineOf(doc, lc, ['tlsCa', k]) ?? line;
    const certPem = readPem(file, baseDir, data.tlsCa.cert, at('cert'));
    const keyPem = readPem(file, baseDir, data.tlsCa.key, at('key'));
    let certDer: Buffer;
    try {
      certDer = pemToDerList(certPem, data.tlsCa.cert)[0]!;
    } catch (e) {
      throw bad(file, at('cert'), `tlsCa.cert: ${(e as Error).message}`);
    }
    const key = privateKey(keyPem);
    if (typeof key === 'string') throw bad(file, at('key'), `tlsCa.key: cannot read ${data.tlsCa.key} as a private key (${key})`);
    const mismatch = keyMismatch(certDer, key);
    if (mismatch === MISMATCH) throw bad(file, at('key'), `tlsCa.key: ${data.tlsCa.key} does not match the CA certificate ${data.tlsCa.cert}`);
    if (mismatch) throw bad(file, at('key'), `tlsCa.key: cannot check ${data.tlsCa.key} against ${data.tlsCa.cert}: ${mismatch}`);
    out.tlsCa = { certPem, keyPem };
  }
  return out;
}

export function loadProvisioningConfigFile(file: string): ProvisioningFileConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AmtError('BAD_INPUT', `${file}: cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return loadProvisioningConfigText(text, file, dirname(resolve(file)));
}
