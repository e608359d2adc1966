/**
 * Resource limits on real loopback sockets (issue 9 §2): XML entity bombs, deep nesting,
 * oversized bodies, and a flood of concurrent connections to one device —
 * (slowloris: hardening-slowloris.test.ts) — process memory stays bounded and another device keeps answering WS-Man throughout.
 *
 * The flood's client side runs in a child process so the two ends do not share one fd table:
 * this process holds the N server-side sockets, the child the N client sockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { DigestClient, rawRequest } from '../fixtures/wsman/digest-client.js';

const PASS = 'Adm1n!pass';
const base = `127.${140 + (process.pid % 100)}.${((process.pid >> 8) % 250) + 1}`;
const NS = 'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"';
const header = '<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>1</a:MessageID></s:Header>';
const GET = `<s:Envelope ${NS}>${header}<s:Body/></s:Envelope>`;
const IDENTIFY = '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><w:Identify/></s:Body></s:Envelope>';
const MB = 1024 * 1024;

/** The fd limit of this process, from /proc (the flood size is bounded by it). */
function fdLimit(): number {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 1024;
}

let A: AmtDevice;
let B: AmtDevice;
let listeners: PortListeners;
const devices = new Map<string, AmtDevice>();

beforeAll(async () => {
  A = (await makeTestDevice({ deviceId: 'limA', address: `${base}.31`, profile: 'amt12', image: provisionedImage(PASS) })).device;
  B = (await makeTestDevice({ deviceId: 'limB', address: `${base}.32`, profile: 'amt12', image: provisionedImage(PASS) })).device;
  devices.set(A.address!, A);
  devices.set(B.address!, B);
  // Generous timeouts: the flood's idle connections must stay open while we measure.
  listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0, idleTimeoutMs: 120_000, headersTimeoutMs: 55_000 });
  await listeners.start();
});
afterAll(async () => {
  await listeners?.stop();
});

async function identifyB(port = listeners.httpPort): Promise<void> {
  const r = await rawRequest({ host: B.address!, port }, 'POST', '/wsman', IDENTIFY);
  expect(r.status).toBe(200);
  expect(r.body).toContain('IdentifyResponse');
}

describe('hostile XML and bodies (authenticated, so the parser really runs)', () => {
  let client: DigestClient;
  beforeAll(() => {
    client = new DigestClient({ host: A.address!, port: listeners.httpPort }, 'admin', PASS);
  });

  it('an entity bomb (billion laughs) is refused before any expansion', async () => {
    const lol = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>';
    const rss0 = process.memoryUsage().rss;
    const r = await client.post(`<?xml version="1.0"?>${lol}<s:Envelope ${NS}>${header}<s:Body><x>&lol9;</x></s:Body></s:Envelope>`);
    expect(r.status).toBe(400);
    expect(r.body).toContain('SchemaValidationError');
    // An external entity (XXE) the same way.
    const xxe = await client.post(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><s:Envelope ${NS}>${header}<s:Body><x>&e;</x></s:Body></s:Envelope>`);
    expect(xxe.status).toBe(400);
    expect(xxe.body).not.toContain('root:');
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * MB);
  });

  it('deep nesting and element floods get an EncodingLimit fault', async () => {
    const deep = await client.post(`<s:Envelope ${NS}>${header}<s:Body>${'<x>'.repeat(20_000)}${'</x>'.repeat(20_000)}</s:Body></s:Envelope>`);
    expect(deep.status).toBe(400);
    expect(deep.body).toContain('EncodingLimit');
    const wide = await client.post(`<s:Envelope ${NS}>${header}<s:Body>${'<x/>'.repeat(10_000)}</s:Body></s:Envelope>`);
    expect(wide.status).toBe(400);
    expect(wide.body).toContain('EncodingLimit');
  });

  it('oversized bodies: 413 for a large body, a huge declared Content-Length and an endless chunked body', async () => {
    const big = await rawRequest({ host: A.address!, port: listeners.httpPort }, 'POST', '/wsman', 'x'.repeat(300 * 1024));
    expect(big.status).toBe(413);
    const declared = await rawHttp(A.address!, listeners.httpPort, `POST /wsman HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000000\r\n\r\n`);
    expect(declared).toMatch(/^HTTP\/1\.1 413/);
    // Chunked, 64 KiB chunks, up to 2 MiB: the server answers 413 once past its 256 KiB limit.
    const chunk = `${(64 * 1024).toString(16)}\r\n${'y'.repeat(64 * 1024)}\r\n`;
    const endless = await rawHttp(A.address!, listeners.httpPort, 'POST /wsman HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', Array(32).fill(chunk));
    expect(endless).toMatch(/^HTTP\/1\.1 413/);
    await identifyB();
  });
});

/** Write a raw request (and optional further pieces), return what the server sent before closing (≤ 10 s). */
function rawHttp(host: string, port: number, head: string, pieces: string[] = []): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let out = '';
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(out);
    };
    const t = setTimeout(done, 10_000);
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (/\r\n\r\n/.test(out)) done();
    });
    s.on('error', done);
    s.on('close', done);
    s.write(head);
    for (const p of pieces) if (!s.destroyed) s.write(p);
  });
}

describe('connection flood', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('N idle connections to device A (10,000 when the fd limit allows): RSS bounded, device B answers WS-Man throughout', async () => {
    const limit = fdLimit();
    const N = Math.min(10_000, limit - 1000);
    const script = `
      const net = require('net');
      const [host, port, n] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
      let i = 0, inflight = 0, connected = 0, failed = 0; const socks = [];
      const done = () => { if (connected + failed === n) process.stdout.write(JSON.stringify({ connected, failed }) + '\\n'); };
      const pump = () => { while (i < n && inflight < 256) open(i++); };
      function open() {
        inflight++;
        const s = net.connect({ host, port });
        s.on('connect', () => { connected++; inflight--; done(); pump(); });
        s.on('error', () => { failed++; inflight--; done(); pump(); });
        socks.push(s);
      }
      process.stdin.on('data', () => { for (const s of socks) s.destroy(); process.exit(0); });
      pump();
    `;
    const rss0 = process.memoryUsage().rss;
    child = spawn(process.execPath, ['-e', script, A.address!, String(listeners.httpPort), String(N)], { stdio: ['pipe', 'pipe', 'inherit'] });
    // B answers while the flood is being accepted.
    const during: Array<Promise<void>> = [];
    for (let k = 0; k < 5; k++) during.push(new Promise((r) => setTimeout(r, k * 300)).then(() => identifyB()));
    const summary = await new Promise<{ connected: number; failed: number }>((resolve, reject) => {
      let buf = '';
      child!.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n')[0];
        if (buf.includes('\n')) resolve(JSON.parse(line!) as { connected: number; failed: number });
      });
      child!.once('exit', (c) => reject(new Error(`flood client exited ${c}`)));
    });
    await Promise.all(during);
    // Let the server side see every accept.
    for (let k = 0; k < 100 && listeners.connectionCount < summary.connected * 0.99; k++) await new Promise((r) => setTimeout(r, 100));
    const held = listeners.connectionCount;
    const rssPeak = process.memoryUsage().rss;
    // With every connection held: a real digest WS-Man Get to B succeeds, and Identify too.
    const b = new DigestClient({ host: B.address!, port: listeners.httpPort }, 'admin', PASS);
    const get = await b.post(GET);
    expect(get.status).toBe(200);
    expect(get.body).toContain('AMT_GeneralSettings');
    await identifyB();
    child.stdin!.write('close\n');
    await new Promise<void>((r) => child!.once('exit', () => r()));
    for (let k = 0; k < 100 && listeners.connectionCount > 0; k++) await new Promise((r) => setTimeout(r, 100));
    console.log(
      `[hardening] flood: fd limit ${limit}, ${summary.connected}/${N} connected (${summary.failed} failed), ${held} held by the server, RSS ${(rss0 / MB).toFixed(0)} → ${(rssPeak / MB).toFixed(0)} MB (+${((rssPeak - rss0) / MB).toFixed(1)}), after close ${listeners.connectionCount} open`,
    );
    expect(summary.connected).toBe(N);
    expect(held).toBeGreaterThanOrEqual(N * 0.99);
    expect(rssPeak - rss0).toBeLessThan(300 * MB);
    expect(listeners.connectionCount).toBe(0);
    await identifyB();
  }, 120_000);
});
