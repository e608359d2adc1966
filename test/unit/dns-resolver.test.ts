import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import { FirmwareDnsResolver } from '../../src/network/dns-resolver.js';
import { FakeDnsServer, reverseName } from '../../src/network/fake/dns-server.js';

const DNS_IP = '127.77.1.1';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function rig(tcp = false) {
  const clock = new VirtualClock();
  const server = new FakeDnsServer({
    address: DNS_IP,
    port: 0,
    tcp,
    clock,
    zone: [
      { name: 'provisionserver.corp.example.test', type: 'A', value: '127.77.1.9' },
      { name: 'alias.corp.example.test', type: 'CNAME', value: 'ProvisionServer.corp.example.test' },
      { name: 'loop.corp.example.test', type: 'CNAME', value: 'loop.corp.example.test' },
      { name: 'nodata.corp.example.test', type: 'AAAA', value: '::1' },
    ],
  });
  const addr = await server.start();
  cleanups.push(() => server.stop());
  const resolver = new FirmwareDnsResolver({ clock, port: addr.port, timeoutMs: 2000, attempts: 2 });
  return { clock, server, resolver, port: addr.port, tcpPort: addr.tcpPort };
}

describe('firmware resolver against the fake DNS server', () => {
  it('resolves ProvisionServer.<suffix> in mixed case (names are case-insensitive)', async () => {
    const r = await rig();
    const res = await r.resolver.resolve('ProvisionServer.Corp.Example.TEST', [DNS_IP]);
    expect(res).toEqual({ ok: true, value: ['127.77.1.9'] });
    expect(r.server.log.at(-1)).toMatchObject({ name: 'ProvisionServer.Corp.Example.TEST', type: 'A', outcome: 'answer' });
  });

  it('follows a CNAME inside the answer', async () => {
    const r = await rig();
    expect(await r.resolver.resolve('alias.corp.example.test', [DNS_IP])).toEqual({ ok: true, value: ['127.77.1.9'] });
  });

  it('a CNAME loop ends as a coded failure, not a hang', async () => {
    const r = await rig();
    const res = await r.resolver.resolve('loop.corp.example.test', [DNS_IP]);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.code).toBe('DNS_NXDOMAIN');
  });

  it('unknown name → DNS_NXDOMAIN; a name without an A record → DNS_NXDOMAIN (NODATA)', async () => {
    const r = await rig();
    const a = await r.resolver.resolve('provisionserver.other.test', [DNS_IP]);
    expect(a).toMatchObject({ ok: false, code: 'DNS_NXDOMAIN' });
    const b = await r.resolver.resolve('nodata.corp.example.test', [DNS_IP]);
    expect(b).toMatchObject({ ok: false, code: 'DNS_NXDOMAIN' });
    if (!b.ok) expect(b.message).toMatch(/NODATA/);
  });

  it('SERVFAIL per name → DNS_SERVFAIL without waiting for a timeout', async () => {
    const r = await rig();
    r.server.setFailure('ProvisionServer.corp.example.test', { kind: 'servfail' });
    const res = await r.resolver.resolve('provisionserver.corp.example.test', [DNS_IP]);
    expect(res).toMatchObject({ ok: false, code: 'DNS_SERVFAIL' });
    expect(r.clock.now()).toBe(0);
  });

  it('forced NXDOMAIN per name', async () => {
    const r = await rig();
    r.server.setFailure('provisionserver.corp.example.test', { kind: 'nxdomain' });
    expect(await r.resolver.resolve('provisionserver.corp.example.test', [DNS_IP])).toMatchObject({ ok: false, code: 'DNS_NXDOMAIN' });
  });

  it('no answer → DNS_TIMEOUT after attempts × timeout of virtual time', async () => {
    const r = await rig();
    r.server.setFailure('provisionserver.corp.example.test', { kind: 'drop' });
    const p = r.resolver.resolve('provisionserver.corp.example.test', [DNS_IP]);
    let result: Awaited<typeof p> | undefined;
    void p.then((x) => (result = x));
    await r.clock.runUntil(() => result !== undefined, 60_000);
    expect(result).toMatchObject({ ok: false, code: 'DNS_TIMEOUT' });
    expect(r.clock.now()).toBe(4000);
    expect(r.server.log.filter((e) => e.outcome === 'dropped')).toHaveLength(2);
  });

  it('a slow answer within the timeout succeeds at the delayed virtual time', async () => {
    const r = await rig();
    r.server.setFailure('provisionserver.corp.example.test', { kind: 'delay', delayMs: 1500 });
    const p = r.resolver.resolve('provisionserver.corp.example.test', [DNS_IP]);
    let result: Awaited<typeof p> | undefined;
    void p.then((x) => (result = x));
    await r.clock.runUntil(() => result !== undefined, 60_000);
    expect(result).toEqual({ ok: true, value: ['127.77.1.9'] });
    expect(r.clock.now()).toBe(1500);
  });

  it('moves on to the next server when the first one fails', async () => {
    const r = await rig();
    const dead = dgram.createSocket('udp4'); // bound but silent: a server that never answers
    await new Promise<void>((res) => dead.bind(0, '127.77.1.2', () => res()));
    cleanups.push(() => new Promise<void>((res) => dead.close(() => res())));
    const p = r.resolver.resolve('provisionserver.corp.example.test', [`127.77.1.2:${dead.address().port}`, DNS_IP]);
    let result: Awaited<typeof p> | undefined;
    void p.then((x) => (result = x));
    await r.clock.runUntil(() => result !== undefined, 60_000);
    expect(result).toEqual({ ok: true, value: ['127.77.1.9'] });
    expect(r.clock.now()).toBe(4000);
  });

  it('register() publishes A and PTR, and the query comes from the device address', async () => {
    const r = await rig();
    r.server.register('AMT-PC-01.corp.example.test', '127.77.0.42');
    expect(await r.resolver.resolve('amt-pc-01.CORP.example.test', [DNS_IP], '127.77.0.42')).toEqual({ ok: true, value: ['127.77.0.42'] });
    expect(r.server.log.at(-1)!.from).toMatch(/^127\.77\.0\.42:/);
    // PTR through a raw dns2 query
    const { Packet } = await import('dns2');
    const q = new Packet();
    q.header.id = 7;
    q.questions.push({ name: reverseName('127.77.0.42'), type: 12, class: 1 } as never);
    const sock = dgram.createSocket('udp4');
    const reply = await new Promise<Buffer>((resolve) => {
      sock.on('message', (m) => resolve(m));
      sock.send(q.toBuffer(), r.port, DNS_IP);
    });
    sock.close();
    const parsed = Packet.parse(reply);
    expect(parsed.answers[0]!.domain).toBe('amt-pc-01.corp.example.test');
  });

  it('answers over TCP too', async () => {
    const r = await rig(true);
    const { TCPClient } = await import('dns2');
    const resolve = TCPClient({ dns: DNS_IP, port: r.tcpPort! });
    const res = await resolve('PROVISIONSERVER.corp.example.test', 'A');
    expect(res.answers[0]!.address).toBe('127.77.1.9');
  });

  it('rejects invalid names and servers with coded errors', async () => {
    const r = await rig();
    expect(await r.resolver.resolve('bad..name', [DNS_IP])).toMatchObject({ ok: false, code: 'DNS_NXDOMAIN' });
    expect(await r.resolver.resolve('provisionserver.corp.example.test', ['not-an-ip'])).toMatchObject({ ok: false, code: 'DNS_TIMEOUT' });
  });
});

describe('firmware resolver against malformed A records', () => {
  /** A NOERROR answer for `name` with one A record of `rdata` (any length, as a hostile server may send). */
  function answerWith(id: number, name: string, rdata: Buffer): Buffer {
    const labels = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    const header = Buffer.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const question = Buffer.concat([labels, Buffer.from([0, 1, 0, 1])]);
    const rr = Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, rdata.length >> 8, rdata.length & 0xff]), rdata]);
    return Buffer.concat([header, question, rr]);
  }

  it('ignores an answer whose A record is not four bytes and takes the well-formed one after it', async () => {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (q, rinfo) => {
      const id = q.readUInt16BE(0);
      // 12 bytes of RDATA: dns2 would render "10.97.45.97.45.45.97.45.97.97.97.0" (the fuzz's counterexample).
      sock.send(answerWith(id, 'provisionserver.corp.example.test', Buffer.from([10, 97, 45, 97, 45, 45, 97, 45, 97, 97, 97, 0])), rinfo.port, rinfo.address);
      sock.send(answerWith(id, 'provisionserver.corp.example.test', Buffer.from([127, 0, 0, 9])), rinfo.port, rinfo.address);
    });
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise<void>((res) => sock.close(() => res())));
    const resolver = new FirmwareDnsResolver({ clock: new VirtualClock(), port: (sock.address() as { port: number }).port, timeoutMs: 2000, attempts: 1 });
    expect(await resolver.resolve('provisionserver.corp.example.test', ['127.0.0.1'])).toEqual({ ok: true, value: ['127.0.0.9'] });
  });
});
