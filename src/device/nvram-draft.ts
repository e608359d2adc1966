/**
 * How the device core copies its NVRAM image: a deep draft for update(), and the hello hot
 * path's structural-sharing write of the configuration window (no deep copy per hello).
 */
import type { ConfigurationWindow, NvramImage } from '../nvram/image.js';

/** The image with a new window; everything else is shared with the old image. */
export function withWindow(img: NvramImage, window: ConfigurationWindow): NvramImage {
  return { ...img, provisioning: { ...img.provisioning, window } };
}

/**
 * A deep copy of the image for update()'s draft. Why not structuredClone: the image is plain
 * JSON data (src/nvram/image.ts; the store writes and reads it as JSON), and V8's structured
 * serialisation cost about seven times a direct copy on every firmware write — several per
 * remote configuration (docs/benchmarks.md (d)). Anything that is not a plain object or array
 * (nothing today) still goes through structuredClone, so the draft is never shallower than before.
 */
export function cloneImageData<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const a: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) a[i] = cloneImageData(v[i] as unknown);
    return a as T;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src)) {
    const x = cloneImageData(src[k]);
    // An own "__proto__" key (possible in JSON.parse output) must stay data, not a prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out as T;
}
