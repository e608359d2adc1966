/**
 * stdio-guard.ts: an EPIPE means the reader has gone (writes dropped, no error); any other
 * stream error is reported once, as one line.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { guardStdio, readerGone } from '../../src/cli/stdio-guard.js';

function sink(): { stream: Writable; got: string[] } {
  const got: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk.toString());
      cb();
    },
  });
  return { stream, got };
}

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`write ${code}`), { code, syscall: 'write' });
}

describe('guardStdio', () => {
  it('after EPIPE, writes are dropped (callbacks still run) and nothing is fatal', async () => {
    const { stream, got } = sink();
    const fatal: string[] = [];
    guardStdio([{ stream, name: 'stdout' }], { onFatal: (l) => fatal.push(l) });
    stream.write('before\n');
    stream.emit('error', errnoError('EPIPE'));
    expect(readerGone(stream)).toBe(true);
    const called = await new Promise<boolean>((resolve) => stream.write('after\n', () => resolve(true)));
    expect(called).toBe(true);
    expect(got).toEqual(['before\n']);
    expect(fatal).toEqual([]);
  });

  it('another stream error is fatal, reported once as one line', () => {
    const { stream } = sink();
    const fatal: string[] = [];
    guardStdio([{ stream, name: 'stdout' }], { onFatal: (l) => fatal.push(l) });
    guardStdio([{ stream, name: 'stdout' }], { onFatal: (l) => fatal.push(`again: ${l}`) }); // idempotent
    stream.emit('error', errnoError('EIO'));
    stream.emit('error', errnoError('EIO'));
    expect(fatal).toEqual(['cannot write to stdout: write EIO']);
  });
});
