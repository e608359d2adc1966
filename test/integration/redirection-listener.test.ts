/** The 16994/16995 listener on real loopback sockets: routing by local address, port gating, TLS, garbage. */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5hex } from '../../src/device/redirection/auth.js';
import { solConsoleFor } from '../../src/device/redirection/sol-console.js';
import { RedirectionListener, type RedirectionHost } from '../../src/network/redirection-listener.js';
import type { FirmwareProfileId, ProvisioningState } from '../../src/nvram/image.js';
import { DeviceCertStore } from '../../src/pki/device-cert.js';
import { makeDevice } from '../helpers/device-fixture.js';

const PASS = 'Sup3r$ecret';
const base = `127.${100 + (process.pid % 100)}.${((process.pid >> 8) % 250) + 1}`;
const ADDR = { post: `${base}.21`, pre: `${base}.22`, amt16: `${base}.24`, none: `${base}.23` };

function dev(id: string, profile: FirmwareProfileId, state: ProvisioningState) {
  const f = makeDevice({
    deviceId: id,
    profile,
    image: (img) => {
      img.provisioning.state = state;
      if (state === 'Post') {
        img.provisioning.controlMode = 'ACM';
        img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
      }
    },
  });
  f.device.powerOn();
  return f;
}

const post = dev('redir-post', 'amt12', 'Post'); // AMT 12: TLS 1.2 (AMT 11 stops at 1.1, which Node's client refuses)
const pre = dev('redir-pre', 'amt11', 'Pre');
const amt16 = dev('redir-16', 'amt16', 'Post');
const byAddr = new Map<string, RedirectionHost>([
  [ADDR.post, post.device],
  [ADDR.pre, pre.device],
  [ADDR.amt16, amt16.device],
]);
const certs = new DeviceCertStore();
let listener: RedirectionListener;
let ports: { plain: number; tls: number | undefined };

beforeAll(async () => {
  listener = new RedirectionListener({
    host: '0.0.0.0',
    plainPort: 0,
    tlsPort: 0,
    deviceAt: (a) => byAddr.get(a),
    tlsIdentity: (d) => certs.get(d.id, { uuid: d.nvram.uuid, now: d.clock.date() }),
  });
  ports = await listener.start();
});
afterAll(async () => {
  await listener?.stop();
});

/** A minimal console: collects bytes, waits for a byte count or the close. */
class Conn {
  buf = Buffer.alloc(0);
  closed = false;
  private waiters: Array<() => void> = [];
  constructor(readonly s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    s.on('error', () => undefined);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Wait (≤ 3 s) until `n` bytes are buffered or the socket closed; returns and consumes them. */
  async take(n: number): Promise<Buffer> {
    const deadline = Date.now() + 3000;
    while (this.buf.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  async waitClosed(): Promise<boolean> {
    await this.take(Number.MAX_SAFE_INTEGER);
    return this.closed;
  }
}

function connectPlain(addr: string, localAddress?: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: addr, port: ports.plain, ...(localAddress ? { localAddress } : {}) }, () => resolve(new Conn(s)));
    s.once('error', reject);
  });
}

function connectTls(addr: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    // MeshCentral's redirection TLS options (amt-redir-mesh.js): RSA key exchange ciphers, no verification.
    const s = tls.connect({ host: addr, port: ports.tls!, rejectUnauthorized: false, ciphers: 'RSA+AES:!aNULL:!MD5:!DSS', maxVersion: 'TLSv1.2' }, () => resolve(new Conn(s)));
    s.once('error', reject);
  });
}

const el = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
const startSol = Buffer.from([0x10, 0, 0, 0, 0x53, 0x4f, 0x4c, 0x20]);
function plainAuth(u: string, p: string): Buffer {
  const body = Buffer.concat([el(u), el(p)]);
  const h = Buffer.from([0x13, 0, 0, 0, 1, 0, 0, 0, 0]);
  h.writeUInt32LE(body.length, 5);
  return Buffer.concat([h, body]);
}
function solStart(): Buffer {
  const b = Buffer.alloc(24);
  b[0] = 0x20;
  [1000, 100, 0, 10000, 0, 0].forEach((v, i) => b.writeUInt16LE(v, 8 + 2 * i));
  return b;
}
function keys(text: string): Buffer {
  const b = Buffer.alloc(10 + text.length);
  b[0] = 0x28;
  b.writeUInt16LE(text.length, 8);
  b.write(text, 10, 'latin1');
  return b;
}

async function solHandshake(c: Conn): Promise<void> {
  c.s.write(startSol);
  expect((await c.take(13))[1]).toBe(0);
  c.s.write(plainAuth('admin', PASS));
  expect([...(await c.take(9))]).toEqual([0x14, 0, 0, 0, 1, 0, 0, 0, 0]);
  c.s.write(solStart());
  const r = await c.take(23);
  expect(r[0]).toBe(0x21);
  expect(r[1]).toBe(0);
}

describe('redirection listener (real sockets)', () => {
  it('runs a SOL session on the plain port, both directions', async () => {
    const c = await connectPlain(ADDR.post);
    await solHandshake(c);
    const con = solConsoleFor(post.device);
    c.s.write(keys('ls\r'));
    for (let i = 0; i < 50 && con.peek() !== 'ls\r'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(con.read()).toBe('ls\r');
    con.write('hello from amt');
    const h = await c.take(10);
    expect(h[0]).toBe(0x2a);
    expect((await c.take(h.readUInt16LE(8))).toString()).toBe('hello from amt');
    c.s.write(Buffer.from([0x12, 0, 0, 0]));
    expect(await c.waitClosed()).toBe(true);
    expect(post.timeline.query({ type: 'redirection.closed' }).at(-1)?.data).toMatchObject({ reason: 'EndRedirectionSession' });
  });

  it('runs the same handshake over TLS on 16995 with the device certificate', async () => {
    const c = await connectTls(ADDR.post);
    const cert = (c.s as tls.TLSSocket).getPeerCertificate();
    expect(cert.subject.CN).toBe(`iAMT-${post.device.nvram.uuid}`);
    await solHandshake(c);
    expect(post.timeline.query({ type: 'redirection.session-start' }).at(-1)?.data).toMatchObject({ tls: true, origin: 'remote' });
    c.s.destroy();
  });

  it('refuses a device that is not configured (Pre) and an address no device owns', async () => {
    const c = await connectPlain(ADDR.pre);
    expect(await c.waitClosed()).toBe(true);
    expect(c.buf.length).toBe(0);
    expect(pre.timeline.query({ type: 'redirection.refused' })[0]?.code).toBe('REDIRECTION_PORT_CLOSED');
    const n = await connectPlain(ADDR.none);
    expect(await n.waitClosed()).toBe(true);
    expect(listener.stats.unrouted).toBeGreaterThanOrEqual(1);
  });

  it('tells local from remote by source address (CSME 16: plain port local only)', async () => {
    const remote = await connectPlain(ADDR.amt16);
    expect(await remote.waitClosed()).toBe(true);
    expect(amt16.timeline.query({ type: 'redirection.refused' })[0]?.data).toMatchObject({ origin: 'remote' });
    // amt16 has no lease here, so its address is the one it was reached on.
    const local = await connectPlain(ADDR.amt16, ADDR.amt16);
    local.s.write(startSol);
    expect((await local.take(13))[0]).toBe(0x11);
    expect(amt16.timeline.query({ type: 'redirection.session-start' })[0]?.data).toMatchObject({ origin: 'local' });
    local.s.destroy();
  });

  it('closes on garbage and keeps serving', async () => {
    const g = await connectPlain(ADDR.post);
    g.s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await g.waitClosed()).toBe(true);
    expect(post.timeline.query({ type: 'redirection.closed', code: 'REDIRECTION_PROTOCOL' }).length).toBeGreaterThanOrEqual(1);
    const tlsGarbage = await new Promise<Conn>((resolve) => {
      const s = net.connect({ host: ADDR.post, port: ports.tls! }, () => resolve(new Conn(s)));
    });
    tlsGarbage.s.write(Buffer.alloc(64, 0xff));
    expect(await tlsGarbage.waitClosed()).toBe(true);
    const ok = await connectPlain(ADDR.post);
    await solHandshake(ok);
    ok.s.destroy();
  });
});
