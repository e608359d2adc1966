/**
 * The fleet file (`amtemu serve --config fleet.yaml`, schemas/fleet.schema.json): templates ×
 * count with per-device overrides, the fake network and the provisioning server. Loading is
 * three passes — YAML syntax, the JSON Schema, then the rules a schema cannot say (unknown
 * template, duplicate ids or MACs, hashes the firmware would refuse) — and every problem comes
 * back as `file:line:column: message`. Duplicate UUIDs are allowed on purpose: cloned disk
 * images with one SMBIOS UUID are a real provisioning pain point (reference §1.2 hello UUID).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { describeAjvErrors, FileLoadError, parseYamlWithPositions, type FileProblem, type JsonPath } from '../common/yaml-location.js';
import type { FirmwareProfileId } from '../nvram/image.js';
import { addHash, deleteHash, hashAlgorithmOf, normalizeHash, restoreDefaultHashes, setHashActive } from '../nvram/hash-table.js';
import { getProfile } from '../nvram/profiles.js';
import { planAddresses } from '../network/address-plan.js';
import type { DeviceStateName } from './emulator.js';

export interface FleetHashAdd {
  name: string;
  algorithm?: 'SHA1' | 'SHA256' | 'SHA384';
  hash?: string;
  /** The built-in provisioning server's test root (its hash is known only at start-up). */
  root?: 'builtin';
  active?: boolean;
}

/** What a template, a device entry or an override may set; later layers win field by field. */
export interface FleetDeviceFields {
  profile?: FirmwareProfileId;
  state?: DeviceStateName;
  adminPassword?: string;
  uuid?: string;
  macs?: string[];
  hostname?: string;
  mode?: 'Enterprise' | 'SMB';
  trigger?: 'talk' | 'listen';
  remoteConfigTimerHours?: number;
  pkiDnsSuffix?: string;
  domain?: string;
  mebxPassword?: string;
  wiredLan?: boolean;
  helloPort?: number;
  provisioningServer?: { address?: string; fqdn?: string; port?: number };
  hashes?: { add?: FleetHashAdd[]; deactivate?: string[]; remove?: string[] };
}

export interface FleetEntry extends FleetDeviceFields {
  template?: string;
  id?: string;
  count?: number;
  prefix?: string;
  overrides?: Record<string, FleetDeviceFields>;
}

export type FleetTime = 'virtual' | 'real' | { scaled: number };

export type FleetProvisioningServer = 'builtin' | { builtin: { fqdn?: string; adminPassword?: string; helloPort?: number } } | { address: string; port?: number };

/** The file as written (after schema validation). */
export interface FleetFile {
  name?: string;
  seed?: string;
  time?: FleetTime;
  dataDir?: string;
  timeline?: { capacity?: number };
  network?: {
    domain?: string;
    ipBase?: string;
    serverAddress?: string;
    dhcpPort?: number;
    dnsPort?: number;
    transport?: 'kernel' | 'memory';
    dhcp?: { lateDomain?: number; drop?: boolean | Array<'DISCOVER' | 'REQUEST'>; nak?: boolean; delay?: string | number };
  };
  provisioningServer?: FleetProvisioningServer;
  ports?: { http?: number; https?: number; redirection?: number; redirectionTls?: number; rmcp?: number };
  api?: { host?: string; port?: number; token?: string };
  templates?: Record<string, FleetDeviceFields>;
  devices: FleetEntry[];
}

/** One device of the fleet with its layers merged (template, entry, override). */
export interface FleetDevice {
  id: string;
  fields: FleetDeviceFields;
}

export interface LoadedFleet {
  file: string;
  spec: FleetFile;
  devices: FleetDevice[];
  /** Devices that share a UUID with another (allowed; reported so a user sees it was meant). */
  duplicateUuids: Array<{ uuid: string; devices: string[] }>;
}

export const DEFAULT_IP_BASE = '127.77.0.10';
const MAX_DEVICES = 20_000;

let validator: ValidateFunction | undefined;

export function fleetSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL('../../schemas/fleet.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
}

function validate(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(fleetSchema());
  return validator;
}

/** Read and check a fleet file. Throws FileLoadError (code BAD_INPUT) with file:line:column lines. */
export function loadFleetFile(file: string): LoadedFleet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new FileLoadError([{ file, line: 1, column: 1, message: `cannot read fleet file: ${why}` }]);
  }
  return loadFleetText(text, file);
}

export function loadFleetText(text: string, file = '<inline>'): LoadedFleet {
  const { data, locate } = parseYamlWithPositions(text, file);
  if (data === null || data === undefined) throw new FileLoadError([{ file, line: 1, column: 1, message: 'the fleet file is empty (it needs "devices")' }]);
  const v = validate();
  if (!v(data)) {
    const problems = describeAjvErrors(v.errors ?? [], 'the fleet file')
      .map((p) => ({ file, ...locate(p.path, p.atKey), message: p.message }))
      .sort((a, b) => a.line - b.line || a.column - b.column);
    throw new FileLoadError(problems);
  }
  const spec = data as FleetFile;
  const problems: FileProblem[] = [];
  const report = (path: JsonPath, message: string, atKey = false): void => {
    if (problems.length < 20) problems.push({ file, ...locate(path, atKey), message });
  };
  const devices = expand(spec, report);
  if (problems.length > 0) throw new FileLoadError(problems.sort((a, b) => a.line - b.line || a.column - b.column));
  return { file, spec, devices, duplicateUuids: duplicateUuids(devices) };
}

type Report = (path: JsonPath, message: string, atKey?: boolean) => void;

function merge(...layers: Array<FleetDeviceFields | undefined>): FleetDeviceFields {
  const out: FleetDeviceFields = {};
  for (const l of layers) {
    if (!l) continue;
    const { provisioningServer, hashes, ...rest } = l as FleetEntry;
    delete (rest as FleetEntry).template;
    delete (rest as FleetEntry).id;
    delete (rest as FleetEntry).count;
    delete (rest as FleetEntry).prefix;
    delete (rest as FleetEntry).overrides;
    Object.assign(out, rest);
    // Nested objects merge one level: an override can change the port and keep the template's fqdn.
    if (provisioningServer) out.provisioningServer = { ...out.provisioningServer, ...provisioningServer };
    if (hashes) out.hashes = { ...out.hashes, ...hashes };
  }
  return out;
}

function expand(spec: FleetFile, report: Report): FleetDevice[] {
  const templates = spec.templates ?? {};
  const devices: FleetDevice[] = [];
  const seen = new Map<string, JsonPath>();
  const macOwner = new Map<string, string>();
  const builtin = spec.provisioningServer === undefined || spec.provisioningServer === 'builtin' || 'builtin' in spec.provisioningServer;

  spec.devices.forEach((entry, i) => {
    const at: JsonPath = ['devices', i];
    if (entry.template !== undefined && !(entry.template in templates)) {
      const names = Object.keys(templates);
      report([...at, 'template'], `unknown template "${entry.template}" (${names.length ? `have: ${names.join(', ')}` : 'the file has no templates'})`);
      return;
    }
    if (entry.id !== undefined && entry.count !== undefined) {
      report([...at, 'count'], 'a device entry has either "id" (one device) or "count" (a group), not both', true);
      return;
    }
    if (entry.id === undefined && entry.count === undefined) {
      report(at, 'a device entry needs "id" (one device) or "count" (a group)');
      return;
    }
    if (entry.id !== undefined && entry.prefix !== undefined) report([...at, 'prefix'], '"prefix" names the devices of a group; this entry has an "id"', true);
    const template = entry.template !== undefined ? templates[entry.template] : undefined;
    const prefix = entry.prefix ?? entry.template ?? 'pc';
    const ids = entry.id !== undefined ? [entry.id] : Array.from({ length: entry.count! }, (_, k) => `${prefix}${k + 1}`);
    for (const key of Object.keys(entry.overrides ?? {})) {
      if (!ids.includes(key)) report([...at, 'overrides', key], `override for "${key}", which this entry does not make (it makes ${describeIds(ids)})`, true);
    }
    if (entry.macs && ids.length > 1 && !ids.every((id) => entry.overrides?.[id]?.macs)) {
      report([...at, 'macs'], `"macs" on a group of ${ids.length} would give them all the same MAC; set macs per device under "overrides"`, true);
    }
    for (const id of ids) {
      const idPath: JsonPath = entry.id !== undefined ? [...at, 'id'] : [...at, 'count'];
      if (!/^(?!\.{1,2}$)[A-Za-z0-9._-]{1,64}$/.test(id)) {
        report(idPath, `device id "${id}" is not usable (1–64 of A-Z a-z 0-9 . _ -)`);
        continue;
      }
      const prev = seen.get(id);
      if (prev) {
        report(idPath, `device id "${id}" is already used by devices[${String(prev[1])}]${entry.id === undefined ? '; give this group its own "prefix"' : ''}`, true);
        continue;
      }
      seen.set(id, at);
      const override = entry.overrides?.[id];
      const fields = merge(template, entry, override);
      // Where a field came from, for positions: the override, else the entry, else the template.
      const origin = (key: keyof FleetDeviceFields): JsonPath =>
        override?.[key] !== undefined ? [...at, 'overrides', id, key] : (entry as FleetDeviceFields)[key] !== undefined ? [...at, key] : ['templates', entry.template ?? '', key];
      for (const mac of fields.macs ?? []) {
        const norm = mac.toLowerCase().replace(/-/g, ':');
        const owner = macOwner.get(norm);
        if (owner) report(origin('macs'), `MAC ${norm} of ${id} is already ${owner}'s (the fake DHCP server reserves addresses by MAC)`);
        else macOwner.set(norm, id);
      }
      checkHashes(id, fields, builtin, origin, report);
      devices.push({ id, fields });
    }
  });

  if (devices.length > MAX_DEVICES) report(['devices'], `the fleet has ${devices.length} devices; at most ${MAX_DEVICES}`, true);
  const ipBase = spec.network?.ipBase ?? DEFAULT_IP_BASE;
  const plan = planAddresses(ipBase, Math.min(devices.length, MAX_DEVICES));
  if (!plan.ok) report(spec.network?.ipBase ? ['network', 'ipBase'] : ['devices'], plan.message.replace('--ip-base', 'network.ipBase'));
  return devices;
}

function describeIds(ids: string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids[0]} … ${ids[ids.length - 1]}`;
}

const hashCheckCache = new Map<string, string | undefined>();

/** Dry-run the hash edits on the profile's factory table, so a refused hash fails at load time. */
function checkHashes(id: string, f: FleetDeviceFields, builtin: boolean, origin: (k: keyof FleetDeviceFields) => JsonPath, report: Report): void {
  if (!f.hashes) return;
  const key = JSON.stringify([f.profile ?? 'amt16', f.hashes, builtin]);
  if (!hashCheckCache.has(key)) {
    hashCheckCache.set(key, hashProblem(f, builtin));
    if (hashCheckCache.size > 1000) hashCheckCache.delete(hashCheckCache.keys().next().value!);
  }
  const problem = hashCheckCache.get(key);
  if (problem) report(origin('hashes'), `${id}: ${problem}`);
}

function hashProblem(f: FleetDeviceFields, builtin: boolean): string | undefined {
  const profile = getProfile(f.profile ?? 'amt16');
  let table = restoreDefaultHashes(profile);
  const step = (what: string, fn: () => void): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (e) {
      return `${what}: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  for (const k of f.hashes?.deactivate ?? []) {
    const p = step(`hashes.deactivate "${k}"`, () => {
      table = k === 'all' ? table.map((e) => ({ ...e, isActive: false })) : setHashActive(table, k, false);
    });
    if (p) return p;
  }
  for (const k of f.hashes?.remove ?? []) {
    const p = step(`hashes.remove "${k}"`, () => {
      table = deleteHash(table, k);
    });
    if (p) return p;
  }
  for (const [i, h] of (f.hashes?.add ?? []).entries()) {
    if ((h.hash === undefined) === (h.root === undefined)) return `hashes.add[${i}] needs exactly one of "hash" or "root"`;
    if (h.root === 'builtin' && !builtin) return `hashes.add[${i}]: root "builtin" needs provisioningServer: builtin`;
    // Written without an algorithm: the hash's length says it (as in MEBx), a root reference is SHA-256.
      const algorithm = h.algorithm ?? (h.hash !== undefined ? hashAlgorithmOf(h.hash) : undefined) ?? 'SHA256';
    const p = step(`hashes.add[${i}]`, () => {
      const hash = h.hash !== undefined ? normalizeHash(h.hash, algorithm) : 'ab'.repeat(algorithm === 'SHA1' ? 20 : algorithm === 'SHA256' ? 32 : 48);
      table = addHash(table, profile, { name: h.name, algorithm, hash, isActive: h.active ?? true });
    });
    if (p) return p;
  }
  return undefined;
}

function duplicateUuids(devices: FleetDevice[]): LoadedFleet['duplicateUuids'] {
  const by = new Map<string, string[]>();
  for (const d of devices) {
    if (!d.fields.uuid) continue;
    const u = d.fields.uuid.toLowerCase();
    by.set(u, [...(by.get(u) ?? []), d.id]);
  }
  return [...by].filter(([, ids]) => ids.length > 1).map(([uuid, ids]) => ({ uuid, devices: ids }));
}
