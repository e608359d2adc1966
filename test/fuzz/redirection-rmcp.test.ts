/**
 * Fuzz: redirection frames and sessions (16994/16995, reference §6.3 — frames.ts, session.ts,
 * auth.ts) and RMCP presence pings (UDP 623, rmcp.ts). A session fed any bytes, split anyhow,
 * either keeps going or closes with a coded timeline event; its buffer stays bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { md5hex } from '../../src/device/redirection/auth.js';
import { frameLength, FrameReader, type FrameContext } from '../../src/device/redirection/frames.js';
import { RedirectionSession } from '../../src/device/redirection/session.js';
import { SolConsole } from '../../src/device/redirection/sol-console.js';
import { parsePresencePing } from '../../src/network/rmcp.js';
import { makeDevice } from '../helpers/device-fixture.js';
import { mutatedBytes, params, report, RUNS, timed } from './harness.js';

const PASS = 'P@ssw0rd!';
const el = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
function authMsg(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h[0] = 0x13;
  h[4] = type;
  h.writeUInt32LE(body.length, 5);
  return Buffer.concat([h, body]);
}
const tagBytes = fc.constantFrom('SOL ', 'IDER', 'KVMR', 'XXXX');
const start = tagBytes.map((t) => Buffer.concat([Buffer.from([0x10, 0, 0, 0]), Buffer.from(t, 'latin1')]));
const plainLogin = fc.constantFrom(authMsg(1, Buffer.concat([el('admin'), el(PASS)])), authMsg(1, Buffer.concat([el('admin'), el('wrong')])), authMsg(0, Buffer.alloc(0)), authMsg(4, Buffer.alloc(0)));
/** A frame of any known type with a plausible header and random body. */
const frame = fc.tuple(fc.constantFrom(0x12, 0x13, 0x20, 0x22, 0x24, 0x27, 0x28, 0x29, 0x2b, 0x40, 0x42, 0x44, 0x47, 0x48, 0x4b, 0x99), fc.uint8Array({ maxLength: 40 })).map(([t, body]) => {
  const b = Buffer.alloc(10 + body.length);
  b[0] = t;
  if (t === 0x28) b.writeUInt16LE(body.length, 8);
  Buffer.from(body).copy(b, 10);
  return b;
});
const conversation = fc.tuple(start, plainLogin, fc.array(fc.oneof(frame, fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b))), { maxLength: 12 })).map(([s, a, rest]) => Buffer.concat([s, a, ...rest]));

/** Split a stream into TCP-like reads at random points. */
function splits(b: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % b.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let p = 0;
  for (const c of at) {
    out.push(b.subarray(p, c));
    p = c;
  }
  out.push(b.subarray(p));
  return out;
}

describe('fuzz: redirection frame length', () => {
  it('any bytes in any context: need / frame / bad, lengths within the buffer bound', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.constantFrom<FrameContext>('handshake', 'SOL ', 'IDER', 'KVMR'), (bytes, ctx) => {
        const l = timed('redir frameLength', () => frameLength(Buffer.from(bytes), ctx));
        if (l.kind === 'frame') expect(l.length).toBeLessThanOrEqual(bytes.length);
        if (l.kind === 'need') expect(l.bytes).toBeGreaterThan(bytes.length);
        if (l.kind === 'need' || l.kind === 'frame') expect(l.kind === 'need' ? l.bytes : l.length).toBeLessThanOrEqual(10 + 0xffff);
      }),
      params(),
    );
    report('redir frameLength', RUNS);
  });

  it('FrameReader never buffers past its limit and never loops without consuming', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 10 }), (chunks) => {
        const r = new FrameReader(4096);
        for (const c of chunks) {
          if (!r.push(Buffer.from(c))) break;
          expect(r.buffered).toBeLessThanOrEqual(4096);
          for (let i = 0; i < 5000; i++) {
            const before = r.buffered;
            const f = r.next('SOL ');
            if (f === undefined || !Buffer.isBuffer(f)) break;
            expect(r.buffered).toBeLessThan(before);
          }
        }
      }),
      params(RUNS / 2),
    );
  });
});

describe('fuzz: redirection session', () => {
  it('random and mutated conversations over random TCP splits: no throw, coded close, bounded output', () => {
    let closes = 0;
    let coded = 0;
    fc.assert(
      fc.property(fc.oneof(conversation, mutatedBytes(conversation), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))), fc.array(fc.nat(), { maxLength: 6 }), (stream, cuts) => {
        const f = makeDevice({
          deviceId: 'rz',
          image: (img) => {
            img.provisioning.state = 'Post';
            img.provisioning.controlMode = 'ACM';
            img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
          },
        });
        let out = 0;
        let closed = false;
        const s = new RedirectionSession(f.device, { send: (b) => void (out += b.length), close: () => void (closed = true) }, { peer: '127.0.0.9', origin: 'remote', tls: false, console: new SolConsole() });
        timed('redir session', () => {
          for (const piece of splits(stream, cuts)) s.receive(piece);
        });
        expect(out).toBeLessThan(1_000_000);
        if (s.closed) {
          closes++;
          expect(closed).toBe(true);
          const ev = f.timeline.query({ type: 'redirection.closed' });
          expect(ev).toHaveLength(1);
          if (ev[0]!.code) coded++;
        }
        s.close('test end');
      }),
      params(),
    );
    report('redir session', RUNS);
    expect(closes).toBeGreaterThan(0);
    expect(coded).toBeGreaterThan(0);
  });
});

describe('fuzz: RMCP presence ping', () => {
  it('random and mutated datagrams: a ping or undefined, never a throw', () => {
    const ping = fc.tuple(fc.nat(255), fc.nat(255)).map(([seq, tag]) => Buffer.from([0x06, 0x00, seq, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag, 0x00, 0x00]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)), mutatedBytes(ping)), (b) => {
        const p = timed('rmcp ping', () => parsePresencePing(b));
        if (p) {
          expect(p.tag).toBeLessThan(256);
          expect(b.length).toBeGreaterThanOrEqual(12);
        }
      }),
      params(),
    );
    report('rmcp ping', RUNS);
  });

  it('round trip: a presence ping parses back to its tag and sequence', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.nat(255), (seq, tag) => {
        expect(parsePresencePing(Buffer.from([0x06, 0x00, seq, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag, 0x00, 0x00]))).toEqual({ tag, sequence: seq });
      }),
      params(1000),
    );
  });
});
