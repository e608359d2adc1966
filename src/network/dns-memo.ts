/**
 * A bounded memo for DNS codec work. Encoding and decoding with dns2 is bit-level and costs more
 * than the UDP round trip itself (profile of benchmark (b): ~37 % of a fleet's discovery time
 * in Packet.parse/toBuffer). A fleet asks the same question (`ProvisionServer.<domain>`) and
 * gets the same answer thousands of times, differing only in the 16-bit message ID, so the work
 * is memoised on the bytes after the ID. Nothing on the wire changes: the bytes sent are exactly
 * the ones dns2 produced for the same input, with the ID written in.
 */

/** Drop everything when full: simple, O(1), and a fleet's working set is a handful of names. */
const DEFAULT_CAPACITY = 4096;

export class DnsMemo<T> {
  private readonly map = new Map<string, T>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  get(key: string): T | undefined {
    const v = this.map.get(key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(key: string, value: T): void {
    if (this.map.size >= this.capacity) this.map.clear();
    this.map.set(key, value);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

/** The key for a message: every byte but the ID (RFC 1035 §4.1.1: the first two octets). */
export function keyAfterId(msg: Buffer): string {
  return msg.toString('latin1', 2);
}

/** A copy of `template` with `id` in its first two bytes. */
export function withId(template: Buffer, id: number): Buffer {
  const out = Buffer.from(template);
  out.writeUInt16BE(id & 0xffff, 0);
  return out;
}
