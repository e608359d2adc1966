/**
 * Who may drive the fleet. On loopback (the default) the API is as open as the emulator's own
 * ports; bound to anything else it requires a bearer token, given with --api-token or generated
 * and printed at start-up. The decision is a pure function so it is tested without binding to a
 * non-loopback address.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isLoopback } from '../network/address-plan.js';

export interface TokenPolicy {
  /** Requests to /api and /metrics must carry the token. */
  required: boolean;
  token: string | undefined;
  /** The token was made up here and must be shown to the operator. */
  generated: boolean;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || isLoopback(h);
}

/** A token given is always enforced; without one, only a non-loopback bind makes one up. */
export function tokenPolicy(host: string, token?: string, random: (n: number) => Buffer = randomBytes): TokenPolicy {
  if (token !== undefined && token !== '') return { required: true, token, generated: false };
  if (isLoopbackHost(host)) return { required: false, token: undefined, generated: false };
  return { required: true, token: random(24).toString('base64url'), generated: true };
}

/** `Authorization: Bearer <t>`, or `?access_token=` (EventSource cannot set headers). */
export function presentedToken(authorization: string | undefined, queryToken: unknown): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m) return m[1];
  return typeof queryToken === 'string' && queryToken !== '' ? queryToken : undefined;
}

export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
