/**
 * The loopback address plan (DESIGN "One socket per port, not per device"): every emulated
 * device owns one address in 127.0.0.0/8, `--ip-base A` gives device i the address A+i.
 * Linux answers on the whole 127/8 without configuration, so a fleet of thousands needs no
 * interface setup; the plan only has to stay inside that block.
 */
import type { Result } from '../common/errors.js';

const LOOPBACK_FIRST = (127 << 24) >>> 0; // 127.0.0.0
const LOOPBACK_LAST = LOOPBACK_FIRST + 0x00ffffff; // 127.255.255.255

/** Strict dotted-quad parse (no leading zeros ambiguity, no shorthand); undefined when invalid. */
export function parseIpv4(s: string): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function ipToInt(s: string): number | undefined {
  return parseIpv4(s);
}

export function intToIp(n: number): string {
  const v = n >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function isLoopback(ip: string): boolean {
  const n = parseIpv4(ip);
  return n !== undefined && n >= LOOPBACK_FIRST && n <= LOOPBACK_LAST;
}

/**
 * Addresses for `count` devices starting at `base`. Loopback mode requires every address to be
 * inside 127.0.0.0/8 and excludes the block's network (127.0.0.0) and broadcast
 * (127.255.255.255) addresses, which cannot be bound as a source.
 */
export function planAddresses(base: string, count: number, mode: 'loopback' | 'netns' = 'loopback'): Result<string[], 'BAD_INPUT'> {
  const b = parseIpv4(base);
  if (b === undefined) return { ok: false, code: 'BAD_INPUT', message: `--ip-base "${base}" is not an IPv4 address (expected e.g. 127.77.0.10)` };
  if (!Number.isInteger(count) || count < 0 || count > 0x00ffffff) {
    return { ok: false, code: 'BAD_INPUT', message: `device count must be an integer between 0 and ${0x00ffffff}, got ${count}` };
  }
  if (count === 0) return { ok: true, value: [] };
  const last = b + count - 1;
  if (mode === 'loopback') {
    if (b <= LOOPBACK_FIRST || b > LOOPBACK_LAST - 1) {
      return { ok: false, code: 'BAD_INPUT', message: `--ip-base ${base} is outside 127.0.0.1–127.255.255.254; loopback mode only uses 127.0.0.0/8` };
    }
    if (last > LOOPBACK_LAST - 1) {
      return {
        ok: false,
        code: 'BAD_INPUT',
        message: `--ip-base ${base} + ${count} devices ends at ${intToIp(last)}, past 127.255.255.254; lower the base or the count`,
      };
    }
  } else if (last > 0xffffffff) {
    return { ok: false, code: 'BAD_INPUT', message: `--ip-base ${base} + ${count} devices overflows the IPv4 space` };
  }
  const out: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = intToIp(b + i);
  return { ok: true, value: out };
}

/** The address of device `index` (0-based) under the plan; same validation as `planAddresses`. */
export function deviceAddress(base: string, index: number, mode: 'loopback' | 'netns' = 'loopback'): Result<string, 'BAD_INPUT'> {
  if (!Number.isInteger(index) || index < 0) return { ok: false, code: 'BAD_INPUT', message: `device index must be an integer ≥ 0, got ${index}` };
  const b = parseIpv4(base);
  if (b === undefined) return { ok: false, code: 'BAD_INPUT', message: `--ip-base "${base}" is not an IPv4 address (expected e.g. 127.77.0.10)` };
  if (b + index > 0xffffffff) return { ok: false, code: 'BAD_INPUT', message: `device ${index}: --ip-base ${base} + ${index} overflows the IPv4 space` };
  const r = planAddresses(intToIp(b + index), 1, mode);
  if (!r.ok) return { ok: false, code: 'BAD_INPUT', message: `device ${index}: ${r.message}` };
  return { ok: true, value: r.value[0]! };
}
