import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import type { DhcpEvents, DhcpLease } from '../../src/device/environment.js';
import { FirmwareDhcpClient, type DhcpClientConfig } from '../../src/network/dhcp-client.js';
import { DhcpClientSocket } from '../../src/network/dhcp-socket.js';
import { FakeDhcpServer, type FakeDhcpServerConfig } from '../../src/network/fake/dhcp-server.js';

const SERVER_IP = '127.77.0.1';

interface Rig {
  clock: VirtualClock;
  server: FakeDhcpServer;
  socket: DhcpClientSocket;
  port: number;
  leases: Array<DhcpLease & { t: number }>;
  failures: Array<{ t: number; code: string; message: string }>;
  packets: Array<{ t: number; dir: string; type: string; detail: Record<string, unknown> }>;
  events: DhcpEvents;
  client(mac?: string, extra?: Partial<DhcpClientConfig>): FirmwareDhcpClient;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function rig(server: Partial<FakeDhcpServerConfig> = {}): Promise<Rig> {
  const clock = new VirtualClock();
  const srv = new FakeDhcpServer({
    address: SERVER_IP,
    port: 0,
    pool: { start: '127.77.0.10', end: '127.77.0.250' },
    netmask: '255.0.0.0',
    router: SERVER_IP,
    dnsServers: [SERVER_IP],
    domain: 'corp.example.test',
    leaseSeconds: 3600,
    clock,
    ...server,
  });
  const { port } = await srv.start();
  const socket = new DhcpClientSocket({ mode: 'loopback' });
  const clients: FirmwareDhcpClient[] = [];
  cleanups.push(async () => {
    for (const c of clients) c.stop();
    await socket.close();
    await srv.stop();
  });
  const r: Rig = {
    clock,
    server: srv,
    socket,
    port,
    leases: [],
    failures: [],
    packets: [],
    events: {
      onLease: (l) => r.leases.push({ ...l, t: clock.now() }),
      onFailure: (code, message) => r.failures.push({ t: clock.now(), code, message }),
      onPacket: (dir, type, detail) => r.packets.push({ t: clock.now(), dir, type, detail }),
    },
    client(mac = '00:16:3E:00:00:01', extra = {}) {
      const c = new FirmwareDhcpClient({ deviceId: 'dev-1', mac, hostname: 'amt-pc-01' }, r.events, {
        clock,
        transport: socket,
        server: { address: SERVER_IP, port },
        seed: 42,
        ...extra,
      });
      clients.push(c);
      return c;
    },
  };
  return r;
}

describe('firmware DHCP client against the fake server (loopback, virtual time)', () => {
  it('gets a lease with option 15, DNS servers and the full DORA on the timeline', async () => {
    const r = await rig();
    const c = r.client();
    c.start();
    expect(await r.clock.runUntil(() => r.leases.length > 0, 60_000)).toBe(true);
    const lease = r.leases[0]!;
    expect(lease.address).toMatch(/^127\.77\.0\.\d+$/);
    expect(lease.domain).toBe('corp.example.test');
    expect(lease.dnsServers).toEqual([SERVER_IP]);
    expect(lease.leaseSeconds).toBe(3600);
    expect(lease.serverId).toBe(SERVER_IP);
    expect(lease.netmask).toBe('255.0.0.0');
    expect(c.state).toBe('BOUND');
    expect(r.packets.map((p) => `${p.dir}:${p.type}`)).toEqual(['sent:discover', 'received:offer', 'sent:request', 'received:ack']);
    expect(r.server.leaseFor('00:16:3E:00:00:01')?.address).toBe(lease.address);
    expect(r.server.leaseFor('00:16:3E:00:00:01')?.hostname).toBe('amt-pc-01');
  });

  it('renews at T1 = 50 % of the lease and keeps the address', async () => {
    const r = await rig();
    r.client().start();
    await r.clock.runUntil(() => r.leases.length > 0, 60_000);
    const t0 = r.leases[0]!.t;
    await r.clock.runUntil(() => r.leases.length > 1, 4_000_000);
    const renew = r.packets.find((p) => p.type === 'renew')!;
    expect(renew.t - t0).toBe(1_800_000);
    expect(renew.detail.ciaddr).toBe(r.leases[0]!.address);
    expect(r.leases[1]!.address).toBe(r.leases[0]!.address);
    expect(r.leases[1]!.t).toBe(renew.t);
  });

  it('rebinds at T2 = 87.5 % when the server stops answering, then reports expiry and restarts', async () => {
    const r = await rig();
    const c = r.client();
    c.start();
    await r.clock.runUntil(() => r.leases.length > 0, 60_000);
    const t0 = r.leases[0]!.t;
    r.server.setBehaviour({ drop: true });
    await r.clock.runUntil(() => r.failures.length > 0, 4_000_000);
    const rebind = r.packets.find((p) => p.type === 'rebind')!;
    expect(rebind.t - t0).toBe(3_150_000);
    expect(r.failures[0]!.code).toBe('DHCP_EXPIRED');
    expect(r.failures[0]!.t - t0).toBe(3_600_000);
    // Back to INIT: a fresh DISCOVER goes out at expiry.
    expect(r.packets.filter((p) => p.type === 'discover' && p.t === r.failures[0]!.t)).toHaveLength(1);
    expect(c.state).toBe('SELECTING');
  });

  it('NAK → onFailure(DHCP_NAK) and a new DISCOVER cycle that succeeds once the server relents', async () => {
    const r = await rig();
    r.server.setBehaviour({ nak: true });
    r.client().start();
    await r.clock.runUntil(() => r.failures.length > 0, 60_000);
    expect(r.failures[0]!.code).toBe('DHCP_NAK');
    expect(r.leases).toHaveLength(0);
    r.server.resetBehaviour();
    await r.clock.runUntil(() => r.leases.length > 0, 60_000);
    const discovers = r.packets.filter((p) => p.type === 'discover');
    expect(discovers).toHaveLength(2);
    expect(discovers[1]!.t - r.failures[0]!.t).toBe(4000);
  });

  it('no answer: DISCOVER retransmits at 4, 8, 16, 32 s (± 1 s) and gives up with DHCP_NO_OFFER', async () => {
    const r = await rig({ behaviour: { drop: true } });
    r.client(undefined, { restartAfterFailureMs: null }).start();
    await r.clock.runUntil(() => r.failures.length > 0, 600_000);
    const sends = r.packets.filter((p) => p.type === 'discover').map((p) => p.t);
    expect(sends).toHaveLength(5);
    const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
    [4000, 8000, 16000, 32000].forEach((base, i) => {
      expect(gaps[i]!).toBeGreaterThanOrEqual(base - 1000);
      expect(gaps[i]!).toBeLessThanOrEqual(base + 1000);
    });
    expect(r.failures[0]!.code).toBe('DHCP_NO_OFFER');
    expect(r.failures[0]!.t - sends[4]!).toBeGreaterThanOrEqual(63_000);
    expect(r.server.stats.dropped).toBe(5);
    // Same seed, same jitter: reproducible timelines.
    const r2 = await rig({ behaviour: { drop: true } });
    r2.client(undefined, { restartAfterFailureMs: null }).start();
    await r2.clock.runUntil(() => r2.failures.length > 0, 600_000);
    expect(r2.packets.filter((p) => p.type === 'discover').map((p) => p.t)).toEqual(sends);
  });

  it('option 15 absent: the lease has no domain', async () => {
    const r = await rig({ behaviour: { domainAbsent: true } });
    r.client().start();
    await r.clock.runUntil(() => r.leases.length > 0, 60_000);
    expect(r.leases[0]!.domain).toBeUndefined();
    expect(r.leases[0]!.dnsServers).toEqual([SERVER_IP]);
  });

  it('option 15 changed by the server (the PC moved networks): the next renewal carries the new domain', async () => {
    const r = await rig();
    r.client().start();
    await r.clock.runUntil(() => r.leases.length > 0, 60_000);
    expect(r.leases[0]!.domain).toBe('corp.example.test');
    r.server.setBehaviour({ domain: 'hotel.example.net' });
    await r.clock.runUntil(() => r.leases.length > 1, 4_000_000);
    expect(r.leases[1]!.domain).toBe('hotel.example.net');
    r.server.resetBehaviour();
    await r.clock.runUntil(() => r.leases.length > 2, 4_000_000);
    expect(r.leases[2]!.domain).toBe('corp.example.test');
  });

  it('option 15 late: missing from the first ACK, present on the renewal', async () => {
    const r = await rig({ behaviour: { domainLateAcks: 1 } });
    r.client().start();
    await r.clock.runUntil(() => r.leases.length > 1, 4_000_000);
    expect(r.leases[0]!.domain).toBeUndefined();
    expect(r.leases[1]!.domain).toBe('corp.example.test');
    expect(r.leases[1]!.t - r.leases[0]!.t).toBe(1_800_000);
  });

  it('a delayed server (virtual time) answers before the retransmit timer', async () => {
    const r = await rig({ behaviour: { delayMs: 1500 } });
    r.client().start();
    await r.clock.runUntil(() => r.leases.length > 0, 60_000);
    expect(r.leases[0]!.t).toBe(3000); // OFFER at 1.5 s, ACK at 3 s
    expect(r.packets.filter((p) => p.type === 'discover')).toHaveLength(1);
  });

  it('leases are sticky per MAC and distinct across MACs sharing one client socket', async () => {
    const r = await rig();
    const a = r.client('00:16:3E:00:00:0A');
    const b = r.client('00:16:3E:00:00:0B');
    a.start();
    b.start();
    await r.clock.runUntil(() => r.leases.length >= 2, 60_000);
    const [la, lb] = [a.lease!, b.lease!];
    expect(la.address).not.toBe(lb.address);
    a.stop();
    const again = r.client('00:16:3E:00:00:0A');
    again.start();
    await r.clock.runUntil(() => r.leases.length >= 3, 60_000);
    expect(again.lease!.address).toBe(la.address);
  });

  it('honours reservations added after start (fleet adds devices live), whatever the MAC case', async () => {
    const reservations: Record<string, string> = {};
    const r = await rig({ reservations });
    reservations['00:16:3e:00:00:2a'] = '127.77.9.42';
    const c = r.client('00:16:3E:00:00:2A');
    const other = r.client('00:16:3E:00:00:2B', { seed: 7 });
    c.start();
    other.start();
    await r.clock.runUntil(() => r.leases.length >= 2, 60_000);
    expect(c.lease!.address).toBe('127.77.9.42');
    expect(other.lease!.address).toMatch(/^127\.77\.0\./);
  });

  it('a stopped client sends nothing more and leaves no timers behind', async () => {
    const r = await rig({ behaviour: { drop: true } });
    const c = r.client();
    c.start();
    await r.clock.advance(1000);
    c.stop();
    const n = r.packets.length;
    await r.clock.advance(600_000);
    expect(r.packets.length).toBe(n);
    expect(r.clock.pendingTimers).toBe(0);
  });

  it('rejects a malformed MAC with a clear error', async () => {
    const r = await rig();
    expect(() => r.client('not-a-mac')).toThrow(/BAD_INPUT: not a MAC address/);
  });
});
