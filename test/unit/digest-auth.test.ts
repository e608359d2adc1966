import { describe, expect, it } from 'vitest';
import { AmtHttpService, type HttpSession } from '../../src/device/http/amt-http.js';
import { challengeHeader, DEFAULT_NONCE_LIFETIME_MS, parseDigestAuthorization } from '../../src/device/http/digest.js';
import { digestHeader, parseChallenge } from '../fixtures/wsman/digest-client.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { VirtualClock } from '../../src/clock/virtual-clock.js';

const GET_GENERAL =
  '<?xml version="1.0" encoding="utf-8"?><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>1</a:MessageID></Header><Body></Body></Envelope>';
const PASS = 'Adm1n!pass';
const remote: HttpSession = { conn: { port: 16992, origin: 'remote', peerAddress: '127.0.0.1', tls: false }, pkiSession: false };

async function setup() {
  const t = await makeTestDevice({ profile: 'amt12', image: provisionedImage(PASS) });
  const http = new AmtHttpService();
  const body = Buffer.from(GET_GENERAL);
  const first = await http.handle(t.device, remote, { method: 'POST', url: '/wsman', body });
  const ch = parseChallenge(first.headers['WWW-Authenticate'])!;
  return { ...t, http, body, first, ch };
}

describe('HTTP digest as AMT does it', () => {
  it('challenges with the realm, a 32-char nonce and qop "auth-int, auth", then accepts a good digest', async () => {
    const { device, http, body, first, ch } = await setup();
    expect(first.status).toBe(401);
    expect(first.close).toBe(true);
    expect(first.body).toContain('Log on failed. Incorrect user name or password, or user account temporarily locked.');
    expect(first.headers['Server']).toBe(`Intel(R) Active Management Technology ${device.nvram.firmware.version}`);
    expect(first.headers['WWW-Authenticate']).toMatch(/^Digest realm="Digest:[0-9A-F]{32}", nonce="[A-Za-z0-9+/]{32}",stale="false",qop="auth-int, auth"$/);
    expect(ch.realm).toBe(device.nvram.digestRealm);
    for (const qop of ['auth', 'auth-int'] as const) {
      const ok = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, qop, nc: qop === 'auth' ? 1 : 2, body }) });
      expect(ok.status).toBe(200);
      expect(ok.chunked).toBe(true);
      expect(ok.headers['Content-Type']).toBe('application/soap+xml;charset=UTF-8');
      expect(ok.headers['X-Frame-Options']).toBe('DENY');
      expect(ok.body).toContain(`<g:DigestRealm>${device.nvram.digestRealm}</g:DigestRealm>`);
    }
  });

  it('rejects a wrong password with 401 and records http.auth-failed', async () => {
    const { device, http, body, ch, timeline } = await setup();
    const r = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: digestHeader({ user: 'admin', pass: 'wrong', realm: ch.realm, nonce: ch.nonce, body }) });
    expect(r.status).toBe(401);
    expect(timeline.query({ type: 'http.auth-failed' })).toHaveLength(1);
  });

  it('rejects a replayed nonce count', async () => {
    const { device, http, body, ch } = await setup();
    const auth = digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, nc: 5, body });
    expect((await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: auth })).status).toBe(200);
    expect((await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: auth })).status).toBe(401);
    const lower = digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, nc: 4, body });
    expect((await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: lower })).status).toBe(401);
    const higher = digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, nc: 6, body });
    expect((await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: higher })).status).toBe(200);
  });

  it('answers stale="true" for a valid digest on a nonce past its lifetime (device clock)', async () => {
    const { device, http, body, ch, clock } = await setup();
    await (clock as VirtualClock).advance(DEFAULT_NONCE_LIFETIME_MS + 1);
    const r = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, body }) });
    expect(r.status).toBe(401);
    const fresh = parseChallenge(r.headers['WWW-Authenticate'])!;
    expect(fresh.stale).toBe('true');
    expect(fresh.nonce).not.toBe(ch.nonce);
    const again = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: fresh.nonce, body }) });
    expect(again.status).toBe(200);
  });

  it('answers Basic with 401 (wsl curl path) and never authenticates an empty response (CVE-2017-5689)', async () => {
    const { device, http, body, ch } = await setup();
    const basic = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: `Basic ${Buffer.from(`admin:${PASS}`).toString('base64')}` });
    expect(basic.status).toBe(401);
    const empty = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, body, response: '' }) });
    expect(empty.status).toBe(401);
    const partial = await http.handle(device, remote, { method: 'POST', url: '/wsman', body, authorization: digestHeader({ user: 'admin', pass: PASS, realm: ch.realm, nonce: ch.nonce, body, response: 'a' }) });
    expect(partial.status).toBe(401);
  });

  it('serves GET / and /index.htm as 401 with the same challenge', async () => {
    const { device, http } = await setup();
    for (const url of ['/', '/index.htm']) {
      const r = await http.handle(device, remote, { method: 'GET', url, body: Buffer.alloc(0) });
      expect(r.status).toBe(401);
      expect(parseChallenge(r.headers['WWW-Authenticate'])!.realm).toBe(device.nvram.digestRealm);
    }
  });

  it('accepts the local system account only from the host OS (origin local)', async () => {
    const t = await makeTestDevice({ profile: 'amt12' });
    const http = new AmtHttpService();
    const body = Buffer.from(GET_GENERAL);
    const lsa = t.device.nvram.localSystemAccount;
    const first = await http.handle(t.device, remote, { method: 'POST', url: '/wsman', body });
    const ch = parseChallenge(first.headers['WWW-Authenticate'])!;
    const local: HttpSession = { ...remote, conn: { ...remote.conn, origin: 'local', peerAddress: '127.77.1.1' } };
    const auth = (nc: number) => digestHeader({ user: lsa.username, pass: lsa.password, realm: ch.realm, nonce: ch.nonce, nc, body });
    expect((await http.handle(t.device, remote, { method: 'POST', url: '/wsman', body, authorization: auth(1) })).status).toBe(401);
    expect((await http.handle(t.device, local, { method: 'POST', url: '/wsman', body, authorization: auth(2) })).status).toBe(200);
  });

  it('parses quoted values with commas and refuses garbage', () => {
    expect(parseDigestAuthorization('Digest username="a,b", realm="r", nc=00000001, response="x"')).toEqual({ username: 'a,b', realm: 'r', nc: '00000001', response: 'x' });
    expect(parseDigestAuthorization('Basic abc')).toBeUndefined();
    expect(parseDigestAuthorization('Digest "unterminated')).toBeUndefined();
    expect(challengeHeader('Digest:AB', 'n', true)).toContain('stale="true"');
  });
});
