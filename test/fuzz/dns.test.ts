/**
 * Fuzz: DNS (RFC 1035) — the structural gate (src/network/dns-wire.ts) in front of dns2's
 * parser, the fake DNS server's query handling, and the firmware resolver reading hostile
 * answers over a real loopback socket.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { Packet } from 'dns2';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/clock/real-clock.js';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { checkDnsMessage } from '../../src/network/dns-wire.js';
import { FirmwareDnsResolver } from '../../src/network/dns-resolver.js';
import { FakeDnsServer } from '../../src/network/fake/dns-server.js';
import { mutatedBytes, note, params, report, RUNS, timed } from './harness.js';

const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));

function query(id: number, qname: string, type: number): Buffer {
  const p = new Packet();
  p.header.id = id;
  p.header.rd = 1;
  p.questions.push({ name: qname, type, class: 1 } as never);
  return p.toBuffer();
}
function answer(id: number, qname: string, addrs: string[], cname?: string): Buffer {
  const p = new Packet();
  p.header.id = id;
  p.header.qr = 1;
  p.header.aa = 1;
  p.questions.push({ name: qname, type: 1, class: 1 } as never);
  if (cname) {
    const r = new Packet.Resource(qname, Packet.TYPE.CNAME, 1, 60);
    r.domain = cname;
    p.answers.push(r);
  }
  for (const a of addrs) {
    const r = new Packet.Resource(cname ?? qname, Packet.TYPE.A, 1, 60);
    r.address = a;
    p.answers.push(r);
  }
  return p.toBuffer();
}
const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const validMessage = fc.oneof(
  fc.tuple(fc.nat(0xffff), name, fc.constantFrom(1, 5, 12, 28, 255)).map(([id, n, t]) => query(id, n, t)),
  fc.tuple(fc.nat(0xffff), name, fc.array(ip, { maxLength: 4 }), fc.option(name, { nil: undefined })).map(([id, n, a, c]) => answer(id, n, a, c)),
);

/** The gate then dns2, as both the server and the resolver call them. */
function gateThenParse(b: Buffer): Packet | undefined {
  if (checkDnsMessage(b) !== undefined) return undefined;
  try {
    return Packet.parse(b);
  } catch {
    return undefined; // both callers catch dns2's throws and count the message as malformed
  }
}

describe('fuzz: DNS wire gate + dns2 parse', () => {
  it('random datagrams: gate answers (string|undefined), parse is linear', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const why = timed('dns random', () => checkDnsMessage(Buffer.from(bytes)));
        if (why !== undefined) expect(why).not.toMatch(/\n/);
        timed('dns random', () => gateThenParse(Buffer.from(bytes)));
      }),
      params(),
    );
    report('dns random', RUNS);
  });

  it('mutated valid queries/answers: gate + parse never throw out, never spin', () => {
    fc.assert(
      fc.property(mutatedBytes(validMessage), (bytes) => {
        timed('dns mutated', () => gateThenParse(bytes));
      }),
      params(),
    );
    report('dns mutated', RUNS);
  });

  it('round trip: every dns2-encoded message passes the gate', () => {
    fc.assert(
      fc.property(validMessage, (b) => {
        expect(checkDnsMessage(b)).toBeUndefined();
      }),
      params(RUNS / 2),
    );
  });
});

describe('fuzz: fake DNS server query handling', () => {
  it('any message that passes the gate is answered or dropped without throwing', () => {
    const server = new FakeDnsServer({ address: '127.0.0.1', port: 0, clock: new VirtualClock(), zone: [{ name: 'provisionserver.corp.example.test', type: 'A', value: '127.0.0.9' }] });
    const internals = server as unknown as { parse(m: Buffer): Packet | undefined; answer(req: Packet, send: (r: Packet | Buffer) => Promise<Buffer>, c: unknown, t: 'udp'): void };
    const send = (r: Packet | Buffer): Promise<Buffer> => Promise.resolve(Buffer.isBuffer(r) ? r : r.toBuffer());
    fc.assert(
      fc.property(fc.oneof(mutatedBytes(validMessage), validMessage), (bytes) => {
        const req = internals.parse(bytes);
        if (req) timed('dns server', () => internals.answer(req, send, { address: '127.0.0.1', port: 9 }, 'udp'));
      }),
      params(),
    );
    report('dns server', RUNS);
  });
});

describe('fuzz: firmware resolver reading hostile answers (real UDP)', () => {
  const RESOLVER_RUNS = Math.max(50, Math.floor(RUNS / 5));
  let sock: dgram.Socket;
  let port = 0;
  let next: (q: Buffer) => Buffer[] = () => [];
  beforeAll(async () => {
    sock = dgram.createSocket('udp4');
    sock.on('message', (m, r) => {
      for (const b of next(m)) sock.send(b, r.port, r.address);
    });
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    port = (sock.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => sock.close(() => r())));

  it('returns a coded Result for every mutated answer (valid answer sent after, so no case waits)', async () => {
    const resolver = new FirmwareDnsResolver({ clock: new RealClock(), timeoutMs: 2000, attempts: 1 });
    await fc.assert(
      fc.asyncProperty(fc.array(ip, { maxLength: 3 }), fc.option(name, { nil: undefined }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.nat(), async (addrs, cname, flips, cut) => {
        next = (q) => {
          const id = q.readUInt16BE(0);
          const good = answer(id, 'provisionserver.corp.example.test', addrs, cname);
          const bad = Buffer.from(good);
          for (const [at, v] of flips) if (at % bad.length >= 2) bad[at % bad.length] = v; // keep the id so it is read
          const truncated = bad.subarray(0, 2 + (cut % (bad.length - 1)));
          return [truncated, bad, answer(id, 'provisionserver.corp.example.test', ['127.0.0.9'])];
        };
        const t0 = performance.now();
        const r = await resolver.resolve('provisionserver.corp.example.test', [`127.0.0.1:${port}`]);
        note('dns resolver (udp)', performance.now() - t0);
        if (r.ok) for (const a of r.value) expect(a).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
        else expect(['DNS_NXDOMAIN', 'DNS_SERVFAIL', 'DNS_TIMEOUT']).toContain(r.code);
      }),
      params(RESOLVER_RUNS),
    );
    report('dns resolver (udp)', RESOLVER_RUNS);
  });
});
