/**
 * AuthenticateSession (0x13) bodies and their checks (reference §6.3; amtterm `auth.c`,
 * MeshCentral `amt-redir-mesh.js`). The device never stores the admin password: NVRAM has
 * adminAcl.digestHash = MD5(user:realm:password) hex, which is exactly HTTP digest's HA1, so
 * plain auth hashes the presented password the same way and compares, and digest auth uses
 * the stored hash as HA1.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AUTH_LIMITS, AUTH_TYPE } from './constants.js';

export function md5hex(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}

/** Split a body of 1-byte-length-prefixed strings; undefined if a length runs past the end. */
export function splitElements(body: Buffer, max = 16): string[] | undefined {
  const out: string[] = [];
  let p = 0;
  while (p < body.length) {
    if (out.length >= max) return undefined;
    const len = body[p]!;
    if (p + 1 + len > body.length) return undefined;
    out.push(body.subarray(p + 1, p + 1 + len).toString('latin1'));
    p += 1 + len;
  }
  return out;
}

/** Length-prefixed elements, each ≤ 255 bytes. */
export function joinElements(items: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of items) {
    const b = Buffer.from(s, 'latin1');
    parts.push(Buffer.from([Math.min(b.length, 255)]), b.subarray(0, 255));
  }
  return Buffer.concat(parts);
}

export interface AdminAccount {
  username: string;
  /** MD5(user:realm:password) hex, or undefined when no admin password has been set. */
  digestHash: string | undefined;
  realm: string;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'latin1');
  const y = Buffer.from(b.toLowerCase(), 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

export type PlainAuth = { user: string; pass: string };

/** Type 1 body: len+user, len+pass. amtterm 1.4 writes only the low byte of the length field; we read the body we framed. */
export function parsePlain(body: Buffer): PlainAuth | undefined {
  const el = splitElements(body, 2);
  if (!el || el.length !== 2) return undefined;
  const [user, pass] = el as [string, string];
  if (user.length > AUTH_LIMITS.USER || pass.length > AUTH_LIMITS.PASS) return undefined;
  return { user, pass };
}

export function checkPlain(a: PlainAuth, acct: AdminAccount): boolean {
  if (!acct.digestHash || a.user !== acct.username) return false;
  return sameHex(md5hex(`${a.user}:${acct.realm}:${a.pass}`), acct.digestHash);
}

export interface DigestAnswer {
  user: string;
  realm: string;
  nonce: string;
  uri: string;
  cnonce: string;
  nc: string;
  response: string;
  qop: string;
}

/**
 * Type 3/4 body. The opening request has empty realm/nonce/response (MeshCentral and amtterm
 * send `len user, 0, 0, len uri, 0, 0, 0[, 0]`); the answer fills them in.
 */
export function parseDigest(body: Buffer, authType: number): { kind: 'open'; user: string; uri: string } | { kind: 'answer'; a: DigestAnswer } | undefined {
  const el = splitElements(body, 8);
  if (!el || el.length < 7) return undefined;
  const [user, realm, nonce, uri, cnonce, nc, response, qop = ''] = el as [string, string, string, string, string, string, string, string?];
  if (user.length > AUTH_LIMITS.USER) return undefined;
  if (realm === '' && nonce === '' && response === '') return { kind: 'open', user, uri };
  if (authType === AUTH_TYPE.DIGEST_RFC2617 && el.length < 8) return undefined;
  return { kind: 'answer', a: { user, realm, nonce, uri, cnonce, nc, response, qop } };
}

/**
 * Verify a digest answer: response = MD5(HA1:nonce[:nc:cnonce:qop]:MD5("POST:" + uri)) with
 * HA1 the stored hash. An empty response never passes (the INTEL-SA-00075 lesson, reference §3.3
 * peers: nmap http-vuln-cve2017-5689).
 */
export function checkDigest(a: DigestAnswer, authType: number, issuedNonce: string | undefined, acct: AdminAccount): { ok: true } | { ok: false; reason: string } {
  if (!acct.digestHash) return { ok: false, reason: 'no admin password is set' };
  if (a.user !== acct.username) return { ok: false, reason: 'unknown user' };
  if (a.realm !== acct.realm) return { ok: false, reason: 'realm mismatch' };
  if (!issuedNonce || a.nonce !== issuedNonce) return { ok: false, reason: 'stale or unknown nonce' };
  if (!/^[0-9a-f]{32}$/i.test(a.response)) return { ok: false, reason: 'malformed response' };
  if (authType === AUTH_TYPE.DIGEST_RFC2617 && a.qop !== 'auth') return { ok: false, reason: `qop "${a.qop}" is not "auth"` };
  const ha2 = md5hex(`POST:${a.uri}`);
  const mid = authType === AUTH_TYPE.DIGEST_RFC2617 ? `${a.nonce}:${a.nc}:${a.cnonce}:${a.qop}` : a.nonce;
  const expected = md5hex(`${acct.digestHash.toLowerCase()}:${mid}:${ha2}`);
  return sameHex(expected, a.response) ? { ok: true } : { ok: false, reason: 'wrong response' };
}
