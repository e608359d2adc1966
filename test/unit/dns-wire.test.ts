import { Packet } from 'dns2';
import { describe, expect, it } from 'vitest';
import { checkDnsMessage } from '../../src/network/dns-wire.js';

describe('DNS structural check before dns2 parses', () => {
  it('accepts real queries and answers built by dns2', () => {
    const q = new Packet();
    q.header.id = 1;
    q.questions.push({ name: 'ProvisionServer.corp.example.test', type: 1, class: 1 } as never);
    expect(checkDnsMessage(q.toBuffer())).toBeUndefined();
    const r = Packet.createResponseFromRequest(q);
    r.answers.push(Object.assign(new Packet.Resource('ProvisionServer.corp.example.test', 1, 1, 60), { address: '127.0.0.9' }));
    r.answers.push(Object.assign(new Packet.Resource('alias.corp.example.test', 5, 1, 60), { domain: 'ProvisionServer.corp.example.test' }));
    expect(checkDnsMessage(r.toBuffer())).toBeUndefined();
  });

  it('rejects a header claiming more records than the bytes hold (the dns2 slow path)', () => {
    const b = Buffer.alloc(40);
    b.writeUInt16BE(0xffff, 6);
    expect(checkDnsMessage(b)).toMatch(/malformed|truncated/);
  });

  it('rejects pointer loops, forward pointers, trailing bytes and short headers', () => {
    const loop = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(checkDnsMessage(loop)).toMatch(/malformed/);
    const fwd = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 0, 0, 1, 0, 1]);
    expect(checkDnsMessage(fwd)).toMatch(/malformed/);
    const q = new Packet();
    q.questions.push({ name: 'a.test', type: 1, class: 1 } as never);
    expect(checkDnsMessage(Buffer.concat([q.toBuffer(), Buffer.from([1])]))).toMatch(/trailing/);
    expect(checkDnsMessage(Buffer.from([1, 2, 3]))).toMatch(/too short/);
  });
});
