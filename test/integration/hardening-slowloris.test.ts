/**
 * Slowloris on real loopback sockets (issue 9 §2): hundreds of clients that trickle their
 * request headers one byte at a time, or connect and stay silent, are cut by the listener's
 * header and idle timeouts, while another device keeps answering.
 *
 * The same on the redirection port (16994) for a device in virtual time, whose session timers
 * never fire unless someone advances the clock.
 *
 * Found by this test: PortListeners hands sockets to a node:http server that never listens, and
 * node only starts the timer that enforces headersTimeout/requestTimeout on 'listening' — so a
 * client sending one byte per second held its connection forever.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { md5hex } from '../../src/device/redirection/auth.js';
import { PortListeners } from '../../src/network/listeners.js';
import { RedirectionListener } from '../../src/network/redirection-listener.js';
import { makeDevice } from '../helpers/device-fixture.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { rawRequest } from '../fixtures/wsman/digest-client.js';

const PASS = 'Adm1n!pass';
const base = `127.${160 + (process.pid % 90)}.${((process.pid >> 8) % 250) + 1}`;
const IDENTIFY = '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><w:Identify/></s:Body></s:Envelope>';
const MB = 1024 * 1024;

let A: AmtDevice;
let B: AmtDevice;
let listeners: PortListeners;

beforeAll(async () => {
  A = (await makeTestDevice({ deviceId: 'slowA', address: `${base}.41`, profile: 'amt12', image: provisionedImage(PASS) })).device;
  B = (await makeTestDevice({ deviceId: 'slowB', address: `${base}.42`, profile: 'amt12', image: provisionedImage(PASS) })).device;
  const devices = new Map([
    [A.address!, A],
    [B.address!, B],
  ]);
  listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0, idleTimeoutMs: 3_000, headersTimeoutMs: 2_000 });
  await listeners.start();
});
afterAll(async () => {
  await listeners?.stop();
});

async function identifyB(): Promise<void> {
  const r = await rawRequest({ host: B.address!, port: listeners.httpPort }, 'POST', '/wsman', IDENTIFY);
  expect(r.status).toBe(200);
  expect(r.body).toContain('IdentifyResponse');
}

type End = 'client gave up' | '4xx' | 'closed';

/** A client that sends a request line and then `trickle` (one byte a second, ≤ 30) or nothing. */
function slowClient(trickle: boolean, timers: NodeJS.Timeout[]): Promise<End> {
  return new Promise((resolve) => {
    const s = net.connect({ host: A.address!, port: listeners.httpPort });
    let got = '';
    let sent = 0;
    s.on('connect', () => {
      s.write('POST /wsman HTTP/1.1\r\nHost: a\r\n');
      // Bounded: after 30 bytes (30 s) the client gives up on its own — the server failed to cut it.
      const iv = setInterval(() => {
        if (s.destroyed) return clearInterval(iv);
        if (++sent > 30) {
          clearInterval(iv);
          s.destroy();
          return;
        }
        if (trickle) s.write('X');
      }, 1000);
      timers.push(iv);
    });
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => resolve(sent > 30 ? 'client gave up' : /^HTTP\/1\.1 4\d\d /.test(got) ? '4xx' : 'closed'));
  });
}

describe('slowloris', () => {
  it('300 clients trickling headers and 100 silent ones are all cut by the server; B answers meanwhile', async () => {
    const rss0 = process.memoryUsage().rss;
    const timers: NodeJS.Timeout[] = [];
    const trickling = Array.from({ length: 300 }, () => slowClient(true, timers));
    const silent = Array.from({ length: 100 }, () => slowClient(false, timers));
    await new Promise((r) => setTimeout(r, 500));
    await identifyB();
    const t0 = performance.now();
    const [t, s] = await Promise.all([Promise.all(trickling), Promise.all(silent)]);
    for (const iv of timers) clearInterval(iv);
    console.log(`[hardening] slowloris: 300 trickling + 100 silent clients cut after ${((performance.now() - t0) / 1000).toFixed(1)} s (headersTimeout 2 s, idle 3 s), RSS +${((process.memoryUsage().rss - rss0) / MB).toFixed(1)} MB`);
    expect(t.filter((o) => o === 'client gave up')).toHaveLength(0);
    expect(s.filter((o) => o === 'client gave up')).toHaveLength(0);
    // The listener closes a too-slow request without an answer (like its idle timeout).
    expect(t.filter((o) => o === 'closed').length).toBe(300);
    await identifyB();
    expect(listeners.connectionCount).toBe(0);
  }, 60_000);
});

describe('slow and silent consoles on the redirection port (device in virtual time)', () => {
  const PASS = 'Sup3r$ecret';
  const f = makeDevice({
    deviceId: 'slowR',
    profile: 'amt12',
    image: (img) => {
      img.provisioning.state = 'Post';
      img.provisioning.controlMode = 'ACM';
      img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
    },
  });
  const address = `${base}.43`;
  let redir: RedirectionListener;
  let port = 0;
  beforeAll(async () => {
    f.device.powerOn();
    redir = new RedirectionListener({ host: '0.0.0.0', plainPort: 0, tlsPort: null, deviceAt: (a) => (a === address ? f.device : undefined), handshakeWallTimeoutMs: 1_000 });
    port = (await redir.start()).plain;
  });
  afterAll(async () => {
    await redir?.stop();
  });

  function consoleConn(first: Buffer | undefined, trickle: boolean, timers: NodeJS.Timeout[]): { closed: Promise<boolean>; socket: net.Socket } {
    const s = net.connect({ host: address, port });
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    const closed = new Promise<boolean>((resolve) => {
      // Bounded: after 15 s the test gives up on the server and reports the socket as still open.
      const giveUp = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 15_000);
      s.on('close', () => {
        clearTimeout(giveUp);
        resolve(true);
      });
    });
    s.on('connect', () => {
      if (first) s.write(first);
      if (trickle) {
        // An AuthenticateSession header announcing a 1,000-byte body, then a byte every 200 ms.
        s.write(Buffer.from([0x13, 0, 0, 0, 1, 0xe8, 0x03, 0, 0]));
        const iv = setInterval(() => (s.destroyed ? clearInterval(iv) : s.write('x')), 200);
        timers.push(iv);
      }
    });
    return { closed, socket: s };
  }

  it('silent and trickling consoles are cut by the wall-time handshake guard; a started SOL session is not', async () => {
    const startSol = Buffer.from([0x10, 0, 0, 0, 0x53, 0x4f, 0x4c, 0x20]);
    const timers: NodeJS.Timeout[] = [];
    const silent = Array.from({ length: 100 }, () => consoleConn(undefined, false, timers));
    const trickling = Array.from({ length: 50 }, () => consoleConn(startSol, true, timers));
    // A console that completes the handshake and starts SOL.
    const el = (x: string) => Buffer.concat([Buffer.from([x.length]), Buffer.from(x)]);
    const auth = Buffer.concat([Buffer.from([0x13, 0, 0, 0, 1, 0, 0, 0, 0]), el('admin'), el(PASS)]);
    auth.writeUInt32LE(auth.length - 9, 5);
    const sol = Buffer.alloc(24);
    sol[0] = 0x20;
    [1000, 100, 0, 10000, 0, 0].forEach((v, i) => sol.writeUInt16LE(v, 8 + 2 * i));
    const good = consoleConn(undefined, false, timers);
    await new Promise<void>((r) => good.socket.once('connect', () => r()));
    good.socket.write(startSol);
    await new Promise((r) => setTimeout(r, 100));
    good.socket.write(auth);
    await new Promise((r) => setTimeout(r, 100));
    good.socket.write(sol);
    const results = await Promise.all([...silent, ...trickling].map((c) => c.closed));
    for (const iv of timers) clearInterval(iv);
    expect(results.filter((x) => !x)).toHaveLength(0);
    // The SOL console outlived the guard and is still connected.
    expect(good.socket.destroyed).toBe(false);
    expect(f.timeline.count({ type: 'redirection.sol-start' })).toBe(1);
    good.socket.destroy();
    expect(f.timeline.count({ type: 'redirection.closed', code: 'REDIRECTION_TIMEOUT' })).toBe(150);
  }, 60_000);
});
