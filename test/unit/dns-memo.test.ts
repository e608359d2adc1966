/**
 * The DNS codec memo (src/network/dns-memo.ts): a repeated query gets byte-for-byte the answer
 * dns2 would encode, with its own ID; a zone or failure change is seen at once; the log and
 * stats still count every query.
 */
import dgram from 'node:dgram';
import { Packet } from 'dns2';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/index.js';
import { FirmwareDnsResolver } from '../../src/network/dns-resolver.js';
import { FakeDnsServer } from '../../src/network/fake/dns-server.js';

const DNS_IP = '127.77.2.1';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function query(id: number, name: string): Buffer {
  const p = new Packet();
  p.header.id = id;
  p.header.rd = 1;
  p.questions.push({ name, type: 1, class: 1 } as never);
  return p.toBuffer();
}

async function ask(port: number, bytes: Buffer): Promise<Buffer> {
  const s = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer in 2 s')), 2000);
      s.once('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
      s.send(bytes, port, DNS_IP);
    });
  } finally {
    s.close();
  }
}

async function rig() {
  const clock = new VirtualClock();
  const server = new FakeDnsServer({ address: DNS_IP, port: 0, clock, zone: [{ name: 'provisionserver.corp.example.test', type: 'A', value: '127.77.2.9' }] });
  const { port } = await server.start();
  cleanups.push(() => server.stop());
  return { clock, server, port };
}

describe('DNS memo', () => {
  it('answers a repeated question with the same bytes and the asker’s ID, and logs both', async () => {
    const { server, port } = await rig();
    const a = await ask(port, query(0x1111, 'ProvisionServer.corp.example.test'));
    const b = await ask(port, query(0xbeef, 'ProvisionServer.corp.example.test'));
    expect(a.readUInt16BE(0)).toBe(0x1111);
    expect(b.readUInt16BE(0)).toBe(0xbeef);
    expect(b.subarray(2)).toEqual(a.subarray(2));
    expect(Packet.parse(b).answers[0]).toMatchObject({ name: 'ProvisionServer.corp.example.test', address: '127.77.2.9' });
    expect(server.stats.queries).toBe(2);
    expect(server.log.map((e) => e.outcome)).toEqual(['answer', 'answer']);
  });

  it('sees zone changes and failures at once', async () => {
    const { server, port } = await rig();
    const q = (id: number) => query(id, 'provisionserver.corp.example.test');
    await ask(port, q(1));
    server.register('provisionserver.corp.example.test', '127.77.2.10');
    expect(Packet.parse(await ask(port, q(2))).answers[0]!.address).toBe('127.77.2.10');
    server.setFailure('provisionserver.corp.example.test', { kind: 'nxdomain' });
    expect(Packet.parse(await ask(port, q(3))).header.rcode).toBe(3);
    server.setFailure('provisionserver.corp.example.test', undefined);
    expect(Packet.parse(await ask(port, q(4))).header.rcode).toBe(0);
    server.remove('provisionserver.corp.example.test');
    expect(Packet.parse(await ask(port, q(5))).header.rcode).toBe(3);
  });

  it('the firmware resolver gets fresh answers (own copies) on repeated lookups', async () => {
    const { clock, server, port } = await rig();
    const resolver = new FirmwareDnsResolver({ clock, port, timeoutMs: 2000, attempts: 1 });
    const first = await resolver.resolve('ProvisionServer.corp.example.test', [DNS_IP]);
    expect(first).toEqual({ ok: true, value: ['127.77.2.9'] });
    if (first.ok) first.value.push('mutated');
    expect(await resolver.resolve('ProvisionServer.corp.example.test', [DNS_IP])).toEqual({ ok: true, value: ['127.77.2.9'] });
    server.register('provisionserver.corp.example.test', '127.77.2.11');
    expect(await resolver.resolve('ProvisionServer.corp.example.test', [DNS_IP])).toEqual({ ok: true, value: ['127.77.2.11'] });
  });
});
