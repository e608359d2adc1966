/**
 * A bounded memo of what PKI-CH learns from certificate bytes alone: the parsed CertInfo of a
 * DER certificate and whether one certificate's signature verifies with another's key.
 *
 * Why: a provisioning server presents the same chain to every PC it configures, and parsing
 * plus RSA verification of that chain was a large share of an activation's CPU time
 * (docs/benchmarks.md (d)). Only facts that are a pure function of the DER bytes are kept —
 * never a verdict. Validity against the device clock, the trusted hash table, the profile's
 * rules and the DNS suffix are evaluated on every call by validateSetupChain, so a cached
 * certificate that has since expired (device-clock time) is still refused, and a chain accepted
 * by one device's hash table is not thereby accepted by another's.
 *
 * Keys are the exact DER bytes (as a latin1 string), so two certificates share an entry only if
 * they are byte-identical; the stored CertInfo holds its own copy of the bytes, so a caller
 * that later reuses its buffer cannot change what the cache answers.
 */
import { readCertInfo, type CertInfo } from './x509-info.js';

/** Entries kept; a fleet sees a handful of provisioning chains, so this is generous. */
export const CERT_CACHE_LIMIT = 256;

export class CertInfoCache {
  private readonly byDer = new Map<string, CertInfo>();
  /** child → (parent → child's signature verifies with parent's key); dies with the CertInfo. */
  private readonly verified = new WeakMap<CertInfo, Map<CertInfo, boolean>>();
  private hitCount = 0;
  private missCount = 0;

  constructor(private readonly limit = CERT_CACHE_LIMIT) {}

  /**
   * readCertInfo, memoised by the DER bytes. Failures are not cached: they throw AmtError
   * ('BAD_INPUT') naming `what` exactly as readCertInfo does.
   */
  read(der: Buffer, what = 'certificate'): CertInfo {
    const key = der.toString('latin1');
    const hit = this.byDer.get(key);
    if (hit) {
      this.hitCount++;
      // Map keeps insertion order: re-inserting makes this the most recently used entry.
      this.byDer.delete(key);
      this.byDer.set(key, hit);
      return hit;
    }
    this.missCount++;
    const info = readCertInfo(Buffer.from(der), what);
    this.byDer.set(key, info);
    if (this.byDer.size > this.limit) {
      const oldest = this.byDer.keys().next().value;
      if (oldest !== undefined) this.byDer.delete(oldest);
    }
    return info;
  }

  /** Whether `child`'s signature verifies with `parent`'s public key (false on any error). */
  verifies(child: CertInfo, parent: CertInfo): boolean {
    let row = this.verified.get(child);
    const known = row?.get(parent);
    if (known !== undefined) return known;
    let ok: boolean;
    try {
      ok = child.x509.verify(parent.x509.publicKey);
    } catch {
      ok = false;
    }
    if (!row) {
      row = new Map();
      this.verified.set(child, row);
    }
    row.set(parent, ok);
    return ok;
  }

  get size(): number {
    return this.byDer.size;
  }

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hitCount, misses: this.missCount, size: this.byDer.size };
  }

  clear(): void {
    this.byDer.clear();
    this.hitCount = 0;
    this.missCount = 0;
  }
}

/** The process-wide cache PKI-CH uses (every emulated device in a fleet shares it). */
export const sharedCertCache = new CertInfoCache();
