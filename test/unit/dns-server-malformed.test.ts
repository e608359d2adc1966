import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import { FirmwareDnsResolver } from '../../src/network/dns-resolver.js';
import { FakeDnsServer } from '../../src/network/fake/dns-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Deterministic garbage: an LCG so a failure is reproducible. */
function garbage(seed: number, n: number): Buffer[] {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const len = next() % 600;
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = next() & 0xff;
    // Some look like a header with a question count, to reach the name decoder.
    if (len > 12 && i % 3 === 0) b.writeUInt16BE(1, 4);
    out.push(b);
  }
  // Classic traps: a compression pointer to itself, a truncated header, an empty datagram.
  out.push(Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]));
  out.push(Buffer.from([1, 2, 3]));
  out.push(Buffer.alloc(0));
  return out;
}

describe('fake DNS server under garbage', () => {
  it('ignores random datagrams and TCP junk, then still answers a good query', async () => {
    const clock = new VirtualClock();
    const server = new FakeDnsServer({ address: '127.77.2.1', port: 0, tcp: true, clock, zone: [{ name: 'provisionserver.x.test', type: 'A', value: '127.77.2.9' }] });
    const { port, tcpPort } = await server.start();
    cleanups.push(() => server.stop());
    const sock = dgram.createSocket('udp4');
    const packets = garbage(1234, 300);
    for (const b of packets) await new Promise<void>((r) => sock.send(b, port, '127.77.2.1', () => r()));
    sock.close();
    await new Promise<void>((resolve) => {
      const c = net.connect({ host: '127.77.2.1', port: tcpPort! }, () => c.end(Buffer.from([0, 5, 1, 2, 3, 4, 5, 0, 40, 9, 9])));
      c.on('close', () => resolve());
      c.on('error', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.stats.malformed).toBeGreaterThan(0);
    const resolver = new FirmwareDnsResolver({ clock, port });
    expect(await resolver.resolve('ProvisionServer.X.test', ['127.77.2.1'])).toEqual({ ok: true, value: ['127.77.2.9'] });
  });

  it('the resolver ignores a reply with the wrong id and times out cleanly', async () => {
    const clock = new VirtualClock();
    const liar = dgram.createSocket('udp4');
    liar.on('message', (m, rinfo) => {
      const bad = Buffer.from(m);
      bad.writeUInt16BE((m.readUInt16BE(0) + 1) & 0xffff, 0); // wrong id
      bad[2] = bad[2]! | 0x80;
      liar.send(bad, rinfo.port, rinfo.address);
      liar.send(Buffer.from('garbage'), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => liar.bind(0, '127.77.2.2', () => r()));
    cleanups.push(() => new Promise<void>((r) => liar.close(() => r())));
    const resolver = new FirmwareDnsResolver({ clock, port: liar.address().port, attempts: 1, timeoutMs: 1000 });
    const p = resolver.resolve('provisionserver.x.test', ['127.77.2.2']);
    let result: Awaited<typeof p> | undefined;
    void p.then((x) => (result = x));
    await clock.runUntil(() => result !== undefined, 10_000);
    expect(result).toMatchObject({ ok: false, code: 'DNS_TIMEOUT' });
    expect(clock.now()).toBe(1000);
  });
});
