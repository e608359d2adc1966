/**
 * HTTP as the AMT web server does it (reference §6.2): one POST /wsman endpoint with Digest
 * authentication, the Web UI paths answering 401 with the same challenge, and the firmware's
 * headers. Socket handling lives in src/network/listeners.ts; this module turns one parsed
 * request into one response, so it runs in virtual time in unit tests.
 */
import type { AmtDevice } from '../device.js';
import { identifyResponse, isIdentify, WsmanService } from '../wsman/service.js';
import { isFault } from '../wsman/faults.js';
import { faultEnvelope } from '../wsman/envelope.js';
import { parseEnvelope } from '../wsman/request.js';
import { WsmanDeviceState, type Account, type ConnectionInfo } from '../wsman/types.js';
import { challengeHeader, digestHa1, NonceStore, parseDigestAuthorization, parseNc, responseMatches, type DigestParams } from './digest.js';

export const MAX_BODY_BYTES = 256 * 1024;

/**
 * Brute-force lockout. The firmware's 401 page says "Incorrect user name or password, or user
 * account temporarily locked" (reference §6.2) and its event log reports "Authentication failed
 * x times. The system may be under attack", but no public source gives the threshold or the
 * duration. choice: after LOCKOUT_THRESHOLD consecutive wrong digests for a known account, that
 * account is refused for LOCKOUT_MS of device-clock time — even with the right password, so the
 * lock is no oracle. A success resets the count; a missing Authorization header (the first leg
 * of every digest exchange), a stale nonce or an unknown user name never counts. RAM state: a
 * power loss clears it, like the nonces. Documented in docs/hardening.md.
 */
export const LOCKOUT_THRESHOLD = 5;
export const LOCKOUT_MS = 60_000;

interface AccountLock {
  failures: number;
  lockedUntil: number;
}

export interface HttpRequestIn {
  method: string;
  url: string;
  authorization?: string;
  body: Buffer;
}

export interface HttpResponseOut {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Close the connection after this response (AMT closes after a 401). */
  close: boolean;
  /** Send with chunked transfer encoding, like the firmware's SOAP responses (§6.2). */
  chunked: boolean;
}

export interface HttpSession {
  conn: ConnectionInfo;
  /** This TLS connection passed PKI-CH and the device's remoteSession belongs to it. */
  pkiSession: boolean;
}

const LOGON_FAILED_HTML =
  '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" >\n<html><head><link rel=stylesheet href=/styles.css>\n' +
  '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n<title>Intel&reg; Active Management Technology</title></head>\n' +
  '<body>\n<table class=header>\n<tr><td valign=top nowrap>\n<p class=top1>Intel<font class=r><sup>&reg;</sup></font> Active Management Technology\n' +
  '</td></tr></table>\n<br>\n<h2 class=warn>Log on failed. Incorrect user name or password, or user account temporarily locked.</h2>\n\n' +
  '<p>\n<form METHOD="GET" action="index.htm"><h2><input type=submit value="Try again">\n</form>\n<p>\n\n</body>\n</html>\n';

interface DeviceHttpState {
  nonces: NonceStore;
  wsman: WsmanDeviceState;
  /** By user name; only accounts that exist (admin, LSA), so random names cannot grow it. */
  locks: Map<string, AccountLock>;
}

export class AmtHttpService {
  private readonly perDevice = new WeakMap<AmtDevice, DeviceHttpState>();
  private readonly wsman = new WsmanService();

  /** RAM state of a device's web server (nonces, enumerations, pending TLS settings). */
  stateOf(device: AmtDevice): DeviceHttpState {
    let s = this.perDevice.get(device);
    if (!s) {
      s = { nonces: new NonceStore(device.clock, device.random), wsman: new WsmanDeviceState(), locks: new Map() };
      this.perDevice.set(device, s);
    }
    return s;
  }

  /** Forget RAM state (power loss). */
  reset(device: AmtDevice): void {
    this.perDevice.delete(device);
  }

  private baseHeaders(device: AmtDevice): Record<string, string> {
    return { Server: `Intel(R) Active Management Technology ${device.nvram.firmware.version}`, 'X-Frame-Options': 'DENY' };
  }

  private challenge(device: AmtDevice, stale: boolean): HttpResponseOut {
    const nonce = this.stateOf(device).nonces.issue();
    return {
      status: 401,
      headers: { 'WWW-Authenticate': challengeHeader(device.nvram.digestRealm, nonce, stale), 'Content-Type': 'text/html', ...this.baseHeaders(device) },
      body: LOGON_FAILED_HTML,
      close: true,
      chunked: false,
    };
  }

  private soap(device: AmtDevice, status: number, xml: string): HttpResponseOut {
    return { status, headers: { ...this.baseHeaders(device), 'Content-Type': 'application/soap+xml;charset=UTF-8' }, body: xml, close: false, chunked: true };
  }

  private plain(device: AmtDevice, status: number, text: string, close = true): HttpResponseOut {
    return { status, headers: { ...this.baseHeaders(device), 'Content-Type': 'text/html' }, body: text, close, chunked: false };
  }

  /**
   * Which account this request authenticates as, or a 401. The digest is checked before the
   * nonce so a valid answer to an expired nonce gets `stale="true"` (RFC 7616 §3.3).
   */
  authenticate(device: AmtDevice, session: HttpSession, req: HttpRequestIn): Account | HttpResponseOut {
    // §1.3 step 4: the PKI-CH client-certificate session is authorised without a digest challenge.
    if (session.pkiSession) return 'pki';
    const params = parseDigestAuthorization(req.authorization);
    if (!params) {
      if (req.authorization) device.record('http.auth-failed', { reason: /^\s*basic/i.test(req.authorization) ? 'Basic is not accepted' : 'malformed Authorization' });
      return this.challenge(device, false);
    }
    const img = device.nvram;
    const user = params['username'] ?? '';
    const ha1 = this.ha1For(device, session, user);
    const lock = ha1 ? this.lockOf(device, user) : undefined;
    if (lock && device.clock.now() < lock.lockedUntil) {
      device.record('http.auth-failed', { username: user.slice(0, 32), reason: 'account locked', lockedUntil: lock.lockedUntil }, 'AUTH_LOCKED_OUT');
      return this.challenge(device, false);
    }
    if (!ha1 || params['realm'] !== img.digestRealm || !params['nonce'] || !responseMatches(params, ha1, req)) {
      device.record('http.auth-failed', { username: user.slice(0, 32), reason: ha1 ? 'wrong digest' : 'unknown user' });
      if (lock && ++lock.failures >= LOCKOUT_THRESHOLD) {
        lock.failures = 0;
        lock.lockedUntil = device.clock.now() + LOCKOUT_MS;
        device.record('http.auth-locked', { username: user.slice(0, 32), failures: LOCKOUT_THRESHOLD, lockedForMs: LOCKOUT_MS }, 'AUTH_LOCKED_OUT');
      }
      return this.challenge(device, false);
    }
    const nc = parseNc(params['nc']);
    if (params['qop'] !== undefined && nc === undefined) return this.challenge(device, false);
    const check = this.stateOf(device).nonces.use(params['nonce'], nc ?? 1);
    if (check === 'stale') return this.challenge(device, true);
    if (check === 'replay') {
      device.record('http.auth-failed', { username: user.slice(0, 32), reason: 'nonce count replayed' });
      return this.challenge(device, false);
    }
    if (lock) lock.failures = 0;
    return this.accountOf(device, user);
  }

  private lockOf(device: AmtDevice, user: string): AccountLock {
    const locks = this.stateOf(device).locks;
    let l = locks.get(user);
    if (!l) {
      l = { failures: 0, lockedUntil: 0 };
      locks.set(user, l);
    }
    return l;
  }

  private ha1For(device: AmtDevice, session: HttpSession, user: string): string | undefined {
    const img = device.nvram;
    if (user === img.adminAcl.username && img.adminAcl.digestHash) return img.adminAcl.digestHash;
    const lsa = img.localSystemAccount;
    if (user === lsa.username && session.conn.origin === 'local') return digestHa1(user, img.digestRealm, lsa.password);
    return undefined;
  }

  private accountOf(device: AmtDevice, user: string): Account {
    return user === device.nvram.adminAcl.username && device.nvram.adminAcl.digestHash ? 'admin' : 'lsa';
  }

  async handle(device: AmtDevice, session: HttpSession, req: HttpRequestIn): Promise<HttpResponseOut> {
    const path = req.url.split('?')[0] ?? '';
    const method = req.method.toUpperCase();
    if (method === 'GET' && (path === '/' || path === '/index.htm' || path === '/logon.htm')) {
      // §6.2: the Web UI answers 401 with the same challenge as /wsman (nmap CVE-2017-5689 probe).
      const auth = this.authenticate(device, session, req);
      if (typeof auth !== 'string') return auth;
      return this.plain(device, 200, '<html><head><title>Intel&reg; Active Management Technology</title></head><body>Intel&reg; Active Management Technology</body></html>', false);
    }
    if (path !== '/wsman') return this.plain(device, 404, '<html><body>Not Found</body></html>');
    if (method !== 'POST') return this.plain(device, 405, '<html><body>Method Not Allowed</body></html>');
    if (req.body.length > MAX_BODY_BYTES) return this.plain(device, 413, '<html><body>Request Entity Too Large</body></html>');

    const auth = this.authenticate(device, session, req);
    const st = this.stateOf(device).wsman;
    if (typeof auth !== 'string') {
      // Identify answers without credentials (DSP0226 §11; `wsl id`), everything else gets the challenge.
      if (req.body.length > 0 && req.body.length < 8192) {
        const parsed = parseEnvelope(req.body.toString('utf8'));
        if (!isFault(parsed) && isIdentify(parsed)) return this.soap(device, 200, identifyResponse(device.nvram.firmware.version));
      }
      return auth;
    }
    const parsed = parseEnvelope(req.body.toString('utf8'));
    if (isFault(parsed)) {
      device.record('wsman.fault', { subcode: parsed.subcode, reason: parsed.reason });
      return this.soap(device, parsed.httpStatus, faultEnvelope(parsed, '0', st.nextMessageId()));
    }
    if (isIdentify(parsed)) return this.soap(device, 200, identifyResponse(device.nvram.firmware.version));
    const reply = await this.wsman.handle({ device, account: auth, conn: session.conn, state: st }, parsed);
    return this.soap(device, reply.status, reply.xml);
  }
}

export type { DigestParams };
