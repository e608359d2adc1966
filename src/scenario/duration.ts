/**
 * Durations as people write them in scenario files: `90s`, `10m`, `6h`, `1d 2h`, `1h30m`,
 * `500ms`. A bare number is milliseconds (the API's unit). Anything else is a clear error, never
 * NaN: a scenario that says `advance: 6 hours` must fail at load time, not silently do nothing.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** The longest duration a scenario may name: 400 days of virtual time is already absurd. */
export const MAX_DURATION_MS = 400 * 86_400_000;

export type DurationInput = string | number;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

export function tryParseDuration(input: unknown): DurationResult {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return { ok: false, message: `duration must be ≥ 0, got ${input}` };
    if (input > MAX_DURATION_MS) return { ok: false, message: `duration ${input} ms is longer than 400 days` };
    return { ok: true, ms: Math.round(input) };
  }
  if (typeof input !== 'string') return { ok: false, message: `duration must be a string like "90s", "6h" or "1d 2h", got ${typeof input}` };
  const text = input.trim();
  if (text === '') return { ok: false, message: 'duration is empty (write e.g. "90s", "6h" or "1d 2h")' };
  if (/^\d+$/.test(text)) return tryParseDuration(Number(text));
  const re = /(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)(?![a-z])\s*/gy;
  let total = 0;
  let pos = 0;
  const seen = new Set<string>();
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) {
      return { ok: false, message: `bad duration "${input}": cannot read "${text.slice(pos)}" (units: ms, s, m, h, d — e.g. "90s", "6h", "1d 2h")` };
    }
    const unit = m[2]!;
    const key = unit === 'min' ? 'm' : unit;
    if (seen.has(key)) return { ok: false, message: `bad duration "${input}": unit "${unit}" appears twice` };
    seen.add(key);
    total += Number(m[1]) * UNIT_MS[unit]!;
    pos = re.lastIndex;
  }
  if (total > MAX_DURATION_MS) return { ok: false, message: `duration "${input}" is longer than 400 days` };
  return { ok: true, ms: Math.round(total) };
}

/** Parse or throw a RangeError with the message (for the API; the loader reports located errors). */
export function parseDuration(input: DurationInput): number {
  const r = tryParseDuration(input);
  if (!r.ok) throw new RangeError(r.message);
  return r.ms;
}

/** `1d 2h 3m 4s 5ms` with zero parts left out; `0s` for zero. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join(' ');
}
