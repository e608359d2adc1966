/**
 * The MEBx screens as one table of named operations, so the CLI (`amtemu mebx <op>`), the control
 * API (`POST /api/devices/:id/mebx/:op`) and scenario steps (`mebx:`) take the same parameters and
 * refuse the same input in the same words. The rules themselves live in src/device/mebx.ts; this
 * file only checks that the parameters are present and of the right kind, then calls them.
 */
import { AmtError } from '../common/errors.js';
import type { HashAlgorithm } from '../nvram/image.js';
import { hashAlgorithmOf } from '../nvram/hash-table.js';
import type { AmtDevice } from './device.js';
import {
  mebxActivateNetwork, mebxAddHash, mebxChangePassword, mebxSetDomain, mebxSetHashActive, mebxSetHostname, mebxSetPidPps,
  mebxSetPkiDnsSuffix, mebxSetProvisioningMode, mebxSetProvisioningServer, mebxUnprovision,
} from './mebx.js';

export interface MebxParam {
  name: string;
  /** 'port' is an integer 1-65535; everything else a MEBx text field. */
  kind: 'text' | 'port';
  optional?: boolean;
  /** A closed set of values, matched case-insensitively and passed on in this spelling. */
  oneOf?: readonly string[];
  description: string;
}

export interface MebxOperation {
  op: string;
  description: string;
  params: readonly MebxParam[];
  run(device: AmtDevice, password: string, p: Readonly<Record<string, string | number | undefined>>): void;
}

const text = (name: string, description: string, extra: Partial<MebxParam> = {}): MebxParam => ({ name, kind: 'text', description, ...extra });

/** A custom hash's algorithm follows from its length; another length is checked as SHA-256 (and refused there). */
function algorithmOf(hash: string): HashAlgorithm {
  return hashAlgorithmOf(hash) ?? 'SHA256';
}

const s = (v: string | number | undefined): string => String(v ?? '');

export const MEBX_OPERATIONS: readonly MebxOperation[] = [
  {
    op: 'password', description: "change the MEBx password (the first login forces changing 'admin')",
    params: [text('newPassword', 'the new strong password')],
    run: (d, pw, p) => mebxChangePassword(d, pw, s(p['newPassword'])),
  },
  { op: 'hostname', description: 'set the host name', params: [text('hostname', 'one DNS label')], run: (d, pw, p) => mebxSetHostname(d, pw, s(p['hostname'])) },
  { op: 'domain', description: "set the domain name ('' clears)", params: [text('domain', 'DNS domain')], run: (d, pw, p) => mebxSetDomain(d, pw, s(p['domain'])) },
  {
    op: 'pki-dns-suffix', description: "set the PKI DNS suffix ('' clears)", params: [text('suffix', 'PKI DNS suffix')],
    run: (d, pw, p) => mebxSetPkiDnsSuffix(d, pw, s(p['suffix'])),
  },
  {
    op: 'provisioning-server', description: 'set the provisioning server: IPv4 address or FQDN, and port (empty string clears)',
    params: [text('server', 'IPv4 address or FQDN'), { name: 'port', kind: 'port', optional: true, description: 'hello port (default 9971)' }],
    run: (d, pw, p) => {
      const host = s(p['server']);
      const isIp = /^[0-9.]+$/.test(host);
      const port = typeof p['port'] === 'number' ? p['port'] : undefined;
      mebxSetProvisioningServer(d, pw, { ...(isIp ? { address: host } : { fqdn: host }), ...(port !== undefined ? { port } : {}) });
    },
  },
  {
    op: 'pid-pps', description: 'enter the TLS-PSK PID and PPS (AMT before 11 only)',
    params: [text('pid', 'provisioning ID, 8 characters'), text('pps', 'provisioning passphrase, 32 characters')],
    run: (d, pw, p) => mebxSetPidPps(d, pw, s(p['pid']), s(p['pps'])),
  },
  {
    op: 'hash-add', description: 'add a custom trusted-root hash (active)',
    params: [text('name', 'friendly name'), text('hash', 'hex SHA-1/256/384 of the root certificate')],
    run: (d, pw, p) => mebxAddHash(d, pw, { name: s(p['name']), algorithm: algorithmOf(s(p['hash'])), hash: s(p['hash']) }),
  },
  { op: 'hash-activate', description: 'activate a hash entry (name or hash)', params: [text('key', 'name or hash')], run: (d, pw, p) => mebxSetHashActive(d, pw, s(p['key']), true) },
  { op: 'hash-deactivate', description: 'deactivate a hash entry (name or hash)', params: [text('key', 'name or hash')], run: (d, pw, p) => mebxSetHashActive(d, pw, s(p['key']), false) },
  {
    op: 'mode', description: 'choose the provisioning model: SMB (before AMT 6) or Enterprise',
    params: [text('mode', 'SMB or Enterprise', { oneOf: ['SMB', 'Enterprise'] })],
    run: (d, pw, p) => mebxSetProvisioningMode(d, pw, s(p['mode']) as 'SMB' | 'Enterprise'),
  },
  { op: 'activate', description: 'activate network access (SMB: configured; Enterprise: opens the hello window)', params: [], run: (d, pw) => mebxActivateNetwork(d, pw) },
  {
    op: 'unprovision', description: 'partial (keeps PID/PPS) or full (factory) unprovision',
    params: [text('kind', 'partial or full', { oneOf: ['partial', 'full'] })],
    run: (d, pw, p) => mebxUnprovision(d, pw, s(p['kind']) as 'partial' | 'full'),
  },
];

export const MEBX_OP_NAMES: readonly string[] = MEBX_OPERATIONS.map((o) => o.op);

export function findMebxOperation(op: string): MebxOperation | undefined {
  return MEBX_OPERATIONS.find((o) => o.op === op);
}

/**
 * Check `raw` against the operation's parameters: every required one present, no unknown ones,
 * text as strings (numbers are accepted and written as text, YAML turns `hostname: 1234` into one),
 * ports as integers 1-65535 (or digit strings, as a CLI hands them over), closed sets by value.
 */
export function checkMebxParams(o: MebxOperation, raw: Readonly<Record<string, unknown>>): Record<string, string | number | undefined> {
  const known = new Set(o.params.map((p) => p.name));
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    const expected = o.params.length > 0 ? `; it takes ${o.params.map((p) => p.name).join(', ')}` : '; it takes none';
    throw new AmtError('BAD_INPUT', `mebx ${o.op}: unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}${expected}`);
  }
  const out: Record<string, string | number | undefined> = {};
  for (const p of o.params) {
    const v = raw[p.name];
    if (v === undefined || v === null) {
      if (!p.optional) throw new AmtError('BAD_INPUT', `mebx ${o.op}: missing ${p.name} (${p.description})`);
      continue;
    }
    if (p.kind === 'port') {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new AmtError('BAD_INPUT', `mebx ${o.op}: ${p.name} must be a port 1-65535, got ${JSON.stringify(v)}`);
      out[p.name] = n;
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number') throw new AmtError('BAD_INPUT', `mebx ${o.op}: ${p.name} must be text, got ${Array.isArray(v) ? 'a list' : typeof v}`);
    const str = String(v);
    if (p.oneOf) {
      const hit = p.oneOf.find((c) => c.toLowerCase() === str.toLowerCase());
      if (!hit) throw new AmtError('BAD_INPUT', `mebx ${o.op}: ${p.name} '${str}' is not one of ${p.oneOf.join(', ')}`);
      out[p.name] = hit;
    } else {
      out[p.name] = str;
    }
  }
  return out;
}

/** Run one MEBx operation by name; a bad name or parameter is BAD_INPUT, a firmware refusal keeps its own code. */
export function runMebxOperation(device: AmtDevice, op: string, password: string, raw: Readonly<Record<string, unknown>>): void {
  const o = findMebxOperation(op);
  if (!o) throw new AmtError('BAD_INPUT', `mebx: unknown operation '${op}'; one of ${MEBX_OP_NAMES.join(', ')}`);
  if (typeof password !== 'string') throw new AmtError('BAD_INPUT', `mebx ${op}: password must be text`);
  o.run(device, password, checkMebxParams(o, raw));
}
