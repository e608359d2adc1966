/**
 * HTTP Digest authentication as AMT does it (RFC 2617/7616, MD5 only). Reference §6.2:
 * `WWW-Authenticate: Digest realm="Digest:<32 hex>", nonce="<32 base64 chars>",stale="false",qop="auth-int, auth"`.
 *
 * Nonces are device state, not connection state: MeshCentral keeps the challenge after the 401,
 * closes, reconnects and answers on a new socket with nc counting on (reference §6.2 "client
 * behaviour"). A nonce lives `lifetimeMs` of device-clock time; a valid answer to an expired or
 * forgotten nonce gets `stale="true"` so the client retries without asking the user again.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock/clock.js';

/**
 * choice: the firmware nonce lifetime is not documented (reference §9); five minutes is long
 * enough for a slow provisioning step and short enough that a replayed capture goes stale.
 */
export const DEFAULT_NONCE_LIFETIME_MS = 5 * 60_000;
/** Outstanding nonces kept per device; the oldest is forgotten first (bounded memory). */
export const MAX_NONCES = 64;

export function md5hex(s: string | Buffer): string {
  return createHash('md5').update(s).digest('hex');
}

/** HA1 = MD5(user:realm:password), the value SetAdminAclEntryEx stores (reference §1.3 step 5.3). */
export function digestHa1(user: string, realm: string, password: string): string {
  return md5hex(`${user}:${realm}:${password}`);
}

interface NonceEntry {
  issuedAt: number;
  /** Highest nonce-count seen; a request must present a higher one (replay protection). */
  lastNc: number;
}

export type NonceCheck = 'ok' | 'stale' | 'replay';

/** The nonces one device has handed out. */
export class NonceStore {
  private readonly nonces = new Map<string, NonceEntry>();

  constructor(
    private readonly clock: Clock,
    private readonly random: (n: number) => Buffer,
    readonly lifetimeMs = DEFAULT_NONCE_LIFETIME_MS,
  ) {}

  /** 24 random bytes → 32 base64 characters without '=' padding (MeshCentral splits on '='). */
  issue(): string {
    const nonce = this.random(24).toString('base64');
    this.nonces.set(nonce, { issuedAt: this.clock.now(), lastNc: 0 });
    if (this.nonces.size > MAX_NONCES) {
      const oldest = this.nonces.keys().next().value;
      if (oldest !== undefined) this.nonces.delete(oldest);
    }
    return nonce;
  }

  /** Accept `nc` for `nonce` once; unknown or expired nonces are stale. */
  use(nonce: string, nc: number): NonceCheck {
    const e = this.nonces.get(nonce);
    if (!e) return 'stale';
    if (this.clock.now() - e.issuedAt > this.lifetimeMs) {
      this.nonces.delete(nonce);
      return 'stale';
    }
    if (!(nc > e.lastNc)) return 'replay';
    e.lastNc = nc;
    return 'ok';
  }

  get size(): number {
    return this.nonces.size;
  }
}

export type DigestParams = Record<string, string>;

/**
 * Parse `Authorization: Digest k="v", k=v, …`. Returns undefined for other schemes (Basic) or a
 * malformed header. Quoted values may contain commas and '='.
 */
export function parseDigestAuthorization(header: string | undefined): DigestParams | undefined {
  if (!header) return undefined;
  const m = /^\s*Digest\s+/i.exec(header);
  if (!m) return undefined;
  const rest = header.slice(m[0].length);
  const out: DigestParams = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/y;
  let pos = 0;
  let guard = 0;
  while (pos < rest.length && guard++ < 32) {
    re.lastIndex = pos;
    const p = re.exec(rest);
    if (!p) return undefined;
    out[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    pos = re.lastIndex;
  }
  return pos >= rest.trimEnd().length ? out : undefined;
}

export interface DigestRequest {
  method: string;
  /** Request body, for qop=auth-int. */
  body: Buffer;
}

/** The response value a client should send for these parameters and this HA1. */
export function expectedResponse(params: DigestParams, ha1: string, req: DigestRequest): string | undefined {
  const qop = params['qop'];
  const uri = params['uri'] ?? '';
  let ha2: string;
  if (qop === 'auth-int') ha2 = md5hex(`${req.method}:${uri}:${md5hex(req.body)}`);
  else if (qop === 'auth' || qop === undefined) ha2 = md5hex(`${req.method}:${uri}`);
  else return undefined;
  const nonce = params['nonce'] ?? '';
  if (qop === undefined) return md5hex(`${ha1}:${nonce}:${ha2}`);
  return md5hex(`${ha1}:${nonce}:${params['nc'] ?? ''}:${params['cnonce'] ?? ''}:${qop}:${ha2}`);
}

/**
 * Constant-time comparison of the client's response with the expected one. An empty or short
 * `response` never matches: INTEL-SA-00075 / CVE-2017-5689 was firmware comparing only
 * strlen(client response) bytes, so an empty response authenticated (reference peers §3.3).
 */
export function responseMatches(params: DigestParams, ha1: string, req: DigestRequest): boolean {
  const given = (params['response'] ?? '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(given)) return false;
  const want = expectedResponse(params, ha1, req);
  if (!want) return false;
  return timingSafeEqual(Buffer.from(given, 'ascii'), Buffer.from(want, 'ascii'));
}

/** The challenge header value, with the spacing and order seen on AMT 16 (reference §6.2). */
export function challengeHeader(realm: string, nonce: string, stale: boolean): string {
  return `Digest realm="${realm}", nonce="${nonce}",stale="${stale ? 'true' : 'false'}",qop="auth-int, auth"`;
}

/** Nonce-count is 8 hex digits; anything else is malformed. */
export function parseNc(nc: string | undefined): number | undefined {
  if (nc === undefined || !/^[0-9a-fA-F]{1,8}$/.test(nc)) return undefined;
  return parseInt(nc, 16);
}
