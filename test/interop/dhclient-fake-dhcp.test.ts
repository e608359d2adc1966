/**
 * ISC dhclient (a real, strict DHCP client) against OUR FakeDhcpServer in netns mode: the
 * lease file must show the address from our pool and our option 15.
 * Invocation from peers-and-clients §3.3, plus -d (foreground, so we kill our own pid).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBNET, createNetnsPair, requireTools, waitFor, type NetnsPair } from './netns.js';

let pair: NetnsPair;
let dir: string;
const serverEvents: string[] = [];

beforeAll(async () => {
  requireTools(['ip', 'dhclient']);
  dir = mkdtempSync(path.join(os.tmpdir(), 'amtemu-dhclient-'));
  pair = await createNetnsPair('dh');
  const { child } = pair.agent(pair.serverNs, 'dhcp-server', {
    serverId: SUBNET.serverIp,
    pool: { start: `${SUBNET.prefix}.60`, end: `${SUBNET.prefix}.70` },
    dns: [SUBNET.serverIp],
    domain: 'corp.example.test',
  }, (line) => serverEvents.push(line));
  await waitFor('fake DHCP server ready in the namespace', () => serverEvents.some((l) => l.includes('"ready":true')) || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`fake DHCP server agent exited: ${serverEvents.join('\n')}`);
});

afterAll(async () => {
  await pair?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('interop: dhclient against our FakeDhcpServer (netns)', () => {
  it('gets an address from our pool with option 15 = corp.example.test', async () => {
    const leases = path.join(dir, 'dhclient.leases');
    const conf = path.join(dir, 'dhclient.conf');
    writeFileSync(conf, 'request subnet-mask, routers, domain-name, domain-name-servers, host-name;\nsend host-name "dhclient-peer";\n');
    let log = '';
    const dh = pair.spawnIn(pair.clientNs, 'dhclient', ['-1', '-d', '-v', '-cf', conf, '-sf', '/bin/true', '-lf', leases, '-pf', path.join(dir, 'dhclient.pid'), pair.clientIf]);
    dh.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    dh.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('dhclient to write a lease', () => existsSync(leases) && /option domain-name/.test(readFileSync(leases, 'utf8')), 40_000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- dhclient ---\n${log}\n--- server ---\n${serverEvents.join('\n')}`);
    });
    const lease = readFileSync(leases, 'utf8');
    expect(lease).toMatch(new RegExp(`fixed-address ${SUBNET.prefix.replace(/\./g, '\\.')}\\.(6\\d|70);`));
    expect(lease).toMatch(/option domain-name "corp\.example\.test";/);
    expect(lease).toMatch(new RegExp(`option dhcp-server-identifier ${SUBNET.serverIp.replace(/\./g, '\\.')};`));
    expect(lease).toMatch(/option dhcp-lease-time 600;/);
    expect(log).toMatch(/DHCPACK/);
    expect(serverEvents.some((l) => l.includes('"event":"ack"'))).toBe(true);
  });
});
