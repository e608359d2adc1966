/**
 * The in-process LAN (src/network/memory-lan.ts): the same firmware DHCP client, stub resolver,
 * fake servers and packets as on loopback sockets, delivered in memory. A fleet on it takes its
 * planned leases, resolves ProvisionServer.<domain>, says hello to a listener on the LAN, and
 * keeps the 24 h backoff schedule when nobody listens — in virtual time, without a socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { parseHello } from '../../src/device/hello.js';
import { Emulator } from '../../src/fleet/emulator.js';
import { MemoryLan } from '../../src/network/memory-lan.js';

const HOUR = 3_600_000;

describe('Emulator on the in-memory LAN', () => {
  let emu: Emulator | undefined;
  afterEach(async () => {
    await emu?.stop();
    emu = undefined;
  });

  async function start(n: number, helloPort: number): Promise<{ clock: VirtualClock; emu: Emulator }> {
    const clock = new VirtualClock();
    emu = await Emulator.start({
      clock,
      seed: 'memory-lan',
      network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', provisionServer: '127.0.0.1', ipBase: '127.67.0.10', transport: 'memory' },
    });
    emu.addDevices(n, { state: 'setup', helloPort });
    return { clock, emu };
  }

  it('leases, resolves and says hello from each device’s own address to a listener on the LAN', async () => {
    const { clock, emu } = await start(3, 9971);
    const received: Array<{ from: string; bytes: Buffer }> = [];
    emu.lan!.listen('127.0.0.1', 9971, (bytes, from) => received.push({ from: from.address, bytes }));
    emu.powerOnAll();
    await clock.advance(10 * 60_000);
    await clock.settle();
    for (const d of emu.devices.values()) {
      expect(d.address).toBe(emu.plannedAddress(d.id));
      expect(d.lease?.domain).toBe('corp.example.test');
      const mine = received.filter((r) => r.from === d.address).map((r) => parseHello(r.bytes));
      // Minutes 0–4 and 5, 10: seven hellos in the first 10 minutes (reference §2.1).
      expect(mine).toHaveLength(7);
      expect(mine[0]).toMatchObject({ version: 3, uuid: d.nvram.uuid, retryCount: 0 });
      expect(emu.timeline.query({ deviceId: d.id, type: 'dns.answer' })[0]!.data).toMatchObject({ name: 'ProvisionServer.corp.example.test', addresses: ['127.0.0.1'] });
    }
    // The fake servers saw real packets: the DHCP log has the four-message exchange per device.
    expect(emu.fake.dhcp.log.filter((e) => e.type === 'ack')).toHaveLength(3);
    expect(emu.fake.dns.stats.queries).toBe(21);
    expect(emu.lan!.stats.refused).toBe(0);
  });

  it('with nobody listening every hello is refused and the 24 h schedule runs to its 39 attempts', async () => {
    const { clock, emu } = await start(2, 9971);
    emu.powerOnAll();
    await clock.advance(25 * HOUR);
    await clock.settle();
    for (const d of emu.devices.values()) {
      const failed = emu.timeline.query({ deviceId: d.id, type: 'hello.failed' });
      expect(failed).toHaveLength(39);
      expect(failed[0]!.code).toBe('HELLO_CONNECT_FAILED');
      expect(String(failed[0]!.data['message'])).toContain('ECONNREFUSED');
    }
    expect(emu.lan!.stats.refused).toBe(78);
  });

  it('a datagram to a closed port is lost, a taken port refuses a second bind, a wildcard socket receives for every address', async () => {
    const lan = new MemoryLan();
    const a = lan.udp();
    const b = lan.udp();
    const got: string[] = [];
    await new Promise<void>((r) => a.bind(5000, undefined, r));
    a.on('message', (m, rinfo) => got.push(`${m.toString()} from ${rinfo.address}`));
    await new Promise<void>((r) => b.bind(0, '127.5.5.5', r));
    b.send(Buffer.from('one'), 5000, '127.9.9.9');
    b.send(Buffer.from('lost'), 5001, '127.9.9.9');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['one from 127.5.5.5']);
    expect(lan.stats).toMatchObject({ datagrams: 2, lost: 1 });
    const c = lan.udp();
    const err = await new Promise<Error>((resolve) => {
      c.on('error', resolve);
      c.bind(5000, undefined, () => resolve(new Error('bound twice')));
    });
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    a.close();
    b.close();
  });
});
