/**
 * Token policy of the control API: open on loopback, a token required (given or generated)
 * anywhere else; tokens from the Authorization header or ?access_token=, compared in full.
 * Enforcement is checked through fastify.inject with the policy of a non-loopback host — the
 * test never binds to a non-loopback address.
 */
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, presentedToken, tokenMatches, tokenPolicy } from '../../src/api/auth.js';
import { mergePatch } from '../../src/api/device-view.js';

describe('API token policy', () => {
  it('needs no token on loopback, a generated one elsewhere, and always enforces a given one', () => {
    for (const h of ['127.0.0.1', '127.9.8.7', 'localhost', '::1']) {
      expect(isLoopbackHost(h)).toBe(true);
      expect(tokenPolicy(h)).toEqual({ required: false, token: undefined, generated: false });
    }
    for (const h of ['0.0.0.0', '192.168.1.10', '::', 'example.test']) {
      expect(isLoopbackHost(h)).toBe(false);
      const p = tokenPolicy(h, undefined, (n) => Buffer.alloc(n, 7));
      expect(p).toEqual({ required: true, token: Buffer.alloc(24, 7).toString('base64url'), generated: true });
    }
    expect(tokenPolicy('127.0.0.1', 'a-token-of-my-own')).toEqual({ required: true, token: 'a-token-of-my-own', generated: false });
    expect(tokenPolicy('0.0.0.0', 'a-token-of-my-own').generated).toBe(false);
    // Two generated tokens differ (real randomness by default).
    expect(tokenPolicy('0.0.0.0').token).not.toBe(tokenPolicy('0.0.0.0').token);
  });

  it('reads the bearer header or the query token, and compares the whole token', () => {
    expect(presentedToken('Bearer abc', undefined)).toBe('abc');
    expect(presentedToken('bearer abc ', undefined)).toBe('abc');
    expect(presentedToken('Basic abc', 'q')).toBe('q');
    expect(presentedToken(undefined, '')).toBeUndefined();
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abcd', 'abc')).toBe(false);
    expect(tokenMatches('ab', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });
});

describe('NVRAM merge patch (RFC 7396)', () => {
  it('merges objects, replaces arrays and scalars, deletes with null, ignores __proto__', () => {
    const target = { a: { b: 1, c: [1, 2] }, d: 'x', e: true };
    expect(mergePatch(target, { a: { b: 2, c: [3] }, d: null, f: { g: 1 } })).toEqual({ a: { b: 2, c: [3] }, e: true, f: { g: 1 } });
    expect(target).toEqual({ a: { b: 1, c: [1, 2] }, d: 'x', e: true });
    const polluted = mergePatch({}, JSON.parse('{"__proto__": {"admin": true}}')) as Record<string, unknown>;
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
    expect(Object.keys(polluted)).toEqual([]);
  });
});
