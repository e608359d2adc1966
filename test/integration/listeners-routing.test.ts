import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { DigestClient, digestHeader, parseChallenge, rawRequest } from '../fixtures/wsman/digest-client.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';

const PASS = 'Adm1n!pass';
const GET_GENERAL =
  '<?xml version="1.0" encoding="utf-8"?><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>1</a:MessageID></Header><Body></Body></Envelope>';

/** Resolves with how the connection ended: 'reset', 'closed' (FIN) or the first bytes read. */
function probe(host: string, port: number, send?: string): Promise<{ end: 'reset' | 'closed'; data: string }> {
  return new Promise((resolve) => {
    let data = '';
    const s: Socket = connect({ host, port });
    const timer = setTimeout(() => s.destroy(), 8000);
    s.on('connect', () => send !== undefined && s.write(send));
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', () => {
      clearTimeout(timer);
      resolve({ end: 'reset', data });
    });
    s.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve({ end: 'closed', data });
    });
  });
}

describe('PortListeners: one socket per port, routed by destination address', () => {
  const devices = new Map<string, AmtDevice>();
  let listeners: PortListeners;
  let d1: AmtDevice;
  let d2: AmtDevice;
  let pre: AmtDevice;

  beforeAll(async () => {
    d1 = (await makeTestDevice({ deviceId: 'pc1', address: '127.77.1.1', profile: 'amt12', image: provisionedImage(PASS) })).device;
    d2 = (await makeTestDevice({ deviceId: 'pc2', address: '127.77.1.2', profile: 'amt12', image: provisionedImage(PASS) })).device;
    pre = (await makeTestDevice({ deviceId: 'pc3', address: '127.77.1.3', profile: 'amt12' })).device;
    for (const d of [d1, d2, pre]) devices.set(d.address!, d);
    listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0, headersTimeoutMs: 1500, idleTimeoutMs: 3000 });
    await listeners.start();
  });
  afterAll(async () => {
    await listeners.stop();
  });

  it('answers each address with its own device (realm, Server header)', async () => {
    for (const d of [d1, d2]) {
      const c = new DigestClient({ host: d.address!, port: listeners.httpPort }, 'admin', PASS);
      const r = await c.post(GET_GENERAL);
      expect(r.status).toBe(200);
      expect(r.body).toContain(`<g:DigestRealm>${d.nvram.digestRealm}</g:DigestRealm>`);
      expect(r.headers['server']).toBe(`Intel(R) Active Management Technology ${d.nvram.firmware.version}`);
      expect(r.headers['transfer-encoding']).toBe('chunked');
    }
    expect(d1.nvram.digestRealm).not.toBe(d2.nvram.digestRealm);
  });

  it('frames SOAP responses as the firmware does: chunk sizes in 4-digit upper-case hex (reference §6.2)', async () => {
    const first = await rawRequest({ host: d1.address!, port: listeners.httpPort }, 'POST', '/wsman', GET_GENERAL);
    const c = parseChallenge(first.headers['www-authenticate'] as string)!;
    const auth = digestHeader({ user: 'admin', pass: PASS, realm: c.realm, nonce: c.nonce, body: GET_GENERAL, qop: 'auth-int' });
    const wire = await new Promise<string>((resolve, reject) => {
      const s: Socket = connect({ host: d1.address!, port: listeners.httpPort }, () => {
        s.write(`POST /wsman HTTP/1.1\r\nHost: ${d1.address}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nAuthorization: ${auth}\r\nContent-Length: ${Buffer.byteLength(GET_GENERAL)}\r\n\r\n${GET_GENERAL}`);
      });
      let out = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        out += d;
        if (out.endsWith('\r\n0\r\n\r\n')) {
          s.destroy();
          resolve(out);
        }
      });
      s.on('error', reject);
      setTimeout(() => reject(new Error(`no complete response: ${JSON.stringify(out.slice(0, 200))}`)), 5000).unref();
    });
    const [head, rest] = [wire.slice(0, wire.indexOf('\r\n\r\n')), wire.slice(wire.indexOf('\r\n\r\n') + 4)];
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toContain('Transfer-Encoding: chunked');
    const size = /^([0-9A-F]{4})\r\n/.exec(rest);
    expect(size, rest.slice(0, 20)).not.toBeNull();
    const n = parseInt(size![1]!, 16);
    const body = rest.slice(6, 6 + n);
    expect(body).toContain('<g:DigestRealm>');
    expect(rest.slice(6 + n)).toBe('\r\n0\r\n\r\n');
  });

  it('resets connections to an address no device owns, and to a filtered port', async () => {
    expect((await probe('127.77.1.9', listeners.httpPort)).end).toBe('reset');
    // A factory (Pre) device keeps its remote ports filtered (reference §6.1).
    expect((await probe(pre.address!, listeners.httpPort)).end).toBe('reset');
    expect((await probe(pre.address!, listeners.tlsPort)).end).toBe('reset');
  });

  it('serves the host OS (connection from the device address) with the local system account', async () => {
    const lsa = pre.nvram.localSystemAccount;
    const c = new DigestClient({ host: pre.address!, port: listeners.httpPort, localAddress: pre.address! }, lsa.username, lsa.password);
    const r = await c.post(GET_GENERAL);
    expect(r.status).toBe(200);
  });

  it('garbage and a slow client on one device do not disturb the other', async () => {
    const slow = connect({ host: d1.address!, port: listeners.httpPort });
    let slowClosed = false;
    slow.on('error', () => undefined);
    slow.on('close', () => (slowClosed = true));
    slow.write('POST /wsman HTTP/1.1\r\nHost: x\r\n');
    const garbage = await probe(d1.address!, listeners.httpPort, '\x16\x03\x01\x00\xff garbage \r\n\r\n');
    expect(garbage.data).toMatch(/^HTTP\/1\.1 400/);
    const c = new DigestClient({ host: d2.address!, port: listeners.httpPort }, 'admin', PASS);
    expect((await c.post(GET_GENERAL)).status).toBe(200);
    // The half-sent request is cut by the headers timeout (bounded wait, no timing assertion).
    for (let i = 0; i < 100 && !slowClosed; i++) await new Promise((r) => setTimeout(r, 100));
    expect(slowClosed).toBe(true);
  });

  it('refuses an oversized body with 413', async () => {
    const big = 'x'.repeat(300 * 1024);
    const r = await rawRequest({ host: d1.address!, port: listeners.httpPort }, 'POST', '/wsman', big);
    expect(r.status).toBe(413);
  });

  it('serves 16993 over TLS with the device certificate and digest', async () => {
    const c = new DigestClient({ host: d1.address!, port: listeners.tlsPort, tls: true }, 'admin', PASS);
    const r = await c.post(GET_GENERAL);
    expect(r.status).toBe(200);
    expect(r.body).toContain(d1.nvram.digestRealm);
  });
});
