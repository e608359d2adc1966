/**
 * Our firmware DHCP client and resolver as the device, dnsmasq as the corporate DHCP + DNS
 * server (peers-and-clients §3.3: verified invocation), on a veth pair between two namespaces.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DhcpLease } from '../../src/device/environment.js';
import { SUBNET, createNetnsPair, requireTools, waitFor, type NetnsPair } from './netns.js';

let pair: NetnsPair;
let dir: string;
let dnsmasqLog = '';

beforeAll(async () => {
  requireTools(['ip', 'dnsmasq']);
  dir = mkdtempSync(path.join(os.tmpdir(), 'amtemu-dnsmasq-'));
  pair = await createNetnsPair('dm');
  const dnsmasq = pair.spawnIn(pair.serverNs, 'dnsmasq', [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-ping',
    `--interface=${pair.serverIf}`,
    '--bind-interfaces',
    `--dhcp-range=${SUBNET.prefix}.50,${SUBNET.prefix}.150,${SUBNET.mask},1h`,
    '--dhcp-option=option:domain-name,corp.example.test',
    `--host-record=provisionserver.corp.example.test,${SUBNET.serverIp}`,
    '--local=/corp.example.test/',
    `--dhcp-leasefile=${path.join(dir, 'leases')}`,
    `--pid-file=${path.join(dir, 'pid')}`,
    '--log-dhcp',
    '--log-queries',
    '--log-facility=-',
  ]);
  dnsmasq.stdout!.on('data', (d: Buffer) => (dnsmasqLog += d.toString()));
  dnsmasq.stderr!.on('data', (d: Buffer) => (dnsmasqLog += d.toString()));
  await waitFor('dnsmasq to start', () => /DHCP, IP range/.test(dnsmasqLog) || dnsmasq.exitCode !== null, 15_000);
  if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited ${dnsmasq.exitCode}: ${dnsmasqLog}`);
});

afterAll(async () => {
  await pair?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('interop: our DHCP client + resolver against dnsmasq (netns)', () => {
  it('leases an address with option 15 = corp.example.test and resolves ProvisionServer.<suffix> in mixed case', async () => {
    const { done } = pair.agent<{ lease: DhcpLease; resolved: Record<string, { ok: boolean; value?: string[]; code?: string }>; packets: string[] }>(pair.clientNs, 'device', {
      ifname: pair.clientIf,
      mac: '00:16:3E:77:00:01',
      hostname: 'amt-pc-01',
      resolve: ['ProvisionServer.<domain>', 'nosuchhost.<domain>'],
      timeoutMs: 40_000,
    });
    const r = await done.catch((e: Error) => {
      throw new Error(`${e.message}\n--- dnsmasq ---\n${dnsmasqLog}`);
    });
    expect(r.lease.domain).toBe('corp.example.test');
    expect(r.lease.address.startsWith(`${SUBNET.prefix}.`)).toBe(true);
    expect(r.lease.dnsServers).toContain(SUBNET.serverIp);
    expect(r.lease.serverId).toBe(SUBNET.serverIp);
    expect(r.packets.slice(0, 4)).toEqual(['sent:discover', 'received:offer', 'sent:request', 'received:ack']);
    expect(r.resolved['ProvisionServer.<domain>']).toEqual({ ok: true, value: [SUBNET.serverIp] });
    expect(r.resolved['nosuchhost.<domain>']).toMatchObject({ ok: false, code: 'DNS_NXDOMAIN' });
    // dnsmasq saw our hostname (option 12) and the query in the case we sent it.
    expect(dnsmasqLog).toMatch(/DHCPACK\(\S+\) \S+ 00:16:3e:77:00:01 amt-pc-01/);
    expect(dnsmasqLog).toMatch(/query\[A\] ProvisionServer\.corp\.example\.test/);
    expect(readFileSync(path.join(dir, 'leases'), 'utf8')).toMatch(/00:16:3e:77:00:01 \S+ amt-pc-01/);
  });
});
