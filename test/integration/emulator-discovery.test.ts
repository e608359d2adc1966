import { promises as dns } from 'node:dns';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { parseHello } from '../../src/device/hello.js';
import { Emulator } from '../../src/fleet/emulator.js';

interface Received {
  from: string;
  bytes: Buffer;
}

async function helloSink(): Promise<{ port: number; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = net.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => received.push({ from: s.remoteAddress ?? '', bytes: Buffer.concat(chunks) }));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received, close: () => new Promise((r) => server.close(() => r())) };
}

describe('Emulator on real loopback sockets in virtual time', () => {
  let emu: Emulator | undefined;
  afterEach(async () => {
    await emu?.stop();
    emu = undefined;
  });

  it('devices take planned DHCP leases with option 15, resolve ProvisionServer.<domain> and say hello from their own address', async () => {
    const sink = await helloSink();
    const clock = new VirtualClock();
    emu = await Emulator.start({
      clock,
      seed: 'itest',
      network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', provisionServer: '127.0.0.1', ipBase: '127.66.0.10' },
    });
    const devices = emu.addDevices(3, { state: 'setup', helloPort: sink.port });
    emu.powerOnAll();
    await clock.runUntil(() => sink.received.length >= 3 * 5 + 3 * 2, 20 * 60_000);
    await clock.advance(10 * 60_000);
    await clock.settle();
    // 10 minutes: 5 one-minute hellos and the 5- and 10-minute ones (with a little slack for the last).
    const byFrom = new Map<string, number>();
    for (const r of sink.received) byFrom.set(r.from, (byFrom.get(r.from) ?? 0) + 1);
    expect([...byFrom.keys()].sort()).toEqual(['127.66.0.10', '127.66.0.11', '127.66.0.12']);
    for (const d of devices) {
      expect(d.lease?.domain).toBe('corp.example.test');
      expect(d.address).toBe(emu.plannedAddress(d.id));
      const mine = sink.received.filter((r) => r.from === d.address).map((r) => parseHello(r.bytes));
      expect(mine.length).toBeGreaterThanOrEqual(7);
      expect(mine[0]).toMatchObject({ version: 3, uuid: d.nvram.uuid, retryCount: 0 });
      expect(emu.timeline.query({ deviceId: d.id, type: 'dns.answer' })[0]!.data).toMatchObject({ name: 'ProvisionServer.corp.example.test', addresses: ['127.0.0.1'] });
    }
    // The lease published the device name: a provisioning server can reverse-resolve the hello source.
    const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${emu.fake.dnsPort}`]);
    const names = await resolver.reverse(devices[1]!.address!);
    expect(names.map((n) => n.toLowerCase())).toContain(`${devices[1]!.nvram.network.hostname}.corp.example.test`.toLowerCase());
    await sink.close();
  });
});
