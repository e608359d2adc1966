import { describe, expect, it } from 'vitest';
import { md5hex } from '../../src/device/redirection/auth.js';
import { RedirectionSession, type RedirectionSessionOptions } from '../../src/device/redirection/session.js';
import { SolConsole } from '../../src/device/redirection/sol-console.js';
import { makeDevice } from '../helpers/device-fixture.js';

const PASS = 'P@ssw0rd!';

function postDevice() {
  const f = makeDevice({
    deviceId: 'redir1',
    image: (img) => {
      img.provisioning.state = 'Post';
      img.provisioning.controlMode = 'ACM';
      img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
    },
  });
  return f;
}

/** A session wired to an in-memory transport; `out` collects everything the device sent. */
function open(opts: Partial<RedirectionSessionOptions> = {}) {
  const f = postDevice();
  const out: Buffer[] = [];
  let closed = false;
  const con = new SolConsole();
  const s = new RedirectionSession(
    f.device,
    { send: (b) => out.push(Buffer.from(b)), close: () => (closed = true) },
    { peer: '127.0.0.9', origin: 'remote', tls: false, console: con, ...opts },
  );
  return { ...f, s, out, con, isClosed: () => closed, take: () => Buffer.concat(out.splice(0)) };
}

const startSol = Buffer.from([0x10, 0, 0, 0, 0x53, 0x4f, 0x4c, 0x20]);
const query = Buffer.from([0x13, 0, 0, 0, 0, 0, 0, 0, 0]);

function el(s: string): Buffer {
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
}
function authMsg(type: number, body: Buffer, lowByteOnly = false): Buffer {
  const h = Buffer.alloc(9);
  h[0] = 0x13;
  h[4] = type;
  if (lowByteOnly) h[5] = body.length & 0xff; // amtterm 1.4 writes only byte 5
  else h.writeUInt32LE(body.length, 5);
  return Buffer.concat([h, body]);
}
/** amtterm redir_auth_old: plain user/password. */
const plain = (u: string, p: string) => authMsg(1, Buffer.concat([el(u), el(p)]), true);
/** amtterm redir_sol_start: 24 bytes, heartbeat 5000. */
function solStart(heartbeat = 5000): Buffer {
  const b = Buffer.alloc(24);
  b[0] = 0x20;
  [1000, 100, 0, 10000, 0, heartbeat].forEach((v, i) => b.writeUInt16LE(v, 8 + 2 * i));
  return b;
}
function typed(text: string): Buffer {
  const d = Buffer.from(text, 'latin1');
  const b = Buffer.alloc(10 + d.length);
  b[0] = 0x28;
  b.writeUInt16LE(d.length, 8);
  d.copy(b, 10);
  return b;
}
/** Split SOL data frames (0x2A) out of a device byte stream. */
function solPayload(bytes: Buffer): string {
  let p = 0;
  let s = '';
  while (p < bytes.length) {
    const t = bytes[p]!;
    if (t === 0x2a) {
      const len = bytes.readUInt16LE(p + 8);
      s += bytes.subarray(p + 10, p + 10 + len).toString('latin1');
      p += 10 + len;
    } else if (t === 0x2b) p += 8;
    else throw new Error(`unexpected 0x${t.toString(16)} at ${p}`);
  }
  return s;
}

describe('redirection session: start and authentication', () => {
  it('answers StartRedirectionSession with a 13-byte 0x11 success and OEM length 0', () => {
    const t = open();
    t.s.receive(startSol);
    const r = t.take();
    expect(r.length).toBe(13);
    expect(r[0]).toBe(0x11);
    expect(r[1]).toBe(0);
    expect(r[12]).toBe(0);
    expect(t.timeline.query({ type: 'redirection.session-start' })[0]?.data).toMatchObject({ session: 'SOL', accepted: true });
  });

  it('rejects an unknown session tag with status 1 and closes', () => {
    const t = open();
    t.s.receive(Buffer.from([0x10, 0, 0, 0, 0x41, 0x42, 0x43, 0x44]));
    expect(t.take()[1]).toBe(1);
    expect(t.isClosed()).toBe(true);
  });

  it('lists plain and both digest types in reply to the query', () => {
    const t = open();
    t.s.receive(startSol);
    t.take();
    t.s.receive(query);
    const r = t.take();
    expect([...r.subarray(0, 9)]).toEqual([0x14, 0, 0, 0, 0, 3, 0, 0, 0]);
    expect([...r.subarray(9)]).toEqual([1, 3, 4]);
  });

  it('accepts plain auth with the admin password (hashed with the NVRAM realm) and rejects a wrong one', () => {
    const t = open();
    t.s.receive(startSol);
    t.s.receive(plain('admin', PASS));
    const ok = t.take().subarray(13);
    expect([...ok]).toEqual([0x14, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(t.s.state).toBe('ready');

    const u = open();
    u.s.receive(startSol);
    u.s.receive(plain('admin', 'nope'));
    expect(u.take().subarray(13)[1]).toBe(1);
    const ev = u.timeline.query({ type: 'redirection.auth' })[0]!;
    expect(ev.code).toBe('REDIRECTION_AUTH_FAILED');
    expect(ev.data).toMatchObject({ ok: false, authType: 1 });
    expect(u.s.state).toBe('auth');
  });

  it('closes after three failed authentications', () => {
    const t = open();
    t.s.receive(startSol);
    for (let i = 0; i < 3; i++) t.s.receive(plain('admin', `bad${i}`));
    expect(t.isClosed()).toBe(true);
    const closed = t.timeline.query({ type: 'redirection.closed' })[0]!;
    expect(closed.code).toBe('REDIRECTION_AUTH_FAILED');
  });

  it('a device without an admin password accepts nobody', () => {
    const t = open();
    t.device.update((img) => {
      delete img.adminAcl.digestHash;
    });
    t.s.receive(Buffer.concat([startSol, plain('admin', PASS)]));
    expect(t.take().subarray(13)[1]).toBe(1);
  });

  describe('digest (type 4, as MeshCentral sends it)', () => {
    const uri = '/RedirectionService';
    const opening = authMsg(4, Buffer.concat([el('admin'), Buffer.from([0, 0]), el(uri), Buffer.from([0, 0, 0, 0])]));
    function parseChallenge(r: Buffer) {
      expect(r[0]).toBe(0x14);
      expect(r[1]).toBe(1);
      expect(r[4]).toBe(4);
      const body = r.subarray(9, 9 + r.readUInt32LE(5));
      const out: string[] = [];
      for (let p = 0; p < body.length; p += 1 + body[p]!) out.push(body.subarray(p + 1, p + 1 + body[p]!).toString('latin1'));
      return out;
    }
    function answer(realm: string, nonce: string, pass: string, opts: { response?: string; qop?: string } = {}) {
      const cnonce = 'a'.repeat(32);
      const nc = '00000002';
      const qop = opts.qop ?? 'auth';
      const response = opts.response ?? md5hex(`${md5hex(`admin:${realm}:${pass}`)}:${nonce}:${nc}:${cnonce}:${qop}:${md5hex(`POST:${uri}`)}`);
      return authMsg(4, Buffer.concat([el('admin'), el(realm), el(nonce), el(uri), el(cnonce), el(nc), el(response), el(qop)]));
    }

    it('challenges with the NVRAM realm, a 32-char nonce and qop auth, then accepts the right answer', () => {
      const t = open();
      t.s.receive(Buffer.concat([startSol, opening]));
      const [realm, nonce, qop] = parseChallenge(t.take().subarray(13));
      expect(realm).toBe(t.device.nvram.digestRealm);
      expect(nonce).toHaveLength(32);
      expect(qop).toBe('auth');
      t.s.receive(answer(realm!, nonce!, PASS));
      expect([...t.take()]).toEqual([0x14, 0, 0, 0, 4, 0, 0, 0, 0]);
      expect(t.timeline.query({ type: 'redirection.auth' })[0]?.data).toMatchObject({ ok: true, authType: 4, user: 'admin' });
    });

    it('answers a wrong password with a fresh challenge, and never accepts an empty response or a reused nonce', () => {
      const t = open();
      t.s.receive(Buffer.concat([startSol, opening]));
      const [realm, nonce] = parseChallenge(t.take().subarray(13));
      t.s.receive(answer(realm!, nonce!, 'wrong'));
      const [, nonce2] = parseChallenge(t.take());
      expect(nonce2).not.toBe(nonce);
      t.s.receive(answer(realm!, nonce2!, PASS, { response: '' }));
      const [, nonce3] = parseChallenge(t.take());
      // Replaying the first nonce with the right password still fails: nonces are single-use.
      t.s.receive(answer(realm!, nonce!, PASS));
      expect(t.isClosed()).toBe(true);
      expect(t.timeline.count({ type: 'redirection.auth', code: 'REDIRECTION_AUTH_FAILED' })).toBe(3);
      expect(nonce3).toBeDefined();
    });
  });
});

describe('redirection session: serial over LAN', () => {
  function solSession(heartbeat = 5000) {
    const t = open();
    t.s.receive(Buffer.concat([startSol, plain('admin', PASS)]));
    t.take();
    t.s.receive(solStart(heartbeat));
    return t;
  }

  it('replies 0x21 in 23 bytes and records sol-start', () => {
    const t = solSession();
    const r = t.take();
    expect(r.length).toBe(23);
    expect(r[0]).toBe(0x21);
    expect(r[1]).toBe(0);
    expect(t.s.state).toBe('sol');
    expect(t.timeline.query({ type: 'redirection.sol-start' })[0]?.data).toMatchObject({ ok: true, heartbeat: 5000, maxTxBuffer: 1000 });
  });

  it('holds host output right after 0x21 so it is never coalesced behind the reply, then sends it as 0x2A', async () => {
    const t = solSession(0);
    t.take();
    t.con.write('hello from amt');
    expect(t.out).toHaveLength(0);
    await t.clock.advance(250);
    expect(solPayload(t.take())).toBe('hello from amt');
    t.con.write('x'.repeat(2500));
    const frames = t.out.splice(0);
    expect(frames.map((f) => f.readUInt16LE(8))).toEqual([1000, 1000, 500]);
    expect(t.con.scrollback()).toBe(`hello from amt${'x'.repeat(2500)}`);
  });

  it('releases held output as soon as the console speaks', () => {
    const t = solSession(0);
    t.take();
    t.con.write('boot> ');
    t.s.receive(typed('dir\r'));
    expect(solPayload(t.take())).toBe('boot> ');
    expect(t.con.read()).toBe('dir\r');
    expect(t.con.read()).toBe('');
  });

  it('reassembles keystroke frames split byte by byte and coalesced together', () => {
    const t = solSession(0);
    const stream = Buffer.concat([typed('ab'), typed(''), typed('cde'), Buffer.from([0x2b, 0, 0, 0, 1, 0, 0, 0]), typed('f')]);
    for (const byte of stream) t.s.receive(Buffer.from([byte]));
    expect(t.con.read()).toBe('abcdef');
    const again = solSession(0);
    again.s.receive(stream);
    expect(again.con.read()).toBe('abcdef');
  });

  it('sends heartbeats at the interval the console asked for', async () => {
    const t = solSession(5000);
    t.take();
    await t.clock.advance(250);
    await t.clock.advance(5000);
    t.s.receive(Buffer.from([0x2b, 0, 0, 0, 0, 0, 0, 0])); // amtterm's echo
    await t.clock.advance(5000);
    const beats = t.take();
    expect(beats.length).toBe(16);
    expect(beats[0]).toBe(0x2b);
    expect(beats[8]).toBe(0x2b);
    expect(t.s.closed).toBe(false);
  });

  it('closes an idle console after the idle timeout', async () => {
    const t = solSession(0);
    await t.clock.advance(120_000);
    expect(t.isClosed()).toBe(true);
    expect(t.timeline.query({ type: 'redirection.closed' })[0]?.code).toBe('REDIRECTION_TIMEOUT');
    expect(t.con.attached).toBe(false);
  });

  it('refuses a second SOL session on the same console', () => {
    const a = solSession(0);
    const out: Buffer[] = [];
    const b = new RedirectionSession(a.device, { send: (x) => out.push(x), close: () => undefined }, { peer: 'x', origin: 'remote', tls: false, console: a.con });
    b.receive(Buffer.concat([startSol, plain('admin', PASS), solStart(0)]));
    const r = Buffer.concat(out);
    expect(r[13 + 9]).toBe(0x21);
    expect(r[13 + 9 + 1]).toBe(1);
    expect(a.timeline.query({ type: 'redirection.sol-start', code: 'REDIRECTION_BUSY' })).toHaveLength(1);
  });

  it('ends SOL with 0x23 and the session with 0x12', () => {
    const t = solSession(0);
    t.take();
    t.s.receive(Buffer.from([0x22, 0, 0, 0, 7, 0, 0, 0]));
    const r = t.take();
    expect([...r]).toEqual([0x23, 0, 0, 0, 7, 0, 0, 0]);
    expect(t.con.attached).toBe(false);
    t.s.receive(Buffer.from([0x12, 0, 0, 0]));
    expect(t.isClosed()).toBe(true);
    expect(t.timeline.query({ type: 'redirection.closed' })[0]?.data).toMatchObject({ reason: 'EndRedirectionSession' });
  });
});

describe('redirection session: garbage and other session types', () => {
  it('closes on garbage before the handshake, with a protocol code', () => {
    const t = open();
    t.s.receive(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(t.isClosed()).toBe(true);
    expect(t.timeline.query({ type: 'redirection.closed' })[0]?.code).toBe('REDIRECTION_PROTOCOL');
  });

  it('refuses SOL messages before authentication', () => {
    const t = open();
    t.s.receive(Buffer.concat([startSol, solStart()]));
    expect(t.isClosed()).toBe(true);
  });

  it('rejects an oversized authentication length without buffering it', () => {
    const t = open();
    const h = Buffer.from([0x13, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f]);
    t.s.receive(Buffer.concat([startSol, h]));
    expect(t.isClosed()).toBe(true);
  });

  it('accepts IDER and answers start (30 bytes) and feature negotiation (13 bytes)', () => {
    const t = open();
    t.s.receive(Buffer.concat([Buffer.from([0x10, 0, 0, 0, 0x49, 0x44, 0x45, 0x52]), plain('admin', PASS)]));
    t.take();
    const start = Buffer.alloc(18);
    start[0] = 0x40;
    t.s.receive(start);
    const r = t.take();
    expect(r.length).toBe(30);
    expect(r[0]).toBe(0x41);
    t.s.receive(Buffer.from([0x48, 0, 0, 0, 1, 0, 0, 0, 3, 1, 0, 0, 0]));
    const f = t.take();
    expect(f.length).toBe(13);
    expect(f[0]).toBe(0x49);
  });

  it('accepts KVM (MeshCentral tag with byte 1 = 1), replies 0x41 and then swallows raw viewer bytes', () => {
    const t = open();
    t.s.receive(Buffer.concat([Buffer.from([0x10, 1, 0, 0, 0x4b, 0x56, 0x4d, 0x52]), plain('admin', PASS)]));
    t.take();
    t.s.receive(Buffer.concat([Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('RFB 003.008\n')]));
    expect([...t.take()]).toEqual([0x41, 0, 0, 0, 0, 0, 0, 0]);
    t.s.receive(Buffer.alloc(100_000, 7));
    expect(t.s.state).toBe('kvm');
    expect(t.isClosed()).toBe(false);
  });
});
