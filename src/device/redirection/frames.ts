/**
 * Frame layer of the redirection protocol: how long is the console's next message, and a
 * bounded reassembly buffer that copes with TCP splitting one message over several reads or
 * coalescing several messages into one read. Lengths per amtterm `RedirectionConstants.h` and
 * MeshCentral `amt-redir-mesh.js` (reference §6.3).
 */
import { LEN, MSG } from './constants.js';

/** What the frame parser needs to know about the session: 0x40 means different things in IDER and KVM. */
export type FrameContext = 'handshake' | 'SOL ' | 'IDER' | 'KVMR';

export type FrameLength = { kind: 'need'; bytes: number } | { kind: 'frame'; length: number } | { kind: 'bad'; reason: string };

/** Longest AuthenticateSession body we accept: a digest answer is ~8 short fields (amtterm bfr is 512). */
export const MAX_AUTH_BODY = 1024;
/** Longest SOL data frame body (uint16 length field; amtterm sends ≤ its stdin read size). */
export const MAX_SOL_BODY = 0xffff;

function need(bytes: number): FrameLength {
  return { kind: 'need', bytes };
}

function fixed(buf: Buffer, length: number): FrameLength {
  return buf.length >= length ? { kind: 'frame', length } : need(length);
}

/** Length of the console→device message at the start of `buf`. */
export function frameLength(buf: Buffer, ctx: FrameContext): FrameLength {
  if (buf.length < 1) return need(1);
  const type = buf[0]!;
  switch (type) {
    case MSG.START_REDIRECTION_SESSION:
      return fixed(buf, LEN.START_REDIRECTION_SESSION);
    case MSG.END_REDIRECTION_SESSION:
      return fixed(buf, LEN.END_REDIRECTION_SESSION);
    case MSG.AUTHENTICATE_SESSION: {
      if (buf.length < LEN.AUTH_HEADER) return need(LEN.AUTH_HEADER);
      const body = buf.readUInt32LE(5);
      if (body > MAX_AUTH_BODY) return { kind: 'bad', reason: `AuthenticateSession body of ${body} bytes exceeds ${MAX_AUTH_BODY}` };
      return fixed(buf, LEN.AUTH_HEADER + body);
    }
  }
  if (ctx === 'handshake') return { kind: 'bad', reason: `message 0x${hex(type)} before the session is authenticated` };
  if (ctx === 'SOL ') {
    switch (type) {
      case MSG.START_SOL_REDIRECTION:
        return fixed(buf, LEN.START_SOL_REDIRECTION);
      case MSG.END_SOL_REDIRECTION:
        return fixed(buf, LEN.END_SOL_REDIRECTION);
      case MSG.SOL_KEEP_ALIVE_PING:
      case MSG.SOL_HEARTBEAT:
        return fixed(buf, LEN.HEARTBEAT);
      case MSG.SOL_SETTINGS:
        return fixed(buf, LEN.SOL_SETTINGS);
      case MSG.SOL_CONTROLS_FROM_HOST:
        return fixed(buf, LEN.SOL_CONTROLS);
      case MSG.SOL_DATA_TO_HOST: {
        if (buf.length < LEN.SOL_DATA_HEADER) return need(LEN.SOL_DATA_HEADER);
        return fixed(buf, LEN.SOL_DATA_HEADER + buf.readUInt16LE(8));
      }
    }
  } else if (ctx === 'IDER') {
    switch (type) {
      case MSG.START_IDER_REDIRECTION:
        return fixed(buf, LEN.START_IDER_REDIRECTION);
      case MSG.END_IDER_REDIRECTION:
        return fixed(buf, LEN.END_IDER_REDIRECTION);
      case MSG.IDER_KEEP_ALIVE_PING:
      case MSG.IDER_HEARTBEAT:
        return fixed(buf, LEN.HEARTBEAT);
      case MSG.IDER_RESET_OCCURED_RESPONSE:
        return fixed(buf, LEN.IDER_RESET_OCCURED_RESPONSE);
      case MSG.IDER_DISABLE_ENABLE_FEATURES:
        return fixed(buf, LEN.IDER_DISABLE_ENABLE_FEATURES);
    }
  } else if (type === MSG.START_KVM) {
    return fixed(buf, LEN.START_KVM);
  }
  return { kind: 'bad', reason: `unknown message 0x${hex(type)} in a ${ctx.trim()} session` };
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/**
 * Bounded reassembly buffer. `push` appends a TCP read; `next` yields whole frames. The buffer
 * never holds more than `limit` bytes: a client that streams past it is cut off (overflow)
 * rather than growing memory without bound.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly limit = 4 * LEN.SOL_DATA_HEADER + MAX_SOL_BODY) {}

  get buffered(): number {
    return this.buf.length;
  }

  /** Returns false when the bytes would overflow the bound (the caller closes the connection). */
  push(chunk: Buffer): boolean {
    if (this.buf.length + chunk.length > this.limit) return false;
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** The next complete frame, undefined if more bytes are needed, or an error for garbage. */
  next(ctx: FrameContext): Buffer | undefined | { error: string } {
    const l = frameLength(this.buf, ctx);
    if (l.kind === 'need') return undefined;
    if (l.kind === 'bad') return { error: l.reason };
    const frame = this.buf.subarray(0, l.length);
    this.buf = this.buf.subarray(l.length);
    return frame;
  }

  /** Take everything buffered (KVM raw mode after 0x41). */
  drain(): Buffer {
    const all = this.buf;
    this.buf = Buffer.alloc(0);
    return all;
  }
}

// ---- device→console encoders -------------------------------------------------------------

/**
 * StartRedirectionSessionReply, 13 bytes: type, status, 2 reserved, protocol version major/minor
 * (amtterm SOL_FIRMWARE_REV 1.0), 2 reserved, 4-byte OEM IANA number, OEM data length at byte 12.
 * Only bytes 0, 1 and 12 are read by clients (amtterm takes 13 bytes; MeshCentral takes
 * 13 + byte 12). OEM data length is 0: amtterm does not skip OEM bytes and would misparse them.
 */
export function encodeStartSessionReply(status: number): Buffer {
  const b = Buffer.alloc(LEN.START_REDIRECTION_SESSION_REPLY);
  b[0] = MSG.START_REDIRECTION_SESSION_REPLY;
  b[1] = status;
  b[4] = 1;
  b[5] = 0;
  b.writeUInt32LE(343, 8); // Intel's IANA enterprise number; no OEM data follows.
  b[12] = 0;
  return b;
}

/** AuthenticateSessionReply: [0x14, status, 0, 0, authType, uint32 LE length] + data (amtterm auth.c get_header). */
export function encodeAuthReply(status: number, authType: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(LEN.AUTH_HEADER + data.length);
  b[0] = MSG.AUTHENTICATE_SESSION_REPLY;
  b[1] = status;
  b[4] = authType;
  b.writeUInt32LE(data.length, 5);
  data.copy(b, LEN.AUTH_HEADER);
  return b;
}

export interface SolParams {
  maxTxBuffer: number;
  txTimeout: number;
  txOverflowTimeout: number;
  rxTimeout: number;
  rxFlushTimeout: number;
  heartbeat: number;
}

/** Parse StartSOLRedirection (24 bytes): seq at 4, six uint16 LE from byte 8 (amtterm redir_sol_start). */
export function parseStartSol(frame: Buffer): { seq: number; params: SolParams } {
  return {
    seq: frame.readUInt32LE(4),
    params: {
      maxTxBuffer: frame.readUInt16LE(8),
      txTimeout: frame.readUInt16LE(10),
      txOverflowTimeout: frame.readUInt16LE(12),
      rxTimeout: frame.readUInt16LE(14),
      rxFlushTimeout: frame.readUInt16LE(16),
      heartbeat: frame.readUInt16LE(18),
    },
  };
}

/**
 * StartSOLRedirectionReply, 23 bytes (amtterm START_SOL_REDIRECTION_REPLY_LENGTH; MeshCentral
 * consumes 23). Layout beyond type/status is [UNKNOWN] in the reference; we echo the accepted
 * settings: seq at 4, the six uint16 parameters at 8–19, 3 zero bytes (no OEM data).
 */
export function encodeStartSolReply(status: number, seq: number, p: SolParams): Buffer {
  const b = Buffer.alloc(LEN.START_SOL_REDIRECTION_REPLY);
  b[0] = MSG.START_SOL_REDIRECTION_REPLY;
  b[1] = status;
  b.writeUInt32LE(seq >>> 0, 4);
  const vals = [p.maxTxBuffer, p.txTimeout, p.txOverflowTimeout, p.rxTimeout, p.rxFlushTimeout, p.heartbeat];
  vals.forEach((v, i) => b.writeUInt16LE(v & 0xffff, 8 + 2 * i));
  return b;
}

/** Header-only message: [type, status, 0, 0, seq uint32 LE] (heartbeats, end replies). */
export function encodeShort(type: number, seq: number, length = 8, status = 0): Buffer {
  const b = Buffer.alloc(length);
  b[0] = type;
  b[1] = status;
  if (length >= 8) b.writeUInt32LE(seq >>> 0, 4);
  return b;
}

/** SOL data from host (0x2A): [0x2A, 0, 0, 0, seq uint32 LE, length uint16 LE, data]. */
export function encodeSolData(seq: number, data: Buffer): Buffer {
  const b = Buffer.alloc(LEN.SOL_DATA_HEADER + data.length);
  b[0] = MSG.SOL_DATA_FROM_HOST;
  b.writeUInt32LE(seq >>> 0, 4);
  b.writeUInt16LE(data.length, 8);
  data.copy(b, LEN.SOL_DATA_HEADER);
  return b;
}

/**
 * StartIDERRedirectionReply, 30 bytes. amtterm reads tx buffer size at 16–17, rx at 18–19,
 * features at 21 and an IANA number at 25–28; the rest is zero. We do not emulate a disk.
 */
export function encodeStartIderReply(status: number, seq: number): Buffer {
  const b = Buffer.alloc(LEN.START_IDER_REDIRECTION_REPLY);
  b[0] = MSG.START_IDER_REDIRECTION_REPLY;
  b[1] = status;
  b.writeUInt32LE(seq >>> 0, 4);
  b.writeUInt16LE(1000, 16);
  b.writeUInt16LE(1000, 18);
  b[21] = 0;
  b.writeUInt32BE(343, 25);
  return b;
}
