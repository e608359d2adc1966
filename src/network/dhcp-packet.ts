/**
 * DHCP wire format (RFC 2131 header, RFC 2132 options) shared by the firmware client and the
 * fake server. The fixed BOOTP header is encoded/decoded by the `dhcp` package's protocol
 * module (DESIGN "Real bytes"). The options area is walked here, because the package's option
 * walker skips one byte too many after a PAD (seqbuffer.js `getOptions`: `this._r++` after
 * already reading the pad), prints to stderr for unknown codes, and has no option 81
 * (RFC 4702 Client FQDN), which we must carry.
 */
import { createRequire } from 'node:module';

interface PkgHeader {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: string;
  sname: string;
  file: string;
  magicCookie?: number;
  options: Record<string, unknown>;
}
interface PkgProtocol {
  parse(buf: Buffer): PkgHeader;
  format(data: PkgHeader): { _data: Buffer; _w: number };
}

const require = createRequire(import.meta.url);
const protocol = require('dhcp/lib/protocol.js') as PkgProtocol;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
const MAGIC_COOKIE = 0x63825363;
const HEADER_LEN = 240; // 236-byte BOOTP header + 4-byte magic cookie
/** RFC 1542 §2.1: some relays/clients drop BOOTP messages shorter than 300 bytes. */
const MIN_PACKET = 300;
/** RFC 2131 §2: the BROADCAST bit in `flags`. */
export const FLAG_BROADCAST = 0x8000;

export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeName = keyof typeof DhcpMessageType;

/** Code → name table; every packet of a fleet is named once on each side. */
const MESSAGE_TYPE_NAMES: ReadonlyMap<number, DhcpMessageTypeName> = new Map(
  (Object.entries(DhcpMessageType) as Array<[DhcpMessageTypeName, number]>).map(([k, v]) => [v, k]),
);

export function messageTypeName(code: number | undefined): DhcpMessageTypeName | undefined {
  return code === undefined ? undefined : MESSAGE_TYPE_NAMES.get(code);
}

/** Option codes this project reads or writes (RFC 2132 §3–9, RFC 4702). */
export const Opt = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  RENEWAL_T1: 58,
  REBINDING_T2: 59,
  CLIENT_ID: 61,
  CLIENT_FQDN: 81,
} as const;

/** RFC 4702 §2: flags byte, two deprecated RCODE bytes, then the name. */
export interface ClientFqdn {
  flags: number;
  name: string;
}

export interface DhcpPacket {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** `AA:BB:CC:DD:EE:FF`, upper case. */
  chaddr: string;
  /** Raw option values by code, in arrival order; typed accessors below. */
  options: Map<number, Buffer>;
}

export type DecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; message: string };

const headerScratch = Buffer.alloc(HEADER_LEN + 1, 255);

/** Decode a datagram; never throws (a malformed packet is a value the caller counts). */
export function decodeDhcp(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_LEN + 1) return { ok: false, message: `DHCP packet too short (${buf.length} bytes, need ≥ ${HEADER_LEN + 1})` };
  if (buf.readUInt32BE(236) !== MAGIC_COOKIE) return { ok: false, message: 'DHCP magic cookie missing' };
  let header: PkgHeader;
  try {
    // Only the header goes through the package: an END byte stands in for the options area.
    // parse() is synchronous and returns only numbers and strings, so one scratch buffer
    // serves every packet (no allocation per datagram).
    buf.copy(headerScratch, 0, 0, HEADER_LEN);
    header = protocol.parse(headerScratch);
  } catch (e) {
    return { ok: false, message: `DHCP header invalid: ${(e as Error).message}` };
  }
  if (header.op !== BOOTREQUEST && header.op !== BOOTREPLY) return { ok: false, message: `DHCP op ${header.op} is neither request nor reply` };
  const options = new Map<number, Buffer>();
  let i = HEADER_LEN;
  let ended = false;
  while (i < buf.length) {
    const code = buf[i]!;
    if (code === 255) {
      ended = true;
      break;
    }
    if (code === 0) {
      i += 1;
      continue;
    }
    if (i + 1 >= buf.length) return { ok: false, message: `DHCP option ${code} truncated` };
    const len = buf[i + 1]!;
    if (i + 2 + len > buf.length) return { ok: false, message: `DHCP option ${code} length ${len} runs past the packet` };
    // RFC 3396: a repeated option is concatenated.
    const value = buf.subarray(i + 2, i + 2 + len);
    const prev = options.get(code);
    options.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += 2 + len;
  }
  if (!ended) return { ok: false, message: 'DHCP options not terminated by END (255)' };
  return {
    ok: true,
    packet: {
      op: header.op,
      xid: header.xid,
      secs: header.secs,
      flags: header.flags,
      ciaddr: header.ciaddr,
      yiaddr: header.yiaddr,
      siaddr: header.siaddr,
      giaddr: header.giaddr,
      chaddr: header.chaddr.replace(/-/g, ':'),
      options,
    },
  };
}

export function encodeDhcp(p: DhcpPacket): Buffer {
  const sb = protocol.format({
    op: p.op,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: p.xid >>> 0,
    secs: p.secs,
    flags: p.flags,
    ciaddr: p.ciaddr,
    yiaddr: p.yiaddr,
    siaddr: p.siaddr,
    giaddr: p.giaddr,
    chaddr: p.chaddr,
    sname: '',
    file: '',
    options: {},
  });
  // Options are written straight after the header into one buffer (the package's is 1500
  // zero-filled bytes, so the RFC 1542 padding to 300 is already there); a bigger one only
  // when the options do not fit.
  let size = HEADER_LEN + 1;
  for (const value of p.options.values()) size += value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
  let out = sb._data;
  if (size > out.length) {
    out = Buffer.alloc(size);
    sb._data.copy(out, 0, 0, HEADER_LEN);
  }
  let w = HEADER_LEN;
  for (const [code, value] of p.options) {
    // Long values are split into several instances of the option (RFC 3396).
    if (value.length === 0) {
      out[w++] = code;
      out[w++] = 0;
    }
    for (let off = 0; off < value.length; off += 255) {
      const len = Math.min(255, value.length - off);
      out[w++] = code;
      out[w++] = len;
      value.copy(out, w, off, off + len);
      w += len;
    }
  }
  out[w++] = 255;
  // Zero any bytes the package wrote past the header (its own END byte) up to the padding.
  const end = Math.max(w, MIN_PACKET);
  if (end > w) out.fill(0, w, end);
  return out.subarray(0, end);
}

// ---- option value helpers -------------------------------------------------------------

export function ipToBytes(ip: string): Buffer {
  const parts = ip.split('.').map((s) => Number(s));
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new RangeError(`not an IPv4 address: ${ip}`);
  return Buffer.from(parts);
}

export function ipsToBytes(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(ipToBytes));
}

export function bytesToIps(b: Buffer | undefined): string[] {
  if (!b) return [];
  const out: string[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(`${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`);
  return out;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function readU32(b: Buffer | undefined): number | undefined {
  return b && b.length >= 4 ? b.readUInt32BE(0) : undefined;
}

/** Text options (12, 15): some servers NUL-terminate them (RFC 2132 §2 says they should not). */
export function readText(b: Buffer | undefined): string | undefined {
  if (!b || b.length === 0) return undefined;
  const s = b.toString('latin1').replace(/\0+$/, '');
  return s.length > 0 ? s : undefined;
}

export function messageTypeOf(p: DhcpPacket): number | undefined {
  const b = p.options.get(Opt.MESSAGE_TYPE);
  return b && b.length === 1 ? b[0] : undefined;
}

/** RFC 4702 §2.3: the name may be ASCII (E=0) or canonical wire format (E=1). */
export function decodeClientFqdn(b: Buffer | undefined): ClientFqdn | undefined {
  if (!b || b.length < 3) return undefined;
  const flags = b[0]!;
  const body = b.subarray(3);
  if ((flags & 0x04) === 0) return { flags, name: body.toString('latin1').replace(/\0+$/, '') };
  const labels: string[] = [];
  for (let i = 0; i < body.length; ) {
    const len = body[i]!;
    if (len === 0 || len > 63 || i + 1 + len > body.length) break;
    labels.push(body.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return { flags, name: labels.join('.') };
}

export function encodeClientFqdn(f: ClientFqdn): Buffer {
  if ((f.flags & 0x04) === 0) return Buffer.concat([Buffer.from([f.flags, 255, 255]), Buffer.from(f.name, 'latin1')]);
  const labels = f.name.split('.').filter((l) => l.length > 0);
  const wire = labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([Buffer.from([f.flags, 0, 0]), ...wire, Buffer.from([0])]);
}

/** A short, JSON-friendly view of a packet for timelines and events. */
export function summarize(p: DhcpPacket): Record<string, unknown> {
  const d: Record<string, unknown> = { xid: `0x${(p.xid >>> 0).toString(16).padStart(8, '0')}`, chaddr: p.chaddr };
  if (p.ciaddr !== '0.0.0.0') d.ciaddr = p.ciaddr;
  if (p.yiaddr !== '0.0.0.0') d.yiaddr = p.yiaddr;
  const req = p.options.get(Opt.REQUESTED_IP);
  if (req) d.requestedIp = bytesToIps(req)[0];
  const sid = p.options.get(Opt.SERVER_ID);
  if (sid) d.serverId = bytesToIps(sid)[0];
  const domain = readText(p.options.get(Opt.DOMAIN_NAME));
  if (domain !== undefined) d.domain = domain;
  const lease = readU32(p.options.get(Opt.LEASE_TIME));
  if (lease !== undefined) d.leaseSeconds = lease;
  return d;
}
