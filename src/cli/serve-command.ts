/**
 * `amtemu serve`: fake DHCP, fake DNS and N devices on loopback until SIGINT/SIGTERM, in
 * scaled or virtual time, so an external provisioning server can talk to them. `--config`
 * reads a fleet file (src/fleet/fleet-file.ts); flags given on the command line win over the
 * file. `--api-port` adds the control API and dashboard (src/api).
 */
import { isStrongPassword } from '../device/wsman/classes/setup.js';
import type { Command } from 'commander';
import { buildApi } from '../api/server.js';
import { AmtError } from '../common/errors.js';
import { formatEvent, TIMELINE_CAPACITY_MAX, TIMELINE_CAPACITY_MIN } from '../common/timeline.js';
import { STATE_NAME_OF, type DeviceStateName } from '../fleet/emulator.js';
import { DEFAULT_IP_BASE, loadFleetFile, type FleetDevice, type FleetDeviceFields, type LoadedFleet } from '../fleet/fleet-file.js';
import { startFleet, toDhcpBehaviour, type FleetPlan, type FleetProvisioning } from '../fleet/fleet-runner.js';
import type { FirmwareProfileId } from '../nvram/image.js';
import { FIRMWARE_PROFILE_IDS, isFirmwareProfileId } from '../nvram/profiles.js';
import { isLoopback, parseIpv4 } from '../network/address-plan.js';

/** The --state words for the firmware's provisioning states. */

export interface ServeOptions {
  count: number;
  state: DeviceStateName;
  profile: string;
  domain?: string;
  provisionServer: string;
  helloPort: number;
  ipBase: string;
  dataDir?: string;
  timelineCapacity?: number;
  adminPassword: string;
  timeScale: number;
  serverAddress: string;
  dhcpPort: number;
  dnsPort: number;
  httpPort: number;
  httpsPort: number;
  redirectionPort: number;
  redirectionTlsPort: number;
  rmcpPort: number;
  quiet?: boolean;
  idPrefix?: string;
  trustRoot?: string[];
  seed?: string;
  config?: string;
  time: 'scaled' | 'virtual';
  transport: 'kernel' | 'memory';
  apiPort?: number;
  apiHost: string;
  apiToken?: string;
}

/** Which options the user typed (commander's value source); the rest are defaults the file may replace. */
export type FlagSource = (name: keyof ServeOptions) => boolean;

export function parseIntFlag(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min || n > max) throw new AmtError('BAD_INPUT', `--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
    return n;
  };
}

export function parseNumberFlag(name: string, minExclusive: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= minExclusive) throw new AmtError('BAD_INPUT', `--${name} must be a number > ${minExclusive}, got "${v}"`);
    return n;
  };
}

export function parseLoopbackFlag(name: string): (v: string) => string {
  return (v: string) => {
    if (parseIpv4(v) === undefined) throw new AmtError('BAD_INPUT', `--${name} must be an IPv4 address, got "${v}"`);
    if (!isLoopback(v)) throw new AmtError('BAD_INPUT', `--${name} must be in 127.0.0.0/8 (loopback mode), got "${v}"`);
    return v;
  };
}

function parseProvisionServer(v: string): string {
  return v === 'builtin' ? v : parseLoopbackFlag('provision-server')(v);
}

function parseState(v: string): DeviceStateName {
  if (v !== 'factory' && v !== 'setup' && v !== 'configured') throw new AmtError('BAD_INPUT', `--state must be factory, setup or configured, got "${v}"`);
  return v;
}

function parseProfile(v: string): string {
  if (!isFirmwareProfileId(v)) throw new AmtError('BAD_INPUT', `--profile must be one of ${FIRMWARE_PROFILE_IDS.join(', ')}, got "${v}"`);
  return v;
}

function parseTime(v: string): 'scaled' | 'virtual' {
  if (v !== 'scaled' && v !== 'virtual') throw new AmtError('BAD_INPUT', `--time must be scaled or virtual, got "${v}"`);
  return v;
}

function parseTransport(v: string): 'kernel' | 'memory' {
  if (v !== 'kernel' && v !== 'memory') throw new AmtError('BAD_INPUT', `--transport must be kernel or memory, got "${v}"`);
  return v;
}

function parseApiHost(v: string): string {
  if (v !== 'localhost' && parseIpv4(v) === undefined && !/^[0-9a-fA-F:]+$/.test(v)) throw new AmtError('BAD_INPUT', `--api-host must be an IP address or localhost, got "${v}"`);
  return v;
}

function parseApiToken(v: string): string {
  if (!/^[\x21-\x7e]{16,200}$/.test(v)) throw new AmtError('BAD_INPUT', '--api-token must be 16–200 printable characters without spaces');
  return v;
}

function parseDomain(v: string): string {
  if (!/^(?=.{1,223}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(v)) {
    throw new AmtError('BAD_INPUT', `--domain must be a DNS name like corp.example.test, got "${v}"`);
  }
  return v;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run fake DHCP, fake DNS and N emulated devices on loopback until SIGINT/SIGTERM')
    .option('--count <n>', 'number of devices', parseIntFlag('count', 1, 20000), 1)
    .option('--state <state>', 'initial state: factory | setup | configured', parseState, 'setup' as DeviceStateName)
    .option('--profile <id>', `firmware profile (${FIRMWARE_PROFILE_IDS.join(', ')})`, parseProfile, 'amt16')
    .option('--domain <domain>', 'DHCP option 15 (omit for a lease without a domain)', parseDomain)
    .option('--provision-server <ip|builtin>', 'address ProvisionServer.<domain> resolves to; "builtin" runs the reference provisioning server on 127.0.0.1 and devices trust its test root', parseProvisionServer, 'builtin')
    .option('--hello-port <port>', 'port the hellos go to (0: any free port, with the built-in server)', parseIntFlag('hello-port', 0, 65535), 9971)
    .option('--ip-base <ip>', 'device i gets this address + i', parseLoopbackFlag('ip-base'), '127.77.0.10')
    .option('--data-dir <dir>', 'keep NVRAM images here (default: in memory)')
    .option('--admin-password <pw>', 'admin password of configured devices (AMT strong-password rule: 8–32 characters with upper, lower, digit and symbol, no : , ")', parseAdminPassword, 'P@ssw0rd')
    .option('--time-scale <f>', 'virtual time runs F times real time', parseNumberFlag('time-scale', 0), 1)
    .option('--server-address <ip>', 'address of the fake DHCP and DNS servers', parseLoopbackFlag('server-address'), '127.0.0.1')
    .option('--dhcp-port <port>', 'fake DHCP server port', parseIntFlag('dhcp-port', 0, 65535), 10067)
    .option('--dns-port <port>', 'fake DNS server port', parseIntFlag('dns-port', 0, 65535), 10053)
    .option('--transport <kind>', 'kernel: DHCP, DNS and hellos on real loopback sockets; memory: an in-process LAN for big discovery simulations (only the built-in server hears hellos there, --provision-server <ip> acts as a server that is down; WS-Man ports stay real)', parseTransport, 'kernel' as const)
    .option('--http-port <port>', 'WS-Man over HTTP (AMT: 16992)', parseIntFlag('http-port', 0, 65535), 16992)
    .option('--https-port <port>', 'WS-Man over TLS (AMT: 16993)', parseIntFlag('https-port', 0, 65535), 16993)
    .option('--redirection-port <port>', 'redirection (AMT: 16994)', parseIntFlag('redirection-port', 0, 65535), 16994)
    .option('--redirection-tls-port <port>', 'redirection over TLS (AMT: 16995)', parseIntFlag('redirection-tls-port', 0, 65535), 16995)
    .option('--rmcp-port <port>', 'RMCP presence pong, UDP (AMT: 623; 0 = off)', parseIntFlag('rmcp-port', 0, 65535), 623)
    .option('--seed <seed>', 'seed for reproducible secrets (digest realm, local system account, nonces); UUIDs and MACs always derive from the device id (give shards their own --id-prefix)')
    .option('--id-prefix <prefix>', 'device ids are <prefix>1, <prefix>2, … (UUIDs and MACs derive from them: give each shard its own)', parseIdPrefix, 'pc')
    .option('--trust-root <sha256>', 'add this root certificate SHA-256 to every device as a custom trusted hash (repeatable), as an admin would in MEBx', collectTrustRoot, [] as string[])
    .option('--timeline-capacity <n>', 'timeline events kept in memory before the oldest tenth is dropped (default 1000000)', parseIntFlag('timeline-capacity', TIMELINE_CAPACITY_MIN, TIMELINE_CAPACITY_MAX))
    .option('--quiet', 'do not print the timeline')
    .option('--config <fleet.yaml>', 'fleet file: templates x count, per-device overrides, network and provisioning server (schemas/fleet.schema.json); flags given here win')
    .option('--time <kind>', 'scaled: wall time x --time-scale; virtual: time moves only through the control API', parseTime, 'scaled' as const)
    .option('--api-port <port>', 'serve the control API, /docs and the dashboard on this port (0: any free port)', parseIntFlag('api-port', 0, 65535))
    .option('--api-host <ip>', 'address the control API binds to; anything but loopback requires a bearer token', parseApiHost, '127.0.0.1')
    .option('--api-token <token>', 'bearer token for the control API (default: none on loopback, generated and printed otherwise)', parseApiToken)
    .action(async (opts: ServeOptions, cmd: Command) => {
      await runServe(opts, (name) => cmd.getOptionValueSource(name) === 'cli');
    });
}

/**
 * The fleet to start: from the flags alone (N identical devices, as before fleet files), or from
 * a fleet file with every flag the user typed taking precedence over the file's value.
 */
/** The firmware refuses weaker admin passwords (SetAdminAclEntryEx / MEBx rule), so a fleet must not start with one. */
function parseAdminPassword(v: string): string {
  if (!isStrongPassword(v)) throw new AmtError('BAD_INPUT', '--admin-password must follow the AMT strong-password rule (8–32 characters with upper, lower, digit and symbol, no : , ")');
  return v;
}

function parseIdPrefix(v: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(v)) throw new AmtError('BAD_INPUT', `--id-prefix must start with a letter and use letters, digits, - or _ (≤ 40), got "${v}"`);
  return v;
}

function collectTrustRoot(v: string, previous: string[]): string[] {
  const hex = v.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new AmtError('BAD_INPUT', `--trust-root must be a SHA-256 in hex (64 digits, colons allowed), got "${v}"`);
  return [...previous, hex];
}

function trustRootFields(roots: string[] | undefined): FleetDeviceFields {
  if (!roots?.length) return {};
  return { hashes: { add: roots.map((hash, i) => ({ name: `trusted root ${i + 1}`, algorithm: 'SHA256' as const, hash })) } };
}

export function planServe(opts: ServeOptions, typed: FlagSource, fleet?: LoadedFleet): FleetPlan {
  const f = fleet?.spec;
  const pick = <K extends keyof ServeOptions, T>(flag: K, fromFile: T | undefined): ServeOptions[K] | T => (typed(flag) || fromFile === undefined ? opts[flag] : fromFile);
  if (fleet && typed('count')) throw new AmtError('BAD_INPUT', '--count cannot be combined with --config (the fleet file lists the devices)');
  const fileTime = f?.time;
  const time: FleetPlan['time'] =
    typed('time') || typed('timeScale') || fileTime === undefined
      ? opts.time === 'virtual' ? 'virtual' : { scaled: opts.timeScale }
      : fileTime === 'virtual' ? 'virtual' : fileTime === 'real' ? { scaled: 1 } : fileTime;
  let provisioning: FleetProvisioning;
  const fileServer = f?.provisioningServer;
  const domain = pick('domain', f?.network?.domain);
  if (typed('provisionServer') || fileServer === undefined) {
    provisioning = opts.provisionServer === 'builtin'
      ? { kind: 'builtin', fqdn: `rcs.${domain ?? 'amtemu.test'}`, adminPassword: opts.adminPassword, mebxPassword: 'Mebx-Passw0rd!2', helloPort: opts.helloPort }
      : { kind: 'address', address: opts.provisionServer, port: opts.helloPort };
  } else if (fileServer === 'builtin' || 'builtin' in fileServer) {
    const b = fileServer === 'builtin' ? {} : fileServer.builtin;
    provisioning = {
      kind: 'builtin',
      fqdn: b.fqdn ?? `rcs.${domain ?? 'amtemu.test'}`,
      adminPassword: b.adminPassword ?? opts.adminPassword,
      mebxPassword: 'Mebx-Passw0rd!2',
      helloPort: typed('helloPort') ? opts.helloPort : (b.helloPort ?? opts.helloPort),
    };
  } else {
    if (!isLoopback(fileServer.address)) throw new AmtError('BAD_INPUT', `${fleet!.file}: provisioningServer.address must be in 127.0.0.0/8 (loopback mode), got "${fileServer.address}"`);
    provisioning = { kind: 'address', address: fileServer.address, port: typed('helloPort') ? opts.helloPort : (fileServer.port ?? opts.helloPort) };
  }
  const ipBase = pick('ipBase', f?.network?.ipBase);
  const serverAddress = pick('serverAddress', f?.network?.serverAddress);
  for (const [name, v] of [['network.ipBase', ipBase], ['network.serverAddress', serverAddress]] as const) {
    if (!isLoopback(v)) throw new AmtError('BAD_INPUT', `${fleet?.file ?? 'serve'}: ${name} must be in 127.0.0.0/8 (loopback mode), got "${v}"`);
  }
  const rmcp = pick('rmcpPort', f?.ports?.rmcp);
  // Flags typed on the command line override every device of the file (e.g. --profile amt19).
  const deviceFlags = {
    ...(typed('state') ? { state: opts.state } : {}),
    ...(typed('profile') ? { profile: opts.profile as FirmwareProfileId } : {}),
    ...(typed('adminPassword') ? { adminPassword: opts.adminPassword } : {}),
  };
  const devices: FleetDevice[] = fleet
    ? fleet.devices.map((d) => {
        const fields: FleetDeviceFields = { ...d.fields, ...deviceFlags };
        const extra = trustRootFields(opts.trustRoot).hashes?.add;
        if (extra) fields.hashes = { ...fields.hashes, add: [...(fields.hashes?.add ?? []), ...extra] };
        return { id: d.id, fields };
      })
    : Array.from({ length: opts.count }, (_, i) => ({ id: `${opts.idPrefix ?? 'pc'}${i + 1}`, fields: trustRootFields(opts.trustRoot) }));
  const seed = pick('seed', f?.seed);
  const dataDir = pick('dataDir', f?.dataDir);
  const timelineCapacity = pick('timelineCapacity', f?.timeline?.capacity);
  return {
    time,
    ...(seed ? { seed } : {}),
    ...(dataDir ? { dataDir } : {}),
    ...(timelineCapacity ? { timelineCapacity } : {}),
    network: {
      ...(domain ? { domain } : {}),
      ipBase: ipBase ?? DEFAULT_IP_BASE,
      serverAddress,
      dhcpPort: pick('dhcpPort', f?.network?.dhcpPort),
      dnsPort: pick('dnsPort', f?.network?.dnsPort),
      ...(f?.network?.dhcp ? { dhcp: toDhcpBehaviour(f.network.dhcp) } : {}),
      transport: pick('transport', f?.network?.transport),
    },
    provisioning,
    ports: {
      http: pick('httpPort', f?.ports?.http),
      https: pick('httpsPort', f?.ports?.https),
      redirection: pick('redirectionPort', f?.ports?.redirection),
      redirectionTls: pick('redirectionTlsPort', f?.ports?.redirectionTls),
      rmcp: rmcp === 0 ? null : rmcp,
    },
    defaults: { state: opts.state, profile: opts.profile as FirmwareProfileId, adminPassword: opts.adminPassword },
    devices,
  };
}

export async function runServe(opts: ServeOptions, typed: FlagSource = () => !opts.config): Promise<void> {
  const fleetFile = opts.config ? loadFleetFile(opts.config) : undefined;
  const plan = planServe(opts, typed, fleetFile);
  const spec = fleetFile?.spec;
  const apiPort = typed('apiPort') || spec?.api?.port === undefined ? opts.apiPort : spec.api.port;
  const apiHost = typed('apiHost') || spec?.api?.host === undefined ? opts.apiHost : spec.api.host;
  const apiToken = typed('apiToken') || spec?.api?.token === undefined ? opts.apiToken : spec.api.token;
  // Virtual time moves only through POST /api/time/*: without the API the fleet would stand still.
  if (plan.time === 'virtual' && apiPort === undefined) throw new AmtError('BAD_INPUT', '--time virtual moves time only through the control API: add --api-port (or api.port in the fleet file)');
  const fleet = await startFleet(plan);
  const { emu, listeners, reference: ref } = fleet;
  const colour = Boolean(process.stdout.isTTY);
  if (!opts.quiet) emu.timeline.subscribe((e) => process.stdout.write(`${formatEvent(e, { colour })}\n`));
  const api = apiPort !== undefined
    ? await buildApi({ emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults, name: spec?.name ?? 'amtemu', host: apiHost, ...(apiToken ? { token: apiToken } : {}) })
    : undefined;
  const boundApi = api ? await api.listen(apiPort!).catch(async (e: unknown) => {
    await api.close();
    await fleet.stop();
    // A taken port is named like every other port flag (src/cli/listen-errors.ts): PORT_IN_USE: --api-port …
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw e;
    throw new AmtError('BAD_INPUT', `control API cannot listen on ${apiHost}:${apiPort}: ${e instanceof Error ? e.message : String(e)}`);
  }) : undefined;
  // Listen for the stop signals before the banner: a supervisor (or a test) that sends SIGTERM as
  // soon as it reads the banner must get a clean stop, not node's default exit by signal.
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stdout.write(`amtemu: ${sig}, stopping\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const p = plan.provisioning;
  const server = ref ? `built-in provisioning server 127.0.0.1:${ref.helloPort} (root SHA-256 ${ref.pki.rootHashes.sha256.slice(0, 16)}…)` : `provisioning server ${p.kind === 'address' ? `${p.address}:${p.port}` : ''}`;
  const time = plan.time === 'virtual' ? 'virtual time (moves only through the control API)' : `time x${plan.time.scaled}`;
  const states = [...new Set([...emu.devices.values()].map((d) => d.state))].join('/');
  // What the PCs are, not what --state asked for: with --data-dir a restarted PC keeps its NVRAM
  // (a PC configured last run is Post now, whatever --state says).
  const stateNames = [...new Set([...emu.devices.values()].map((d) => STATE_NAME_OF[d.state]))].join('/');
  if (emu.lan && plan.provisioning.kind === 'address') {
    // Allowed on purpose (a "server down" simulation at scale), but say it: nothing outside this process is on that LAN.
    process.stderr.write(`amtemu: note: --transport memory: hellos to ${plan.provisioning.address}:${plan.provisioning.port} stay on the in-process LAN and are refused (a server that is down); use transport kernel to reach your server\n`);
  }
  process.stdout.write(`amtemu: ${emu.devices.size} device(s), ${fleetFile ? `fleet ${spec?.name ?? fleetFile.file}, ${states}` : stateNames}, ${emu.lan ? 'DHCP/DNS/hellos on the in-process LAN' : `DHCP ${plan.network.serverAddress}:${emu.fake.dhcpPort}, DNS ${plan.network.serverAddress}:${emu.fake.dnsPort}`}, ports ${listeners.describe()}, ${server}, ${time}\n`);
  for (const dup of fleetFile?.duplicateUuids ?? []) process.stdout.write(`amtemu: note: ${dup.devices.join(', ')} share UUID ${dup.uuid} (as written in the fleet file)\n`);
  if (api && boundApi !== undefined) {
    const shown = apiHost.includes(':') ? `[${apiHost}]` : apiHost;
    process.stdout.write(`amtemu: control API http://${shown}:${boundApi}/ (dashboard; /docs, /openapi.json, /metrics)${api.policy.required ? `, bearer token ${api.policy.generated ? api.policy.token! : '(as given)'}` : ''}\n`);
  }
  const listed = [...emu.devices.values()];
  for (const d of listed.slice(0, 200)) {
    const domain = plan.network.domain;
    const fqdn = domain ? `${d.nvram.network.hostname}.${domain}` : d.nvram.network.hostname;
    const state = d.controlMode === 'none' ? d.state : `${d.state}/${d.controlMode}`;
    process.stdout.write(`  ${d.id.padEnd(8)} ${state.padEnd(8)} uuid ${d.nvram.uuid}  address ${emu.plannedAddress(d.id)}  fqdn ${fqdn}\n`);
  }
  if (listed.length > 200) process.stdout.write(`  … and ${listed.length - 200} more (GET /api/devices lists them all)\n`);
  emu.powerOnAll();
  await stopped;
  await api?.close();
  await fleet.stop();
}
