/**
 * Fuzz: DHCP (RFC 2131/2132) — the decoder (src/network/dhcp-packet.ts), the fake server's
 * request handling and the firmware client's reply handling. The decoder returns a Result and
 * must never throw; the server and client must never throw on any decodable packet.
 */
import type dgram from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { BOOTREPLY, BOOTREQUEST, DhcpMessageType, decodeDhcp, encodeDhcp, ipToBytes, Opt, u32, type DhcpPacket } from '../../src/network/dhcp-packet.js';
import { FirmwareDhcpClient } from '../../src/network/dhcp-client.js';
import { FakeDhcpServer } from '../../src/network/fake/dhcp-server.js';
import { mutatedBytes, params, report, RUNS, timed } from './harness.js';

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':'));
const optionValue = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  ip.map((a) => ipToBytes(a)),
  fc.nat().map((n) => u32(n)),
  fc.string({ maxLength: 80 }).map((s) => Buffer.from(s, 'latin1')),
);
const optionCode = fc.oneof(fc.integer({ min: 1, max: 254 }), fc.constantFrom(1, 3, 6, 12, 15, 50, 51, 54, 56, 58, 59, 81));
function packet(op: number, xid?: number): fc.Arbitrary<DhcpPacket> {
  return fc
    .record({
      xid: xid === undefined ? fc.nat() : fc.constant(xid),
      secs: fc.nat(0xffff),
      flags: fc.constantFrom(0, 0x8000),
      ciaddr: ip,
      yiaddr: ip,
      siaddr: ip,
      giaddr: ip,
      chaddr: mac,
      type: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.nat(255)),
      options: fc.array(fc.tuple(optionCode, optionValue), { maxLength: 8 }),
    })
    .map((r) => {
      const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, Buffer.from([r.type])]]);
      for (const [c, v] of r.options) if (c !== Opt.MESSAGE_TYPE) options.set(c, v);
      return { op, xid: r.xid, secs: r.secs, flags: r.flags, ciaddr: r.ciaddr, yiaddr: r.yiaddr, siaddr: r.siaddr, giaddr: r.giaddr, chaddr: r.chaddr, options };
    });
}

describe('fuzz: DHCP decoder', () => {
  it('random datagrams: a Result, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const r = timed('dhcp random', () => decodeDhcp(Buffer.from(bytes)));
        if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
      }),
      params(),
    );
    report('dhcp random', RUNS);
  });

  it('mutated valid packets: a Result, never a throw', () => {
    fc.assert(
      fc.property(mutatedBytes(packet(BOOTREQUEST).map(encodeDhcp)), (bytes) => {
        const r = timed('dhcp mutated', () => decodeDhcp(bytes));
        if (!r.ok) expect(r.message).not.toMatch(/\n/);
      }),
      params(),
    );
    report('dhcp mutated', RUNS);
  });

  it('round trip: encode → decode gives the same packet', () => {
    fc.assert(
      fc.property(packet(BOOTREPLY), (p) => {
        const r = decodeDhcp(encodeDhcp(p));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.packet).toEqual(p);
      }),
      params(RUNS / 2),
    );
  });
});

describe('fuzz: fake DHCP server request handling', () => {
  let server: FakeDhcpServer;
  beforeAll(async () => {
    server = new FakeDhcpServer({ address: '127.0.0.1', port: 0, pool: { start: '127.90.0.10', end: '127.90.0.40' }, domain: 'corp.example.test', clock: new VirtualClock() });
    await server.start();
  });
  afterAll(() => server.stop());

  it('any decodable BOOTREQUEST is handled without throwing', () => {
    const handle = (server as unknown as { handle(p: DhcpPacket, r: dgram.RemoteInfo): void }).handle.bind(server);
    const rinfo: dgram.RemoteInfo = { address: '127.0.0.1', port: 9, family: 'IPv4', size: 0 };
    fc.assert(
      fc.property(packet(BOOTREQUEST), (p) => {
        // Through the codec first, so the server sees exactly what a socket would give it.
        const d = decodeDhcp(encodeDhcp(p));
        if (!d.ok) return;
        timed('dhcp server', () => handle(d.packet, rinfo));
      }),
      params(),
    );
    report('dhcp server', RUNS);
    expect(server.log.length).toBeLessThanOrEqual(20_000);
  });
});

describe('fuzz: firmware DHCP client reply handling', () => {
  it('any reply with the right xid, in any state, never throws', () => {
    const clock = new VirtualClock();
    const sent: Buffer[] = [];
    let deliver: ((p: DhcpPacket) => void) | undefined;
    let failures = 0;
    const client = new FirmwareDhcpClient(
      { deviceId: 'fz', mac: '02:00:00:00:00:01', hostname: 'fz' },
      { onLease: () => undefined, onFailure: () => void failures++ },
      {
        clock,
        server: { address: '127.0.0.1', port: 67 },
        replyGraceMs: 0,
        transport: {
          send: async (b) => void sent.push(b),
          subscribe: (_m, on) => {
            deliver = on;
            return () => (deliver = undefined);
          },
        },
      },
    );
    client.start();
    const lastXid = (): number => {
      const d = decodeDhcp(sent[sent.length - 1] ?? Buffer.alloc(0));
      return d.ok ? d.packet.xid : 0;
    };
    fc.assert(
      fc.property(packet(BOOTREPLY), fc.boolean(), fc.constantFrom(DhcpMessageType.OFFER, DhcpMessageType.ACK, DhcpMessageType.NAK, 0), (p, sameXid, forceType) => {
        const reply: DhcpPacket = { ...p, chaddr: '02:00:00:00:00:01', xid: sameXid ? lastXid() : p.xid };
        if (forceType !== 0) reply.options.set(Opt.MESSAGE_TYPE, Buffer.from([forceType]));
        const d = decodeDhcp(encodeDhcp(reply));
        if (!d.ok) return;
        timed('dhcp client', () => deliver?.(d.packet));
        expect(['INIT', 'SELECTING', 'REQUESTING', 'BOUND', 'RENEWING', 'REBINDING']).toContain(client.state);
      }),
      params(),
    );
    report('dhcp client', RUNS);
    client.stop();
  });
});
