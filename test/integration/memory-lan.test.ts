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

describe('a fleet on the in-memory LAN with the built-in provisioning server', () => {
  it('hellos reach the reference server in memory, which configures every PC over real TLS to the fleet listener', async () => {
    const { startFleet } = await import('../../src/fleet/fleet-runner.js');
    const fleet = await startFleet({
      time: 'virtual',
      seed: 'memory-lan-fleet',
      network: { ipBase: '127.68.0.10', serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', transport: 'memory' },
      provisioning: { kind: 'builtin', fqdn: 'rcs.corp.example.test', adminPassword: 'P@ssw0rd-mem', mebxPassword: 'Mebx-P@ssw0rd-mem', helloPort: 0 },
      ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
      defaults: { state: 'setup', profile: 'amt16', adminPassword: 'P@ssw0rd' },
      devices: [{ id: 'pc1', fields: {} }, { id: 'pc2', fields: {} }],
    });
    try {
      fleet.emu.powerOnAll();
      await fleet.virtual!.runUntil(() => [...fleet.emu.devices.values()].every((d) => d.state === 'Post'), 10 * 60_000);
      for (const d of fleet.emu.devices.values()) {
        expect(d.state).toBe('Post');
        expect(d.controlMode).toBe('ACM');
        // The server reverse-resolved the hello's source through the fake DNS server's PTR records.
        expect(fleet.emu.timeline.query({ deviceId: d.id, type: 'sca.dns.reverse' })[0]!.data).toMatchObject({ name: `${d.nvram.network.hostname}.corp.example.test` });
      }
      expect(fleet.emu.lan!.stats.hellos).toBeGreaterThanOrEqual(2);
    } finally {
      await fleet.stop();
    }
  }, 60_000);

  it('pointed at an outside address, a memory-LAN fleet simulates that server being down: every hello is refused', async () => {
    const { startFleet } = await import('../../src/fleet/fleet-runner.js');
    const fleet = await startFleet({
      time: 'virtual',
      network: { ipBase: '127.68.1.10', serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', transport: 'memory' },
      provisioning: { kind: 'address', address: '127.68.1.2', port: 9971 },
      ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
      defaults: { state: 'setup', profile: 'amt16', adminPassword: 'P@ssw0rd' },
      devices: [{ id: 'pc1', fields: {} }],
    });
    try {
      fleet.emu.powerOnAll();
      await fleet.virtual!.advance(30 * 60_000);
      const failed = fleet.emu.timeline.query({ deviceId: 'pc1', type: 'hello.failed' });
      expect(failed.length).toBe(11); // minutes 0-4, 5, 10, 15, 20, 25, 30
      expect(String(failed[0]!.data['to'])).toBe('127.68.1.2:9971');
    } finally {
      await fleet.stop();
    }
  });
});
