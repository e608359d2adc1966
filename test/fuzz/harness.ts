/**
 * Shared rules for the property-based fuzz suite (issue 9): every edge parser either returns a
 * value, returns a coded Result, or throws an AmtError with a code — never a TypeError, a
 * RangeError from a Buffer read, or a hang. Runs are bounded (numRuns per parser) and seeded from
 * FUZZ_SEED when set, so a failure printed by fast-check reproduces exactly.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { AmtError } from '../../src/common/errors.js';

/** Cases per parser; FUZZ_RUNS scales the whole suite (e.g. FUZZ_RUNS=100000 for a long soak). */
export const RUNS = Number(process.env['FUZZ_RUNS'] ?? 10_000);

export function params(numRuns = RUNS): fc.Parameters<unknown> {
  const seed = process.env['FUZZ_SEED'];
  return seed !== undefined ? { numRuns, seed: Number(seed) } : { numRuns };
}

/** Slowest single case per parser, printed so docs/hardening.md can quote it (never asserted). */
const slowest = new Map<string, number>();
export function timed<T>(name: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const ms = performance.now() - t0;
    if (ms > (slowest.get(name) ?? 0)) slowest.set(name, ms);
  }
}
/** Record an async case's duration (timed() covers synchronous ones). */
export function note(name: string, ms: number): void {
  if (ms > (slowest.get(name) ?? 0)) slowest.set(name, ms);
}
export function report(name: string, runs: number): void {
  console.log(`[fuzz] ${name}: ${runs} cases, slowest ${(slowest.get(name) ?? 0).toFixed(2)} ms`);
}

/** Run `fn`; a throw must be an AmtError carrying a code (optionally one of `codes`). */
export function coded<T>(fn: () => T, codes?: readonly string[], opts: { multiline?: boolean } = {}): T | AmtError {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof AmtError)) throw new Error(`uncoded throw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    expect(typeof e.code).toBe('string');
    if (codes) expect(codes).toContain(e.code);
    expect(e.message.length).toBeGreaterThan(0);
    // File loaders list one `file:line:column: problem` per line; everything else is one line.
    if (!opts.multiline) expect(e.message).not.toMatch(/\n/);
    else for (const line of e.message.split('\n')) expect(line).toMatch(/^\S.*:\d+:\d+: ./);
    return e;
  }
}

/** Apply a few random byte edits (flip, insert, delete, truncate) to a valid input. */
export function mutatedBytes(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([buf, edits]) => {
    let b = Buffer.from(buf);
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % (b.length + 1);
      if (e.kind === 'flip' && b.length > 0) b[at % b.length] = e.v;
      else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
      else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.n)]);
      else if (e.kind === 'truncate') b = b.subarray(0, at);
    }
    return b;
  });
}

export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return mutatedBytes(valid.map((s) => Buffer.from(s, 'utf8'))).map((b) => b.toString('utf8'));
}
