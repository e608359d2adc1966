import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import type { DhcpLease } from '../../src/device/environment.js';
import { startFakeNetwork, type FakeNetwork } from '../../src/network/fake/index.js';
import { SocketNetwork } from '../../src/network/socket-network.js';
import { planAddresses } from '../../src/network/address-plan.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('SocketNetwork (loopback) with the fake DHCP + DNS servers', () => {
  it('lease → ProvisionServer.<option 15> → hello from the leased address; the device name reverse-resolves', async () => {
    const clock = new VirtualClock();
    const sca = net.createServer();
    const hellos: Array<{ from: string | undefined; bytes: Buffer }> = [];
    sca.on('connection', (c) => {
      const chunks: Buffer[] = [];
      const from = c.remoteAddress;
      c.on('data', (d) => chunks.push(d));
      c.on('close', () => hellos.push({ from, bytes: Buffer.concat(chunks) }));
    });
    await new Promise<void>((r) => sca.listen(0, '127.77.4.9', () => r()));
    cleanups.push(() => new Promise<void>((r) => sca.close(() => r())));
    const plan = planAddresses('127.77.4.100', 2);
    if (!plan.ok) throw new Error(plan.message);
    const fake: FakeNetwork = await startFakeNetwork({
      clock,
      dhcp: {
        address: '127.77.4.1',
        port: 0,
        pool: { start: '127.77.4.10', end: '127.77.4.50' },
        reservations: { '00:16:3E:00:04:00': plan.value[0]!, '00:16:3E:00:04:01': plan.value[1]! },
        dnsServers: ['127.77.4.1'],
        domain: 'corp.example.test',
        leaseSeconds: 86400,
      },
      dns: { address: '127.77.4.1', port: 0, zone: [{ name: 'provisionserver.corp.example.test', type: 'A', value: '127.77.4.9' }] },
    });
    cleanups.push(() => fake.stop());
    const network = new SocketNetwork({ clock, mode: 'loopback', dhcpServer: { address: '127.77.4.1', port: fake.dhcpPort }, dnsPort: fake.dnsPort });
    cleanups.push(() => network.close());

    const leases = new Map<string, DhcpLease>();
    const handles = ['00:16:3E:00:04:00', '00:16:3E:00:04:01'].map((mac, i) =>
      network.startDhcp({ deviceId: `dev-${i}`, mac, hostname: `amt-pc-${i}` }, { onLease: (l) => leases.set(mac, l), onFailure: () => undefined }),
    );
    await clock.runUntil(() => leases.size === 2, 60_000);
    const lease = leases.get('00:16:3E:00:04:01')!;
    expect(lease.address).toBe('127.77.4.101');
    expect(lease.domain).toBe('corp.example.test');

    const sca_ = await network.resolve(`ProvisionServer.${lease.domain}`, lease.dnsServers, lease.address);
    expect(sca_).toEqual({ ok: true, value: ['127.77.4.9'] });
    // The DHCP lease published the device's name (A + PTR) for the SCA's reverse lookup.
    expect(await network.resolve('AMT-PC-1.corp.example.test', lease.dnsServers)).toEqual({ ok: true, value: ['127.77.4.101'] });
    expect(fake.dns.log.find((e) => e.name === 'ProvisionServer.corp.example.test')!.from).toMatch(/^127\.77\.4\.101:/);

    const port = (sca.address() as net.AddressInfo).port;
    const sent = await network.sendHello(lease.address, { host: sca_.ok ? sca_.value[0]! : '', port }, Buffer.from('hello-v3'));
    expect(sent.ok).toBe(true);
    for (let i = 0; i < 100 && hellos.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(hellos[0]).toEqual({ from: '127.77.4.101', bytes: Buffer.from('hello-v3') });
    for (const h of handles) h.stop();
  });

  it('bad configuration is a clear BAD_INPUT error', () => {
    const clock = new VirtualClock();
    expect(() => new SocketNetwork({ clock, mode: 'loopback' })).toThrow(/BAD_INPUT: loopback mode needs dhcpServer/);
    expect(() => new SocketNetwork({ clock, mode: 'wifi' as never })).toThrow(/BAD_INPUT: network mode/);
    expect(() => new SocketNetwork({ clock, mode: 'loopback', dhcpServer: { address: 'x', port: 67 } })).toThrow(/BAD_INPUT/);
  });
});
