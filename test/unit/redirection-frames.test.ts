import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader, frameLength } from '../../src/device/redirection/frames.js';

function sol(text: string): Buffer {
  const b = Buffer.alloc(10 + text.length);
  b[0] = 0x28;
  b.writeUInt16LE(text.length, 8);
  b.write(text, 10, 'latin1');
  return b;
}
const heartbeat = Buffer.from([0x2b, 0, 0, 0, 9, 0, 0, 0]);
const settings = Buffer.from([0x27, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x1b, 0, 0, 0]);

describe('frameLength', () => {
  it('knows the fixed and length-prefixed sizes (amtterm RedirectionConstants.h)', () => {
    expect(frameLength(Buffer.from([0x10, 0, 0, 0, 0x53, 0x4f, 0x4c, 0x20]), 'handshake')).toEqual({ kind: 'frame', length: 8 });
    expect(frameLength(Buffer.from([0x13, 0, 0, 0, 1, 5, 0, 0, 0]), 'handshake')).toEqual({ kind: 'need', bytes: 14 });
    expect(frameLength(Buffer.from([0x12, 0, 0, 0]), 'SOL ')).toEqual({ kind: 'frame', length: 4 });
    expect(frameLength(sol('abc'), 'SOL ')).toEqual({ kind: 'frame', length: 13 });
    expect(frameLength(Buffer.from([0x28, 0, 0]), 'SOL ')).toEqual({ kind: 'need', bytes: 10 });
    expect(frameLength(settings, 'SOL ')).toEqual({ kind: 'frame', length: 14 });
    // 0x40 is an 18-byte StartIDER in IDER, an 8-byte start in KVM.
    expect(frameLength(Buffer.alloc(18, 0x40), 'IDER')).toEqual({ kind: 'frame', length: 18 });
    expect(frameLength(Buffer.alloc(18, 0x40), 'KVMR')).toEqual({ kind: 'frame', length: 8 });
  });

  it('calls garbage garbage', () => {
    expect(frameLength(Buffer.from('GET /'), 'handshake').kind).toBe('bad');
    expect(frameLength(Buffer.from([0x28]), 'handshake').kind).toBe('bad');
    expect(frameLength(Buffer.from([0x48]), 'SOL ').kind).toBe('bad');
    expect(frameLength(Buffer.from([0x13, 0, 0, 0, 1, 0, 0, 1, 0]), 'handshake').kind).toBe('bad');
  });
});

describe('FrameReader', () => {
  const stream = Buffer.concat([sol('hello'), heartbeat, settings, sol(''), sol('x'.repeat(300)), heartbeat]);
  const expected = [sol('hello'), heartbeat, settings, sol(''), sol('x'.repeat(300)), heartbeat].map((b) => b.toString('hex'));

  it('yields the same frames however TCP splits or coalesces the stream', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const r = new FrameReader();
        const got: string[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          expect(r.push(stream.subarray(prev, p))).toBe(true);
          prev = p;
          for (let f = r.next('SOL '); f !== undefined; f = r.next('SOL ')) {
            if (!Buffer.isBuffer(f)) throw new Error(f.error);
            got.push(f.toString('hex'));
          }
        }
        expect(got).toEqual(expected);
        expect(r.buffered).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to buffer past its bound', () => {
    const r = new FrameReader(100);
    expect(r.push(Buffer.alloc(60))).toBe(true);
    expect(r.push(Buffer.alloc(60))).toBe(false);
    expect(r.buffered).toBe(60);
  });
});
