/**
 * HTTP Digest authentication as AMT speaks it (RFC 2617, MD5, qop "auth"; reference §6.2).
 * Real devices offer `qop="auth-int, auth"`; like MeshCentral (MC-comm) we answer with "auth".
 */
import { createHash, randomBytes } from 'node:crypto';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string[];
  opaque?: string;
  stale?: boolean;
  algorithm?: string;
}

const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

/** Parse a `WWW-Authenticate: Digest …` value; undefined when it is not a Digest challenge. */
export function parseDigestChallenge(header: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  if (params.realm === undefined || params.nonce === undefined) return undefined;
  const c: DigestChallenge = { realm: params.realm, nonce: params.nonce };
  if (params.qop !== undefined) c.qop = params.qop.split(',').map((q) => q.trim()).filter(Boolean);
  if (params.opaque !== undefined) c.opaque = params.opaque;
  if (params.stale !== undefined) c.stale = params.stale.toLowerCase() === 'true';
  if (params.algorithm !== undefined) c.algorithm = params.algorithm;
  return c;
}

/** HA1 = MD5(user:realm:pass) — also what SetAdminAclEntryEx / Setup / AdminSetup carry (§5.2). */
export function digestHa1(username: string, realm: string, password: string): string {
  return md5(`${username}:${realm}:${password}`);
}

export interface DigestResponseInput {
  username: string;
  password: string;
  method: string;
  uri: string;
  challenge: DigestChallenge;
  /** Request counter for this nonce, starting at 1. */
  nc: number;
  cnonce: string;
}

/** The `response=` value: MD5(HA1:nonce:nc:cnonce:qop:HA2) with qop, MD5(HA1:nonce:HA2) without. */
export function digestResponse(i: DigestResponseInput): string {
  const ha1 = digestHa1(i.username, i.challenge.realm, i.password);
  const ha2 = md5(`${i.method}:${i.uri}`);
  if (!i.challenge.qop) return md5(`${ha1}:${i.challenge.nonce}:${ha2}`);
  return md5(`${ha1}:${i.challenge.nonce}:${formatNc(i.nc)}:${i.cnonce}:auth:${ha2}`);
}

export function formatNc(nc: number): string {
  return nc.toString(16).padStart(8, '0');
}

/** Holds the current challenge and counts nonce uses (nc) for one client. */
export class DigestSession {
  private challenge: DigestChallenge | undefined;
  private nc = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
    private readonly cnonce: () => string = () => randomBytes(16).toString('hex'),
  ) {}

  get hasChallenge(): boolean {
    return this.challenge !== undefined;
  }

  accept(challenge: DigestChallenge): void {
    this.challenge = challenge;
    this.nc = 0;
  }

  /** The Authorization header for the next request, or undefined before any challenge. */
  authorization(method: string, uri: string): string | undefined {
    const c = this.challenge;
    if (!c) return undefined;
    this.nc += 1;
    const cnonce = this.cnonce();
    const response = digestResponse({ username: this.username, password: this.password, method, uri, challenge: c, nc: this.nc, cnonce });
    const parts = [`username="${this.username}"`, `realm="${c.realm}"`, `nonce="${c.nonce}"`, `uri="${uri}"`, `response="${response}"`];
    if (c.qop) parts.push('qop=auth', `nc=${formatNc(this.nc)}`, `cnonce="${cnonce}"`);
    if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
    if (c.algorithm) parts.push(`algorithm=${c.algorithm}`);
    return `Digest ${parts.join(', ')}`;
  }
}
