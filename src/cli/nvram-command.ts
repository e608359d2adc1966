/**
 * `amtemu nvram …`: create, inspect and edit device NVRAM images offline — the emulator's
 * equivalent of the OEM factory tool, the MEBx menus and a setup.bin USB key. Every value goes
 * through the same rules the firmware applies (reference §2.2, §4.1–§4.2) and the image schema;
 * errors are AmtErrors that main.ts prints as one line.
 */
import { Command, Option } from 'commander';
import { AmtError } from '../common/errors.js';
import { createFactoryImage } from '../nvram/defaults.js';
import { addHash, deleteHash, hashAlgorithmOf, restoreDefaultHashes, setHashActive, withHashes } from '../nvram/hash-table.js';
import type { HashAlgorithm, NvramImage } from '../nvram/image.js';
import { FIRMWARE_PROFILE_IDS, getProfile } from '../nvram/profiles.js';
import { DOMAIN_PATTERN, HOSTNAME_PATTERN, IPV4_PATTERN, MAC_PATTERN, MAX_PKI_DNS_SUFFIX } from '../nvram/schema.js';
import { refuseWhileServed } from '../nvram/data-dir-lock.js';
import { NvramStore } from '../nvram/store.js';

export const DEFAULT_DATA_DIR = './.amtemu';

export interface NvramCommandIo {
  out: (text: string) => void;
}

const defaultIo: NvramCommandIo = { out: (t) => void process.stdout.write(t) };

const bad = (message: string, detail?: Record<string, unknown>): never => {
  throw new AmtError('BAD_INPUT', message, detail);
};

// ---- value parsers: the firmware's rules where it has them --------------------------------

function parseDomain(field: string, v: string, max = 253): string {
  const s = v.trim().replace(/\.$/, '');
  if (s.length > max) bad(`${field}: at most ${max} characters, got ${s.length}`);
  if (!DOMAIN_PATTERN.test(s)) bad(`${field}: '${v}' is not a DNS name (labels of letters, digits and '-', dot-separated)`);
  return s.toLowerCase();
}

function parseInteger(field: string, v: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(v.trim())) bad(`${field}: '${v}' is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) bad(`${field}: ${n} is out of range ${min}-${max}`);
  return n;
}

function parseBool(field: string, v: string): boolean {
  const s = v.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(s)) return true;
  if (['false', 'no', 'off', '0'].includes(s)) return false;
  return bad(`${field}: '${v}' is not true/false`);
}

function parseChoice<T extends string>(field: string, v: string, choices: readonly T[]): T {
  const hit = choices.find((c) => c.toLowerCase() === v.trim().toLowerCase());
  return hit ?? bad(`${field}: '${v}' is not one of ${choices.join(', ')}`);
}

function parseMac(v: string): string {
  const m = v.trim().toLowerCase().replace(/-/g, ':');
  if (!MAC_PATTERN.test(m)) bad(`MAC '${v}' is not six hex octets like 00:1a:2b:3c:4d:5e`);
  return m;
}

type Setter = { describe: string; apply: (img: NvramImage, value: string) => NvramImage };

/** The fields `nvram set` may change. Identity and secrets are not here: the lifecycle owns those. */
export const SETTABLE_FIELDS: Record<string, Setter> = {
  'setup.pkiDnsSuffix': {
    describe: `MEBx PKI DNS Suffix, ≤ ${MAX_PKI_DNS_SUFFIX} chars (CFG_SetPkiFQDNSuffix); '' clears`,
    apply: (img, v) => ({ ...img, setup: { ...img.setup, pkiDnsSuffix: v === '' ? '' : parseDomain('setup.pkiDnsSuffix', v, MAX_PKI_DNS_SUFFIX) } }),
  },
  'setup.provisioningServer.address': {
    describe: "SCA static IPv4 address (locating method 1); '' clears",
    apply: (img, v) => {
      const ps = { ...img.setup.provisioningServer };
      if (v === '') delete ps.address;
      else if (!IPV4_PATTERN.test(v.trim())) bad(`setup.provisioningServer.address: '${v}' is not an IPv4 address`);
      else ps.address = v.trim();
      return { ...img, setup: { ...img.setup, provisioningServer: ps } };
    },
  },
  'setup.provisioningServer.fqdn': {
    describe: "SCA FQDN (locating method 2a); '' clears",
    apply: (img, v) => {
      const ps = { ...img.setup.provisioningServer };
      if (v === '') delete ps.fqdn;
      else ps.fqdn = parseDomain('setup.provisioningServer.fqdn', v);
      return { ...img, setup: { ...img.setup, provisioningServer: ps } };
    },
  },
  'setup.provisioningServer.port': {
    describe: 'port the hello goes to, 1-65535 (default 9971)',
    apply: (img, v) => ({
      ...img,
      setup: { ...img.setup, provisioningServer: { ...img.setup.provisioningServer, port: parseInteger('setup.provisioningServer.port', v, 1, 65535) } },
    }),
  },
  'setup.homeDomains': {
    describe: "comma-separated trusted home domains; '' clears",
    apply: (img, v) => ({
      ...img,
      setup: { ...img.setup, homeDomains: v.trim() === '' ? [] : v.split(',').map((d) => parseDomain('setup.homeDomains', d)) },
    }),
  },
  'setup.provisionHalt': {
    describe: 'ME Provision Halt Active (setup.bin var 28), true/false',
    apply: (img, v) => ({ ...img, setup: { ...img.setup, provisionHalt: parseBool('setup.provisionHalt', v) } }),
  },
  'network.hostname': {
    describe: 'host name, one DNS label',
    apply: (img, v) => {
      if (!HOSTNAME_PATTERN.test(v)) bad(`network.hostname: '${v}' is not a host name (1-63 letters, digits, '-')`);
      return { ...img, network: { ...img.network, hostname: v } };
    },
  },
  'network.domain': {
    describe: "MEBx domain name; '' clears",
    apply: (img, v) => ({ ...img, network: { ...img.network, domain: v === '' ? '' : parseDomain('network.domain', v) } }),
  },
  'network.wiredLan': {
    describe: 'platform has a wired LAN port, true/false',
    apply: (img, v) => ({ ...img, network: { ...img.network, wiredLan: parseBool('network.wiredLan', v) } }),
  },
  macs: {
    describe: 'comma-separated MACs, wired first',
    apply: (img, v) => ({ ...img, macs: parseMacList(v) }),
  },
  'provisioning.remoteConfigTimerHours': {
    describe: 'OEM remote-configuration timer, 0-255 h (0 = never send hellos)',
    apply: (img, v) => ({ ...img, provisioning: { ...img.provisioning, remoteConfigTimerHours: parseInteger('provisioning.remoteConfigTimerHours', v, 0, 255) } }),
  },
  'provisioning.mode': {
    describe: 'Enterprise | SMB',
    apply: (img, v) => ({ ...img, provisioning: { ...img.provisioning, mode: parseChoice('provisioning.mode', v, ['Enterprise', 'SMB'] as const) } }),
  },
  'provisioning.trigger': {
    describe: 'talk (send hellos) | listen (wait for an agent)',
    apply: (img, v) => ({ ...img, provisioning: { ...img.provisioning, trigger: parseChoice('provisioning.trigger', v, ['talk', 'listen'] as const) } }),
  },
  'provisioning.zeroTouchEnabled': {
    describe: 'remote configuration (zero touch) enabled, true/false',
    apply: (img, v) => ({ ...img, provisioning: { ...img.provisioning, zeroTouchEnabled: parseBool('provisioning.zeroTouchEnabled', v) } }),
  },
};

// ---- rendering --------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}

export function renderImage(img: NvramImage, file: string): string {
  const ps = img.setup.provisioningServer;
  const server = [ps.address, ps.fqdn].filter(Boolean).join(' / ') || '(DNS: provisionserver.<domain>)';
  const lines = [
    `device      ${img.deviceId}   (${file}, generation ${img.generation})`,
    `firmware    ${img.firmware.profile} ${img.firmware.version}`,
    `state       ${img.provisioning.state} / control mode ${img.provisioning.controlMode}`,
    `mode        ${img.provisioning.mode}, trigger ${img.provisioning.trigger}, timer ${img.provisioning.remoteConfigTimerHours} h, zero touch ${img.provisioning.zeroTouchEnabled ? 'on' : 'off'}`,
    `window      ${img.provisioning.window.kind} (${img.provisioning.window.hellosSent} hellos, bare metal ${img.provisioning.window.bareMetalUsed ? 'used' : 'unused'})`,
    `uuid        ${img.uuid}`,
    `macs        ${img.macs.join(', ') || '(none)'}`,
    `host        ${img.network.hostname}${img.network.domain ? '.' + img.network.domain : ''}${img.network.wiredLan ? '' : ' (wireless only)'}`,
    `pki suffix  ${img.setup.pkiDnsSuffix || '(not set)'}`,
    `server      ${server} port ${ps.port}`,
    `realm       ${img.digestRealm}`,
    `mebx        password ${img.mebx.passwordChanged ? 'changed' : 'factory default'}`,
    `audit       ${img.auditRecord ? `${img.auditRecord.kind} at ${img.auditRecord.time}` : '(none)'}`,
    '',
    `trusted root hashes (${img.certHashes.length}, ${img.certHashes.filter((h) => h.isActive).length} active):`,
  ];
  const rows = [['#', 'name', 'alg', 'default', 'active', 'hash']];
  img.certHashes.forEach((h, i) => rows.push([String(i), h.name, h.algorithm, h.isDefault ? 'yes' : 'no', h.isActive ? 'yes' : 'no', h.hash]));
  return lines.join('\n') + '\n' + table(rows);
}

// ---- commands ---------------------------------------------------------------------------

function storeOf(cmd: Command): NvramStore {
  const opts = cmd.optsWithGlobals<{ dataDir?: string }>();
  return new NvramStore(opts.dataDir ?? DEFAULT_DATA_DIR);
}

/**
 * The store for a command that writes: refused (NVRAM_LOCKED) while `amtemu serve` runs on the
 * directory, since the fleet writes its in-memory images back and the change would be lost.
 */
function writableStoreOf(cmd: Command): NvramStore {
  const store = storeOf(cmd);
  refuseWhileServed(store.dataDir);
  return store;
}

function withDataDir(cmd: Command): Command {
  return cmd.option('--data-dir <dir>', 'directory holding <deviceId>.nvram.json files', DEFAULT_DATA_DIR);
}

/** A PC has at least one MAC (DHCP needs one) and no MAC twice. */
function parseMacList(v: string): string[] {
  if (v.trim() === '') bad('macs: a PC has at least one MAC (wired first, comma-separated)');
  const macs = v.split(',').map(parseMac);
  const dup = macs.find((m, i) => macs.indexOf(m) !== i);
  if (dup) bad(`macs: ${dup} is listed twice`);
  return macs;
}

function algorithmFor(hash: string, given: string | undefined): HashAlgorithm {
  if (given) return parseChoice('--algorithm', given, ['SHA1', 'SHA256', 'SHA384'] as const);
  return hashAlgorithmOf(hash) ?? bad(`cannot tell the algorithm of a ${hash.replace(/[:\s]/g, '').length / 2}-byte hash; give --algorithm (SHA1 = 20, SHA256 = 32, SHA384 = 48 bytes)`);
}

export function registerNvramCommands(program: Command, io: NvramCommandIo = defaultIo): void {
  const nvram = program.command('nvram').description('create, show and edit device NVRAM images');

  withDataDir(nvram.command('init').argument('<deviceId>', 'device id (file name stem)'))
    .description('create a factory (Pre-provisioning) image')
    .addOption(new Option('--profile <profile>', 'firmware profile').choices(FIRMWARE_PROFILE_IDS).default('amt16'))
    .option('--uuid <uuid>', 'SMBIOS UUID (default: derived from the device id)')
    .option('--mac <mac>', 'MAC address, repeatable, wired first (default: derived)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--hostname <name>', 'host name (default: derived from the device id)')
    .option('--seed <seed>', 'make realm, LSA password and nonce reproducible')
    .option('--force', 'replace an existing image')
    .action(function (this: Command, deviceId: string) {
      const o = this.opts<{ profile: string; uuid?: string; mac?: string[]; hostname?: string; seed?: string; force?: boolean }>();
      const store = writableStoreOf(this);
      if (store.exists(deviceId) && !o.force) bad(`${store.path(deviceId)} already exists; add --force to replace it with a factory image`);
      const profile = getProfile(o.profile);
      const image = createFactoryImage({
        deviceId,
        profile: profile.id,
        ...(o.uuid !== undefined && { uuid: o.uuid }),
        ...(o.mac !== undefined && { macs: o.mac.map(parseMac) }),
        ...(o.hostname !== undefined && { hostname: o.hostname }),
        ...(o.seed !== undefined && { seed: o.seed }),
      });
      const saved = store.save(image);
      io.out(`created ${store.path(deviceId)}: ${profile.id} ${saved.firmware.version}, uuid ${saved.uuid}, ${saved.certHashes.length} default hashes\n`);
    });

  withDataDir(nvram.command('show').argument('<deviceId>'))
    .description('print an image (summary, or --json for the whole file)')
    .option('--json', 'print the image as JSON')
    .action(function (this: Command, deviceId: string) {
      const store = storeOf(this);
      const img = store.load(deviceId);
      io.out(this.opts<{ json?: boolean }>().json ? JSON.stringify(img, null, 2) + '\n' : renderImage(img, store.path(deviceId)));
    });

  withDataDir(nvram.command('list')).description('list device images in the data directory').action(function (this: Command) {
    const store = storeOf(this);
    const rows = [['device', 'profile', 'state', 'mode', 'uuid']];
    for (const id of store.list()) {
      try {
        const img = store.load(id);
        rows.push([id, img.firmware.profile, `${img.provisioning.state}/${img.provisioning.controlMode}`, img.provisioning.mode, img.uuid]);
      } catch (e) {
        rows.push([id, '?', 'DAMAGED', '', e instanceof AmtError ? e.code : 'error']);
      }
    }
    io.out(rows.length === 1 ? `no images in ${store.dataDir}\n` : table(rows));
  });

  withDataDir(nvram.command('set').argument('<deviceId>').argument('<field>').argument('<value>'))
    .description(`change one setting; fields:\n${Object.entries(SETTABLE_FIELDS).map(([f, s]) => `  ${f.padEnd(38)} ${s.describe}`).join('\n')}`)
    .action(function (this: Command, deviceId: string, field: string, value: string) {
      const setter = SETTABLE_FIELDS[field] ?? bad(`'${field}' cannot be set; settable fields: ${Object.keys(SETTABLE_FIELDS).join(', ')}`);
      const store = writableStoreOf(this);
      const saved = store.save(setter.apply(store.load(deviceId), value));
      io.out(`${deviceId}: ${field} = ${JSON.stringify(value)} (generation ${saved.generation})\n`);
    });

  withDataDir(nvram.command('rm').argument('<deviceId>'))
    .description('delete an image')
    .action(function (this: Command, deviceId: string) {
      const store = writableStoreOf(this);
      store.remove(deviceId);
      io.out(`removed ${store.path(deviceId)}\n`);
    });

  const hash = nvram.command('hash').description('edit the trusted-root certificate hash table');
  withDataDir(hash.command('add').argument('<deviceId>').argument('<name>', 'friendly name, ≤ 32 bytes').argument('<hash>', 'hex (colons allowed)'))
    .description('add a custom hash (at most 3; algorithm from the length unless --algorithm)')
    .option('--algorithm <alg>', 'SHA1 | SHA256 | SHA384')
    .option('--inactive', 'add it deactivated')
    .action(function (this: Command, deviceId: string, name: string, hex: string) {
      const o = this.opts<{ algorithm?: string; inactive?: boolean }>();
      const store = writableStoreOf(this);
      const img = store.load(deviceId);
      const profile = getProfile(img.firmware.profile);
      const algorithm = algorithmFor(hex, o.algorithm);
      const saved = store.save(withHashes(img, (t) => addHash(t, profile, { name, algorithm, hash: hex, isActive: !o.inactive })));
      io.out(`${deviceId}: added ${algorithm} hash '${name}' (${saved.certHashes.length} entries)\n`);
    });
  const simple = (verb: string, what: string, op: (img: NvramImage, key: string) => NvramImage): void => {
    withDataDir(hash.command(verb).argument('<deviceId>').argument('<nameOrHash>'))
      .description(what)
      .action(function (this: Command, deviceId: string, key: string) {
        const store = writableStoreOf(this);
        store.save(op(store.load(deviceId), key));
        io.out(`${deviceId}: ${verb} '${key}' done\n`);
      });
  };
  simple('rm', 'delete a custom hash (factory defaults can only be deactivated)', (img, key) => withHashes(img, (t) => deleteHash(t, key)));
  simple('activate', 'mark a hash in use', (img, key) => withHashes(img, (t) => setHashActive(t, key, true)));
  simple('deactivate', 'mark a hash not in use', (img, key) => withHashes(img, (t) => setHashActive(t, key, false)));
  withDataDir(hash.command('restore-defaults').argument('<deviceId>'))
    .description("reset the table to the profile's factory defaults (custom entries removed)")
    .action(function (this: Command, deviceId: string) {
      const store = writableStoreOf(this);
      const img = store.load(deviceId);
      const saved = store.save({ ...img, certHashes: restoreDefaultHashes(getProfile(img.firmware.profile)) });
      io.out(`${deviceId}: ${saved.certHashes.length} factory hashes restored\n`);
    });
}
