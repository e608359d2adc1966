import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, tryParseDuration } from '../../src/scenario/duration.js';

describe('durations', () => {
  it.each([
    ['90s', 90_000], ['10m', 600_000], ['6h', 21_600_000], ['1d 2h', 93_600_000], ['1h30m', 5_400_000],
    ['500ms', 500], ['2min', 120_000], ['1.5h', 5_400_000], [' 4m30s ', 270_000], ['1d 2h 3m 4s 5ms', 93_784_005], [250, 250], ['42', 42],
  ] as const)('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '6 hours', 'h', '5x', '-1s', '1h 1h', 'soon', '1e3s'])('rejects "%s" with a message', (text) => {
    const r = tryParseDuration(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message.length).toBeGreaterThan(5);
  });

  it('rejects negative, non-finite and absurd numbers and non-strings', () => {
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY, 401 * 86_400_000, true, null, {}]) expect(tryParseDuration(v).ok).toBe(false);
    expect(() => parseDuration('nope')).toThrow(RangeError);
  });

  it('formatDuration round-trips through parseDuration', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 300 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});
