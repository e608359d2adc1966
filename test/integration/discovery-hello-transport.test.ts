import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock, VirtualClock } from '../../src/clock/index.js';
import { sendHello } from '../../src/network/hello-transport.js';

const servers: net.Server[] = [];
afterEach(async () => {
  while (servers.length) {
    const s = servers.pop()!;
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A listener that records what MeshCentral's SCA sees: source address, chunks, bytes at close. */
async function listener(host = '127.0.0.1') {
  const seen: Array<{ remote: string | undefined; chunks: number; bytes: Buffer }> = [];
  let onClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => (onClosed = r));
  const srv = net.createServer((c) => {
    const chunks: Buffer[] = [];
    const remote = c.remoteAddress; // gone once the socket is closed
    c.on('data', (d) => chunks.push(d));
    c.on('close', () => {
      seen.push({ remote, chunks: chunks.length, bytes: Buffer.concat(chunks) });
      onClosed();
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return { port: (srv.address() as net.AddressInfo).port, seen, closed };
}

describe('hello transport (TCP, loopback)', () => {
  it('delivers the bytes intact from the device address and closes', async () => {
    const l = await listener();
    const hello = Buffer.alloc(25 + 24 * 34);
    for (let i = 0; i < hello.length; i++) hello[i] = (i * 7) & 0xff;
    const r = await sendHello({ clock: new RealClock() }, '127.0.0.42', { host: '127.0.0.1', port: l.port }, hello);
    expect(r).toEqual({ ok: true, value: undefined });
    await l.closed;
    expect(l.seen).toHaveLength(1);
    expect(l.seen[0]!.remote).toBe('127.0.0.42');
    expect(l.seen[0]!.bytes.equals(hello)).toBe(true);
  });

  it('works under a virtual clock (the connect window is tracked)', async () => {
    const l = await listener();
    const clock = new VirtualClock();
    const p = sendHello({ clock }, '127.0.0.43', { host: '127.0.0.1', port: l.port }, Buffer.from('hello'));
    await clock.settle();
    expect(await p).toEqual({ ok: true, value: undefined });
    await l.closed;
    expect(l.seen[0]!.remote).toBe('127.0.0.43');
    expect(clock.now()).toBe(0);
  });

  it('connection refused → HELLO_CONNECT_FAILED with the errno', async () => {
    const l = await listener();
    const port = l.port;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const r = await sendHello({ clock: new RealClock() }, '127.0.0.42', { host: '127.0.0.1', port }, Buffer.from('x'));
    expect(r).toMatchObject({ ok: false, code: 'HELLO_CONNECT_FAILED', message: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('a source address the host does not own → HELLO_CONNECT_FAILED (EADDRNOTAVAIL)', async () => {
    const l = await listener();
    const r = await sendHello({ clock: new RealClock() }, '192.0.2.1', { host: '127.0.0.1', port: l.port }, Buffer.from('x'));
    expect(r).toMatchObject({ ok: false, code: 'HELLO_CONNECT_FAILED', message: expect.stringMatching(/EADDRNOTAVAIL|EINVAL/) });
  });

  it('an invalid port is a coded error, not a throw', async () => {
    const r = await sendHello({ clock: new RealClock() }, '127.0.0.42', { host: '127.0.0.1', port: 70000 }, Buffer.from('x'));
    expect(r).toMatchObject({ ok: false, code: 'HELLO_CONNECT_FAILED' });
  });
});
