/**
 * `amtemu serve`: fake DHCP, fake DNS and N devices on loopback until SIGINT/SIGTERM, in real
 * or scaled time, so an external provisioning server can talk to them.
 */
import type { Command } from 'commander';
import { ScaledClock } from '../clock/real-clock.js';
import { AmtError } from '../common/errors.js';
import { formatEvent } from '../common/timeline.js';
import { Emulator, type DeviceStateName } from '../fleet/emulator.js';
import { FIRMWARE_PROFILE_IDS, isFirmwareProfileId } from '../nvram/profiles.js';
import { isLoopback, parseIpv4 } from '../network/address-plan.js';
import { attachListeners } from '../fleet/listeners.js';
import { startReferenceServer } from '../fleet/reference-server.js';

export interface ServeOptions {
  count: number;
  state: DeviceStateName;
  profile: string;
  domain?: string;
  provisionServer: string;
  helloPort: number;
  ipBase: string;
  dataDir?: string;
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
  seed?: string;
}

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
    .option('--admin-password <pw>', 'admin password of configured devices', 'P@ssw0rd')
    .option('--time-scale <f>', 'virtual time runs F times real time', parseNumberFlag('time-scale', 0), 1)
    .option('--server-address <ip>', 'address of the fake DHCP and DNS servers', parseLoopbackFlag('server-address'), '127.0.0.1')
    .option('--dhcp-port <port>', 'fake DHCP server port', parseIntFlag('dhcp-port', 0, 65535), 10067)
    .option('--dns-port <port>', 'fake DNS server port', parseIntFlag('dns-port', 0, 65535), 10053)
    .option('--http-port <port>', 'WS-Man over HTTP (AMT: 16992)', parseIntFlag('http-port', 0, 65535), 16992)
    .option('--https-port <port>', 'WS-Man over TLS (AMT: 16993)', parseIntFlag('https-port', 0, 65535), 16993)
    .option('--redirection-port <port>', 'redirection (AMT: 16994)', parseIntFlag('redirection-port', 0, 65535), 16994)
    .option('--redirection-tls-port <port>', 'redirection over TLS (AMT: 16995)', parseIntFlag('redirection-tls-port', 0, 65535), 16995)
    .option('--rmcp-port <port>', 'RMCP presence pong, UDP (AMT: 623; 0 = off)', parseIntFlag('rmcp-port', 0, 65535), 623)
    .option('--seed <seed>', 'seed for reproducible UUIDs, MACs and secrets')
    .option('--quiet', 'do not print the timeline')
    .action(async (opts: ServeOptions) => {
      await runServe(opts);
    });
}

export async function runServe(opts: ServeOptions): Promise<void> {
  const clock = new ScaledClock(opts.timeScale);
  const builtin = opts.provisionServer === 'builtin';
  const emu = await Emulator.start({
    clock,
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.seed ? { seed: opts.seed } : {}),
    network: {
      serverAddress: opts.serverAddress,
      dhcpPort: opts.dhcpPort,
      dnsPort: opts.dnsPort,
      ...(opts.domain ? { domain: opts.domain } : {}),
      provisionServer: builtin ? '127.0.0.1' : opts.provisionServer,
      ipBase: opts.ipBase,
    },
  });
  const listeners = await attachListeners(emu, {
    http: opts.httpPort,
    https: opts.httpsPort,
    redirection: opts.redirectionPort,
    redirectionTls: opts.redirectionTlsPort,
    rmcp: opts.rmcpPort === 0 ? null : opts.rmcpPort,
  });
  const ref = builtin
    ? await startReferenceServer(emu, {
        clock,
        helloPort: opts.helloPort,
        deviceWsmanPort: listeners.ports.https,
        fqdn: `rcs.${opts.domain ?? 'amtemu.test'}`,
        adminPassword: opts.adminPassword,
        mebxPassword: 'Mebx-Passw0rd!2',
      })
    : undefined;
  const colour = Boolean(process.stdout.isTTY);
  if (!opts.quiet) emu.timeline.subscribe((e) => process.stdout.write(`${formatEvent(e, { colour })}\n`));
  emu.addDevices(opts.count, {
    state: opts.state,
    profile: opts.profile as never,
    helloPort: ref?.helloPort ?? opts.helloPort,
    adminPassword: opts.adminPassword,
    ...(ref ? { customize: ref.trustRoot } : {}),
  });
  const server = ref ? `built-in provisioning server 127.0.0.1:${ref.helloPort} (root SHA-256 ${ref.pki.rootHashes.sha256.slice(0, 16)}…)` : `provisioning server ${opts.provisionServer}:${opts.helloPort}`;
  process.stdout.write(`amtemu: ${opts.count} device(s), ${opts.state}, DHCP ${opts.serverAddress}:${emu.fake.dhcpPort}, DNS ${opts.serverAddress}:${emu.fake.dnsPort}, ports ${listeners.describe()}, ${server}, time x${opts.timeScale}\n`);
  for (const d of emu.devices.values()) {
    const fqdn = opts.domain ? `${d.nvram.network.hostname}.${opts.domain}` : d.nvram.network.hostname;
    process.stdout.write(`  ${d.id.padEnd(8)} uuid ${d.nvram.uuid}  address ${emu.plannedAddress(d.id)}  fqdn ${fqdn}\n`);
  }
  emu.powerOnAll();
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stdout.write(`amtemu: ${sig}, stopping\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await ref?.stop();
  await listeners.close();
  await emu.stop();
}
