import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import type { DhcpLease } from '../../src/device/environment.js';
import { FirmwareDhcpClient } from '../../src/network/dhcp-client.js';
import {
  BOOTREQUEST,
  DhcpMessageType,
  Opt,
  decodeClientFqdn,
  decodeDhcp,
  encodeClientFqdn,
  encodeDhcp,
  readText,
  type DhcpPacket,
} from '../../src/network/dhcp-packet.js';
import { DhcpClientSocket } from '../../src/network/dhcp-socket.js';
import { FakeDhcpServer } from '../../src/network/fake/dhcp-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function discover(): DhcpPacket {
  return {
    op: BOOTREQUEST,
    xid: 0xdeadbeef,
    secs: 0,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: '00:16:3E:12:34:56',
    options: new Map([
      [Opt.MESSAGE_TYPE, Buffer.from([DhcpMessageType.DISCOVER])],
      [Opt.HOSTNAME, Buffer.from('amt-pc')],
      [Opt.CLIENT_FQDN, encodeClientFqdn({ flags: 0, name: 'amt-pc' })],
    ]),
  };
}

describe('DHCP wire codec', () => {
  it('round-trips a packet through the dhcp package header codec and our option walker', () => {
    const bytes = encodeDhcp(discover());
    expect(bytes.length).toBeGreaterThanOrEqual(300); // RFC 1542 minimum
    expect(bytes.readUInt32BE(236)).toBe(0x63825363);
    const d = decodeDhcp(bytes);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.packet.xid).toBe(0xdeadbeef);
    expect(d.packet.flags).toBe(0x8000);
    expect(d.packet.chaddr).toBe('00:16:3E:12:34:56');
    expect(readText(d.packet.options.get(Opt.HOSTNAME))).toBe('amt-pc');
    expect(decodeClientFqdn(d.packet.options.get(Opt.CLIENT_FQDN))).toEqual({ flags: 0, name: 'amt-pc' });
  });

  it('reads options after PAD bytes correctly (the package walker skips one byte too many)', () => {
    const bytes = encodeDhcp(discover());
    // Insert two PADs right after the magic cookie.
    const padded = Buffer.concat([bytes.subarray(0, 240), Buffer.from([0, 0]), bytes.subarray(240)]);
    const d = decodeDhcp(padded);
    expect(d.ok && d.packet.options.get(Opt.MESSAGE_TYPE)?.[0]).toBe(DhcpMessageType.DISCOVER);
  });

  it('option 81 in wire format (E bit) decodes to a dotted name', () => {
    const wire = encodeClientFqdn({ flags: 0x05, name: 'amt-pc.corp.example.test' });
    expect(decodeClientFqdn(wire)).toEqual({ flags: 0x05, name: 'amt-pc.corp.example.test' });
  });

  it('rejects truncated, cookie-less and runaway-option packets with a reason', () => {
    const good = encodeDhcp(discover());
    expect(decodeDhcp(good.subarray(0, 100))).toMatchObject({ ok: false, message: expect.stringMatching(/too short/) });
    const noCookie = Buffer.from(good);
    noCookie.writeUInt32BE(0, 236);
    expect(decodeDhcp(noCookie)).toMatchObject({ ok: false, message: expect.stringMatching(/cookie/) });
    const runaway = Buffer.concat([good.subarray(0, 240), Buffer.from([12, 200, 65])]);
    expect(decodeDhcp(runaway)).toMatchObject({ ok: false, message: expect.stringMatching(/runs past/) });
    const badHw = Buffer.from(good);
    badHw[1] = 6; // htype token ring
    expect(decodeDhcp(badHw)).toMatchObject({ ok: false, message: expect.stringMatching(/header invalid/) });
  });
});

describe('fake DHCP server under garbage', () => {
  it('counts and ignores random/malformed datagrams, then still serves a real client', async () => {
    const clock = new VirtualClock();
    const server = new FakeDhcpServer({ address: '127.77.3.1', port: 0, pool: { start: '127.77.3.10', end: '127.77.3.20' }, domain: 'corp.example.test', dnsServers: ['127.77.3.1'], clock });
    const { port } = await server.start();
    cleanups.push(() => server.stop());
    const sock = dgram.createSocket('udp4');
    let s = 99;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    const sends: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const len = next() % 700;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = next() & 0xff;
      // Half of them carry a valid cookie so the option walker is exercised.
      if (len > 240 && i % 2 === 0) {
        b[0] = 1;
        b[1] = 1;
        b[2] = 6;
        b.writeUInt32BE(0x63825363, 236);
      }
      sends.push(b);
    }
    const req = encodeDhcp(discover());
    sends.push(Buffer.concat([req.subarray(0, 240), Buffer.from([53, 1, 99, 255])])); // unknown message type
    sends.push(Buffer.concat([req.subarray(0, 240), Buffer.from([55, 1])])); // no END
    const reply = Buffer.from(req);
    reply[0] = 2; // a BOOTREPLY sent to the server
    sends.push(reply);
    // One at a time, so the kernel's receive buffer never drops any (the count is exact).
    for (const [i, b] of sends.entries()) {
      await new Promise<void>((r) => sock.send(b, port, '127.77.3.1', () => r()));
      for (let k = 0; k < 200 && server.stats.received <= i; k++) await new Promise((r) => setTimeout(r, 1));
    }
    sock.close();
    expect(server.stats.received).toBe(sends.length);
    expect(server.stats.malformed).toBe(sends.length);
    expect(server.stats.offers).toBe(0);

    const socket = new DhcpClientSocket({ mode: 'loopback' });
    cleanups.push(() => socket.close());
    const leases: DhcpLease[] = [];
    const c = new FirmwareDhcpClient({ deviceId: 'd', mac: '00:16:3E:00:00:99', hostname: 'h' }, { onLease: (l) => leases.push(l), onFailure: () => undefined }, { clock, transport: socket, server: { address: '127.77.3.1', port } });
    c.start();
    await clock.runUntil(() => leases.length > 0, 60_000);
    c.stop();
    expect(leases[0]!.domain).toBe('corp.example.test');
  });

  it('the client socket ignores garbage and replies for other MACs', async () => {
    const socket = new DhcpClientSocket({ mode: 'loopback' });
    cleanups.push(() => socket.close());
    const { port } = await socket.bind();
    const got: DhcpPacket[] = [];
    socket.subscribe('00:16:3E:00:00:01', (p) => got.push(p));
    const other = discover();
    other.op = 2;
    const s = dgram.createSocket('udp4');
    for (const b of [Buffer.from('junk'), Buffer.alloc(400, 0xff), encodeDhcp(other)]) await new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r()));
    s.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toHaveLength(0);
    expect(socket.stats).toMatchObject({ received: 3, malformed: 2, unmatched: 1 });
  });
});
