/**
 * Authentication hardening on real loopback sockets (issue 9 §3): CVE-2017-5689 (an empty digest
 * response) on 16992, 16993 and the redirection port; nonce replay and stale nonces; the
 * brute-force lockout (AUTH_LOCKED_OUT, a documented choice in amt-http.ts); TLS versions per
 * firmware profile (src/nvram/profiles.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import { LOCKOUT_MS, LOCKOUT_THRESHOLD } from '../../src/device/http/amt-http.js';
import { DEFAULT_NONCE_LIFETIME_MS, MAX_NONCES } from '../../src/device/http/digest.js';
import { md5hex } from '../../src/device/redirection/auth.js';
import { PortListeners } from '../../src/network/listeners.js';
import { RedirectionListener } from '../../src/network/redirection-listener.js';
import { DeviceCertStore } from '../../src/pki/device-cert.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { digestHeader, parseChallenge, rawRequest, type ClientTarget } from '../fixtures/wsman/digest-client.js';

const PASS = 'Adm1n!pass';
const GET = '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>1</a:MessageID></s:Header><s:Body/></s:Envelope>';
const base = `127.${120 + (process.pid % 100)}.${((process.pid >> 8) % 250) + 1}`;

const devices = new Map<string, AmtDevice>();
let a16: { device: AmtDevice; clock: VirtualClock };
/** AMT 12 still serves 16992/16994 remotely (amt16+ close the non-TLS remote ports, profiles.ts). */
let lockDev: { device: AmtDevice; clock: VirtualClock };
let a19: AmtDevice;
let a12: AmtDevice;
let other: AmtDevice;
let listeners: PortListeners;
let redir: RedirectionListener;
let redirPort = 0;

beforeAll(async () => {
  const mk = async (id: string, n: number, profile: 'amt12' | 'amt16' | 'amt19') => {
    const clock = new VirtualClock();
    const f = await makeTestDevice({ deviceId: id, address: `${base}.${n}`, profile, image: provisionedImage(PASS), clock });
    devices.set(f.device.address!, f.device);
    return { device: f.device, clock };
  };
  a16 = await mk('auth16', 11, 'amt16');
  a19 = (await mk('auth19', 12, 'amt19')).device;
  a12 = (await mk('auth12', 13, 'amt12')).device;
  other = (await mk('authB', 14, 'amt12')).device;
  lockDev = await mk('authL', 15, 'amt12');
  listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0 });
  await listeners.start();
  const certs = new DeviceCertStore();
  redir = new RedirectionListener({ host: '0.0.0.0', plainPort: 0, tlsPort: null, deviceAt: (a) => devices.get(a), tlsIdentity: (d) => certs.get(d.id, { uuid: d.nvram.uuid, now: d.clock.date() }) });
  redirPort = (await redir.start()).plain;
});
afterAll(async () => {
  await listeners?.stop();
  await redir?.stop();
});

const plain = (d: AmtDevice): ClientTarget => ({ host: d.address!, port: listeners.httpPort });
const secure = (d: AmtDevice): ClientTarget => ({ host: d.address!, port: listeners.tlsPort, tls: true });

async function challenge(t: ClientTarget): Promise<{ realm: string; nonce: string; stale: string }> {
  const r = await rawRequest(t, 'POST', '/wsman', GET);
  expect(r.status).toBe(401);
  const c = parseChallenge(r.headers['www-authenticate'] as string);
  expect(c).toBeDefined();
  return c!;
}
function post(t: ClientTarget, c: { realm: string; nonce: string }, nc: number, over: { pass?: string; response?: string; user?: string } = {}) {
  return rawRequest(t, 'POST', '/wsman', GET, {
    Authorization: digestHeader({ user: over.user ?? 'admin', pass: over.pass ?? PASS, realm: c.realm, nonce: c.nonce, nc, body: GET, qop: 'auth-int', ...(over.response !== undefined ? { response: over.response } : {}) }),
  });
}

describe('CVE-2017-5689: an empty (or truncated) digest response never authenticates', () => {
  for (const [name, target] of [
    ['16992 (plain HTTP)', plain],
    ['16993 (TLS)', secure],
  ] as const) {
    it(`on ${name}`, async () => {
      const d = other;
      const c = await challenge(target(d));
      for (const [i, response] of ['', '0', 'd41d8cd98f00b204e9800998ecf8427e'.slice(0, 16)].entries()) {
        const r = await post(target(d), c, i + 1, { response });
        expect(r.status).toBe(401);
        expect(r.body).not.toContain('AMT_GeneralSettings');
      }
      // The same nonce with the real password still works: the probe did not lock the account.
      expect((await post(target(d), c, 10)).status).toBe(200);
    });
  }

  it('on the redirection port (digest auth type 4, as MeshCentral sends it)', async () => {
    const d = other;
    const s = net.connect({ host: d.address!, port: redirPort });
    const bytes: Buffer[] = [];
    s.on('data', (b: Buffer) => bytes.push(b));
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    const take = async (n: number): Promise<Buffer> => {
      for (let i = 0; i < 60 && Buffer.concat(bytes).length < n && !s.destroyed; i++) await new Promise((r) => setTimeout(r, 50));
      const all = Buffer.concat(bytes.splice(0));
      bytes.push(all.subarray(n));
      return all.subarray(0, n);
    };
    const el = (x: string) => Buffer.concat([Buffer.from([x.length]), Buffer.from(x, 'latin1')]);
    const auth = (body: Buffer) => {
      const h = Buffer.from([0x13, 0, 0, 0, 4, 0, 0, 0, 0]);
      h.writeUInt32LE(body.length, 5);
      return Buffer.concat([h, body]);
    };
    const uri = '/RedirectionService';
    s.write(Buffer.from([0x10, 0, 0, 0, 0x53, 0x4f, 0x4c, 0x20]));
    expect((await take(13))[1]).toBe(0);
    s.write(auth(Buffer.concat([el('admin'), Buffer.from([0, 0]), el(uri), Buffer.from([0, 0, 0, 0])])));
    const head = await take(9);
    expect(head[1]).toBe(1); // challenge
    const body = await take(head.readUInt32LE(5));
    const fields: string[] = [];
    for (let p = 0; p < body.length; p += 1 + body[p]!) fields.push(body.subarray(p + 1, p + 1 + body[p]!).toString('latin1'));
    const [realm, nonce] = fields;
    s.write(auth(Buffer.concat([el('admin'), el(realm!), el(nonce!), el(uri), el('a'.repeat(32)), el('00000001'), el(''), el('auth')])));
    const reply = await take(9);
    expect(reply[0]).toBe(0x14);
    expect(reply[1]).not.toBe(0); // never "success"
    s.destroy();
    expect(d.timeline.query({ deviceId: d.id, type: 'redirection.auth', code: 'REDIRECTION_AUTH_FAILED' }).length).toBeGreaterThan(0);
  });
});

describe('digest nonces on the wire', () => {
  it('a replayed nonce-count is refused; a nonce older than its lifetime is answered stale="true"', async () => {
    const { device, clock } = lockDev;
    const c = await challenge(plain(device));
    expect((await post(plain(device), c, 1)).status).toBe(200);
    const replay = await post(plain(device), c, 1);
    expect(replay.status).toBe(401);
    expect(device.timeline.query({ deviceId: device.id, type: 'http.auth-failed' }).at(-1)?.data).toMatchObject({ reason: 'nonce count replayed' });
    expect((await post(plain(device), c, 2)).status).toBe(200);
    await clock.advance(DEFAULT_NONCE_LIFETIME_MS + 1);
    const stale = await post(plain(device), c, 3);
    expect(stale.status).toBe(401);
    expect(parseChallenge(stale.headers['www-authenticate'] as string)?.stale).toBe('true');
  });
});

describe('nonce flood', () => {
  it(`200 unauthenticated requests keep at most ${MAX_NONCES} nonces; a client whose nonce was evicted recovers through stale="true"`, async () => {
    const d = a12;
    const c = await challenge(plain(d));
    expect((await post(plain(d), c, 1)).status).toBe(200);
    for (let i = 0; i < 200; i++) await challenge(plain(d));
    expect(listeners.http.stateOf(d).nonces.size).toBeLessThanOrEqual(MAX_NONCES);
    const evicted = await post(plain(d), c, 2);
    expect(evicted.status).toBe(401);
    const fresh = parseChallenge(evicted.headers['www-authenticate'] as string)!;
    expect(fresh.stale).toBe('true');
    expect((await post(plain(d), fresh, 1)).status).toBe(200);
  });
});

describe('brute force: firmware-like lockout (documented choice)', () => {
  it(`locks the account after ${LOCKOUT_THRESHOLD} wrong digests for ${LOCKOUT_MS / 1000} s of device time, even against the right password; other devices unaffected`, async () => {
    const { device, clock } = lockDev;
    const c = await challenge(plain(device));
    let nc = 1;
    for (let i = 0; i < LOCKOUT_THRESHOLD; i++) expect((await post(plain(device), c, nc++, { pass: `guess${i}` })).status).toBe(401);
    const locked = device.timeline.query({ deviceId: device.id, type: 'http.auth-locked' });
    expect(locked).toHaveLength(1);
    expect(locked[0]!.code).toBe('AUTH_LOCKED_OUT');
    // Locked: the right password is refused too, on both ports, and the 401 page says why.
    const r = await post(plain(device), c, nc++);
    expect(r.status).toBe(401);
    expect(r.body).toContain('user account temporarily locked');
    expect((await post(secure(device), c, nc++)).status).toBe(401);
    expect(device.timeline.count({ deviceId: device.id, type: 'http.auth-failed', code: 'AUTH_LOCKED_OUT' })).toBe(2);
    // amt16 refuses 16992 from the network altogether (the plain port is closed there).
    expect(await rawRequest(plain(a16.device), 'POST', '/wsman', GET).catch((e: Error) => e.message)).toMatch(/ECONNRESET/);
    // Another device is not affected; Identify (no credentials) still answers on the locked one.
    const o = await challenge(plain(other));
    expect((await post(plain(other), o, 1)).status).toBe(200);
    const id = await rawRequest(plain(device), 'POST', '/wsman', '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><w:Identify/></s:Body></s:Envelope>');
    expect(id.status).toBe(200);
    // The lock is clock-driven: one millisecond short is still locked, then the account is back.
    await clock.advance(LOCKOUT_MS - 5);
    expect((await post(plain(device), c, nc++)).status).toBe(401);
    await clock.advance(10);
    expect((await post(plain(device), c, nc++)).status).toBe(200);
    // A success resets the count: threshold − 1 failures do not lock again.
    for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++) await post(plain(device), c, nc++, { pass: 'nope' });
    expect((await post(plain(device), c, nc++)).status).toBe(200);
    expect(device.timeline.count({ deviceId: device.id, type: 'http.auth-locked' })).toBe(1);
  });

  it('unknown user names never lock anything and never grow the lock table', async () => {
    const c = await challenge(secure(a19));
    for (let i = 0; i < LOCKOUT_THRESHOLD + 2; i++) expect((await post(secure(a19), c, i + 1, { user: `u${i}` })).status).toBe(401);
    expect(a19.timeline.count({ deviceId: a19.id, type: 'http.auth-locked' })).toBe(0);
    expect((await post(secure(a19), c, 50)).status).toBe(200);
  });
});

describe('TLS versions per firmware profile (16993)', () => {
  function handshake(d: AmtDevice, version: tls.SecureVersion): Promise<string> {
    return new Promise((resolve) => {
      const s = tls.connect({ host: d.address!, port: listeners.tlsPort, rejectUnauthorized: false, minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' }, () => {
        const p = s.getProtocol() ?? 'none';
        s.destroy();
        resolve(p);
      });
      s.on('error', (e) => resolve(`refused: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
  }
  it('amt12 (positive control) accepts TLS 1.1 from this client; amt16 refuses it', async () => {
    expect(await handshake(a12, 'TLSv1.1')).toBe('TLSv1.1');
    expect(await handshake(a16.device, 'TLSv1.1')).toMatch(/^refused/);
    expect(await handshake(a16.device, 'TLSv1.2')).toBe('TLSv1.2');
  });
  it('amt19 accepts TLS 1.3; amt16 refuses TLS 1.3', async () => {
    expect(await handshake(a19, 'TLSv1.3')).toBe('TLSv1.3');
    expect(await handshake(a16.device, 'TLSv1.3')).toMatch(/^refused/);
  });
});
