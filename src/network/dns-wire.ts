/**
 * A structural check run on every DNS message before `dns2` parses it. dns2's `Packet.parse`
 * does not stop at the end of the buffer: a random datagram whose header claims thousands of
 * records makes it read zeros for 1–3 s of CPU (measured here on 300 random datagrams), which
 * would freeze every emulated device sharing the event loop. This walk is linear in the message
 * length and rejects anything that does not fit exactly (RFC 1035 §4.1).
 */

const HEADER = 12;
/** RFC 1035 §2.3.4: 255 octets per name; a pointer chain longer than this is a loop. */
const MAX_NAME = 255;
const MAX_POINTERS = 64;

/** Returns undefined when the message is well-formed, else a one-line reason. */
export function checkDnsMessage(buf: Buffer): string | undefined {
  if (buf.length < HEADER) return `DNS message too short (${buf.length} bytes)`;
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  let off = HEADER;
  for (let section = 0; section < 4; section++) {
    for (let i = 0; i < counts[section]!; i++) {
      const end = skipName(buf, off);
      if (end === undefined) return `DNS name ${i} of section ${section} is malformed`;
      off = end;
      if (section === 0) {
        if (off + 4 > buf.length) return 'DNS question truncated';
        off += 4;
      } else {
        if (off + 10 > buf.length) return 'DNS record header truncated';
        const rdlen = buf.readUInt16BE(off + 8);
        off += 10;
        if (off + rdlen > buf.length) return 'DNS record data runs past the message';
        off += rdlen;
      }
    }
  }
  return off === buf.length ? undefined : `DNS message has ${buf.length - off} trailing bytes`;
}

/** Offset just after the name at `off` (pointers followed for validation only). */
function skipName(buf: Buffer, off: number): number | undefined {
  let pos = off;
  let after: number | undefined;
  let total = 0;
  for (let jumps = 0; ; ) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos]!;
    if (len === 0) return after ?? pos + 1;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) return undefined;
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // Pointers must go backwards (RFC 1035 §4.1.4 "prior occurrence"), which also ends loops.
      if (target >= pos || ++jumps > MAX_POINTERS) return undefined;
      after ??= pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) return undefined; // 0x40/0x80 label types are not in use
    total += len + 1;
    if (total > MAX_NAME || pos + 1 + len > buf.length) return undefined;
    pos += 1 + len;
  }
}
