/**
 * Fuzz: raw HTTP bytes over a real loopback socket into the shared 16992 listener
 * (src/network/listeners.ts + node's parser + AmtHttpService). Every case ends with a status line
 * or a close, never a crash or a stuck socket, and the other device keeps answering Identify.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { rawRequest } from '../fixtures/wsman/digest-client.js';
import { mutatedText, note, params, report, RUNS } from './harness.js';

const base = `127.${30 + (process.pid % 60)}.${((process.pid >> 8) % 250) + 1}`;
const IDENTIFY = '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><w:Identify/></s:Body></s:Envelope>';
const WIRE_RUNS = Math.max(50, Math.floor(RUNS / 4));

let A: AmtDevice;
let B: AmtDevice;
let listeners: PortListeners;
beforeAll(async () => {
  A = (await makeTestDevice({ deviceId: 'wireA', address: `${base}.51`, profile: 'amt12', image: provisionedImage('Adm1n!pass') })).device;
  B = (await makeTestDevice({ deviceId: 'wireB', address: `${base}.52`, profile: 'amt12', image: provisionedImage('Adm1n!pass') })).device;
  const devices = new Map([
    [A.address!, A],
    [B.address!, B],
  ]);
  listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0, headersTimeoutMs: 1000, idleTimeoutMs: 1500 });
  await listeners.start();
});
afterAll(async () => {
  await listeners?.stop();
});

/** Send bytes, half-close, collect the answer until the server closes (bounded by its timeouts). */
function exchange(bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: A.address!, port: listeners.httpPort }, () => s.end(bytes));
    let out = '';
    const guard = setTimeout(() => s.destroy(), 8000);
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(guard);
      resolve(out);
    });
  });
}

const valid = fc
  .tuple(fc.constantFrom('POST', 'GET', 'PUT', 'HEAD', 'OPTIONS'), fc.constantFrom('/wsman', '/', '/index.htm', '/x'), fc.constantFrom('', IDENTIFY, '<a/>'), fc.constantFrom('', 'Authorization: Digest username="admin", nonce="x", response=""\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: -1\r\n', 'Content-Length: 1e3\r\n'))
  .map(([m, u, body, extra]) => `${m} ${u} HTTP/1.1\r\nHost: a\r\n${extra}${extra.includes('Content-Length') || extra.includes('chunked') ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`);

describe('fuzz: raw HTTP on the 16992 listener (real sockets)', () => {
  it('random and mutated requests: a status line or a close; B still answers', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedText(valid), valid, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'))), async (text) => {
        const t0 = performance.now();
        const out = await exchange(Buffer.from(text, 'latin1'));
        note('http wire', performance.now() - t0);
        if (out.length > 0) expect(out).toMatch(/^HTTP\/1\.1 \d{3} /);
        expect(out).not.toMatch(/^HTTP\/1\.1 5/);
      }),
      params(WIRE_RUNS),
    );
    report('http wire', WIRE_RUNS);
    const r = await rawRequest({ host: B.address!, port: listeners.httpPort }, 'POST', '/wsman', IDENTIFY);
    expect(r.status).toBe(200);
    expect(listeners.connectionCount).toBe(0);
  }, 120_000);
});
