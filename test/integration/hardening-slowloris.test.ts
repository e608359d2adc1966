/**
 * Slowloris on real loopback sockets (issue 9 §2): hundreds of clients that trickle their
 * request headers one byte at a time, or connect and stay silent, are cut by the listener's
 * header and idle timeouts, while another device keeps answering.
 *
 * Found by this test: PortListeners hands sockets to a node:http server that never listens, and
 * node only starts the timer that enforces headersTimeout/requestTimeout on 'listening' — so a
 * client sending one byte per second held its connection forever.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
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
