import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DigestSession, digestHa1, digestResponse, parseDigestChallenge } from '../../src/provisioning/digest.js';
import { HttpFramingError, takeHttpResponse } from '../../src/provisioning/http-response.js';
import { WsmanClient } from '../../src/provisioning/wsman-client.js';
import { eprSelector, parseEnvelope, WsmanError } from '../../src/provisioning/wsman-xml.js';

describe('digest (RFC 2617 §3.5 example)', () => {
  const challenge = parseDigestChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')!;

  it('parses the challenge', () => {
    expect(challenge).toEqual({ realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: ['auth', 'auth-int'], opaque: '5ccc069c403ebaf9f0171e9517f40e41' });
  });

  it('computes the RFC response value', () => {
    const r = digestResponse({ username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', challenge, nc: 1, cnonce: '0a4f113b' });
    expect(r).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('counts nc per nonce and restarts it on a new challenge', () => {
    const s = new DigestSession('Mufasa', 'Circle Of Life', () => '0a4f113b');
    expect(s.authorization('GET', '/x')).toBeUndefined();
    s.accept(challenge);
    expect(s.authorization('GET', '/dir/index.html')).toContain('nc=00000001');
    expect(s.authorization('GET', '/dir/index.html')).toContain('nc=00000002');
    s.accept({ ...challenge, nonce: 'n2' });
    const h = s.authorization('GET', '/dir/index.html')!;
    expect(h).toContain('nc=00000001');
    expect(h).toContain('nonce="n2"');
  });

  it('parses an AMT 16.1 challenge (reference §6.2) and the admin ACL hash', () => {
    const c = parseDigestChallenge('Digest realm="Digest:2517B2332AFD88353D5F5FD352697901", nonce="QYePBLMVAAAAAAAAjfXveceOM5bNfu/K",stale="false",qop="auth-int, auth"')!;
    expect(c.realm).toBe('Digest:2517B2332AFD88353D5F5FD352697901');
    expect(c.qop).toEqual(['auth-int', 'auth']);
    expect(c.stale).toBe(false);
    expect(digestHa1('admin', c.realm, 'P@ssw0rd')).toMatch(/^[0-9a-f]{32}$/);
    expect(parseDigestChallenge('Basic realm="x"')).toBeUndefined();
  });
});

describe('HTTP response framing', () => {
  it('decodes AMT-style chunked bodies with 4-digit upper-case sizes', () => {
    const body = 'A'.repeat(0x4f6);
    const raw = Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: Intel(R) Active Management Technology 16.1.25.2124\r\n\r\n04F6\r\n${body}\r\n0000\r\n\r\n`);
    expect(takeHttpResponse(raw.subarray(0, raw.length - 3))).toBeUndefined();
    const r = takeHttpResponse(raw)!;
    expect(r.consumed).toBe(raw.length);
    expect(r.response.body.toString()).toBe(body);
    expect(r.response.headers.server).toContain('16.1.25.2124');
  });

  it('frames by Content-Length and reports truncation at close', () => {
    const raw = Buffer.from('HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nabc');
    expect(takeHttpResponse(raw)).toBeUndefined();
    expect(() => takeHttpResponse(raw, true)).toThrow(HttpFramingError);
    expect(() => takeHttpResponse(Buffer.from('SSH-2.0-x\r\n\r\n'))).toThrow(/bad status line/);
  });
});

describe('WS-Man response parsing', () => {
  it('reads a real-shaped Get response regardless of prefixes', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:g="http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:RelatesTo>0</b:RelatesTo><b:Action a:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000001</b:MessageID></a:Header><a:Body><g:AMT_GeneralSettings><g:DigestRealm>Digest:F3EB554784E729164447A89F60B641C5</g:DigestRealm><g:HostName>pc&amp;1</g:HostName><g:InstanceID>Intel(r) AMT: General Settings</g:InstanceID></g:AMT_GeneralSettings></a:Body></a:Envelope>`;
    const env = parseEnvelope(xml);
    expect(env.fault).toBeUndefined();
    expect(Object.keys(env.body)).toEqual(['AMT_GeneralSettings']);
  });

  it('turns a fault into code/subcode/reason', () => {
    const xml = `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing"><a:Header/><a:Body><a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>b:DestinationUnreachable</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang="en-US">No route can be determined to reach the destination role defined by the WS-Addressing To.</a:Text></a:Reason><a:Detail></a:Detail></a:Fault></a:Body></a:Envelope>`;
    const env = parseEnvelope(xml);
    expect(env.fault?.code).toBe('a:Sender');
    expect(env.fault?.subcode).toBe('b:DestinationUnreachable');
    expect(env.fault?.reason).toMatch(/No route/);
  });

  it('reads the InstanceID selector of an EPR', () => {
    const xml = `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:c="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:g="http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicKeyManagementService"><a:Body><g:AddCertificate_OUTPUT><g:CreatedCertificate><b:Address>/wsman</b:Address><b:ReferenceParameters><c:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicKeyCertificate</c:ResourceURI><c:SelectorSet><c:Selector Name="InstanceID">Intel(r) AMT Certificate: Handle: 1</c:Selector></c:SelectorSet></b:ReferenceParameters></g:CreatedCertificate><g:ReturnValue>0</g:ReturnValue></g:AddCertificate_OUTPUT></a:Body></a:Envelope>`;
    const env = parseEnvelope(xml);
    expect(eprSelector((env.body.AddCertificate_OUTPUT as Record<string, never>).CreatedCertificate)).toBe('Intel(r) AMT Certificate: Handle: 1');
    expect(() => parseEnvelope('<html>nope</html>')).toThrow(WsmanError);
  });
});

/** A tiny digest-protected WS-Man endpoint on loopback, answering with chunked bodies like AMT. */
function fakeAmt(realm: string, password: string): Promise<{ server: http.Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push(req.headers.authorization ? 'auth' : 'anon');
      const auth = req.headers.authorization;
      const nonce = 'QYePBLMVAAAAAAAAjfXveceOM5bNfu/K';
      const ok = auth && (() => {
        const f = Object.fromEntries([...auth.matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]));
        const expected = digestResponse({ username: f.username!, password, method: 'POST', uri: f.uri!, challenge: { realm, nonce, qop: ['auth'] }, nc: parseInt(f.nc!, 16), cnonce: f.cnonce! });
        return f.response === expected && f.username === 'admin';
      })();
      if (!ok) {
        res.writeHead(401, { 'WWW-Authenticate': `Digest realm="${realm}", nonce="${nonce}",stale="false",qop="auth-int, auth"`, 'Content-Type': 'text/html', Connection: 'close' });
        res.end('Log on failed.');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/soap+xml;charset=UTF-8', Server: 'Intel(R) Active Management Technology 16.1.25.2124' });
      const method = /SetMEBxPassword/.test(body) ? 'SetMEBxPassword' : undefined;
      const xml = method
        ? `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:g="x"><a:Header/><a:Body><g:${method}_OUTPUT><g:ReturnValue>16</g:ReturnValue></g:${method}_OUTPUT></a:Body></a:Envelope>`
        : `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:g="x"><a:Header/><a:Body><g:AMT_GeneralSettings><g:DigestRealm>${realm}</g:DigestRealm></g:AMT_GeneralSettings></a:Body></a:Envelope>`;
      res.write(xml.slice(0, 40));
      res.end(xml.slice(40));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, seen })));
}

describe('WsmanClient over a loopback socket', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('answers the digest challenge once and reads chunked replies', async () => {
    const f = await fakeAmt('Digest:F3EB554784E729164447A89F60B641C5', 'P@ssw0rd');
    server = f.server;
    const c = new WsmanClient({ host: '127.0.0.1', port: f.port, username: 'admin', password: 'P@ssw0rd', timeoutMs: 5000 });
    const g = await c.get(c.amt.GeneralSettings.Get(), 'AMT_GeneralSettings');
    expect(g.DigestRealm).toBe('Digest:F3EB554784E729164447A89F60B641C5');
    // Second request reuses the challenge: no extra 401.
    const r = await c.invoke(c.amt.SetupAndConfigurationService.SetMEBXPassword('x'), 'SetMEBxPassword');
    expect(r.returnValue).toBe(16);
    expect(f.seen).toEqual(['anon', 'auth', 'auth']);
    expect(c.serverHeader).toContain('16.1.25.2124');
    c.close();
  });

  it('fails with WSMAN_AUTH_FAILED on a wrong password after one retry', async () => {
    const f = await fakeAmt('Digest:F3EB554784E729164447A89F60B641C5', 'right');
    server = f.server;
    const c = new WsmanClient({ host: '127.0.0.1', port: f.port, username: 'admin', password: 'wrong', timeoutMs: 5000 });
    await expect(c.get(c.amt.GeneralSettings.Get(), 'AMT_GeneralSettings')).rejects.toMatchObject({ code: 'WSMAN_AUTH_FAILED' });
    expect(f.seen).toEqual(['anon', 'auth']);
    c.close();
  });

  it('reports a refused connection as WSMAN_CONNECT_FAILED', async () => {
    const f = await fakeAmt('Digest:F3EB554784E729164447A89F60B641C5', 'x');
    const port = f.port;
    await new Promise<void>((r) => f.server.close(() => r()));
    const c = new WsmanClient({ host: '127.0.0.1', port, username: 'admin', password: '', timeoutMs: 5000 });
    await expect(c.send(c.amt.GeneralSettings.Get())).rejects.toMatchObject({ code: 'WSMAN_CONNECT_FAILED' });
  });
});

describe('WsmanClient faults and silence', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  });
  function rawServer(onRequest: (sock: net.Socket) => void): Promise<number> {
    const s = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.once('data', () => onRequest(sock));
    });
    servers.push(s);
    return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  }

  it('turns a SOAP fault (HTTP 400, chunked) into WSMAN_FAULT with its subcode', async () => {
    const fault = '<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing"><a:Header/><a:Body><a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>b:ActionNotSupported</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang="en-US">The action is not supported by the service.</a:Text></a:Reason></a:Fault></a:Body></a:Envelope>';
    const port = await rawServer((sock) => {
      const size = Buffer.byteLength(fault).toString(16).toUpperCase().padStart(4, '0');
      sock.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n${fault}\r\n0\r\n\r\n`);
    });
    const c = new WsmanClient({ host: '127.0.0.1', port, username: 'admin', password: '', timeoutMs: 5000 });
    const err = await c.send(c.amt.GeneralSettings.Get()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsmanError);
    expect(err).toMatchObject({ code: 'WSMAN_FAULT', detail: { subcode: 'b:ActionNotSupported', status: 400 } });
    c.close();
  });

  it('gives up on a silent device with WSMAN_TIMEOUT and on garbage with WSMAN_BAD_RESPONSE', async () => {
    const silent = await rawServer(() => undefined);
    const c = new WsmanClient({ host: '127.0.0.1', port: silent, username: 'admin', password: '', timeoutMs: 200 });
    await expect(c.send(c.amt.GeneralSettings.Get())).rejects.toMatchObject({ code: 'WSMAN_TIMEOUT' });
    const garbage = await rawServer((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot xml!!'));
    const g = new WsmanClient({ host: '127.0.0.1', port: garbage, username: 'admin', password: '', timeoutMs: 5000 });
    await expect(g.send(g.amt.GeneralSettings.Get())).rejects.toMatchObject({ code: 'WSMAN_BAD_RESPONSE' });
  });
});
