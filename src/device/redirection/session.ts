/**
 * One redirection connection (16994/16995) as the firmware runs it: StartRedirectionSession →
 * AuthenticateSession (query, plain, digest) → StartSOL / StartIDER / KVM, over a byte stream.
 * Pure protocol logic: bytes in through `receive`, bytes out through the transport, timers on
 * the device Clock, events on the timeline. Reference §6.3; byte layouts in frames.ts.
 *
 * IDER and KVM are accepted and answered with well-formed replies but no disk or video is
 * emulated: IDER stays idle after its feature handshake, KVM discards the console's RFB bytes.
 */
import type { Clock, TimerId } from '../../clock/clock.js';
import type { NvramImage } from '../../nvram/image.js';
import { checkDigest, checkPlain, joinElements, parseDigest, parsePlain, type AdminAccount } from './auth.js';
import { AUTH_TYPE, LEN, MSG, SESSION_TAGS, STATUS, SUPPORTED_AUTH_TYPES, type RedirectionCode, type SessionTag } from './constants.js';
import {
  encodeAuthReply,
  encodeShort,
  encodeSolData,
  encodeStartIderReply,
  encodeStartSessionReply,
  encodeStartSolReply,
  FrameReader,
  parseStartSol,
  type FrameContext,
  type SolParams,
} from './frames.js';
import { solConsoleFor, type SolConsole, type SolSink } from './sol-console.js';
import { consentRequiredFor, featureEnabled, userConsentFor } from '../user-consent.js';

/** What the session needs from the device (AmtDevice satisfies it). */
export interface RedirectionDevice {
  readonly id: string;
  readonly nvram: Readonly<NvramImage>;
  readonly clock: Clock;
  readonly random: (n: number) => Buffer;
  record(type: string, data?: Record<string, unknown>, code?: string): unknown;
}

export interface SessionTransport {
  send(bytes: Buffer): void;
  /** Close the connection (idempotent on the transport side). */
  close(): void;
}

export interface RedirectionSessionOptions {
  peer: string;
  origin: 'local' | 'remote';
  tls: boolean;
  console?: SolConsole;
  /** Failed authentications before the connection is dropped. */
  maxAuthFailures?: number;
  /** From connect to a started SOL/IDER/KVM session. */
  handshakeTimeoutMs?: number;
  /** No bytes from the console for this long closes the session. */
  idleTimeoutMs?: number;
  /**
   * After StartSOLRedirectionReply, host output is held until the console sends its next message
   * or this much time passes: amtterm consumes its whole read buffer as the 0x21 reply
   * (`bshift = r->blen`), so a 0x2A coalesced behind it would be lost.
   */
  solSettleMs?: number;
  /** Largest SOL data frame the device sends. */
  solChunkBytes?: number;
}

type Phase = 'start' | 'auth' | 'ready' | 'sol' | 'ider' | 'kvm' | 'closed';

const MAX_HELD_OUTPUT = 64 * 1024;

export class RedirectionSession implements SolSink {
  private phase: Phase = 'start';
  private tag: SessionTag | undefined;
  private readonly reader = new FrameReader();
  private seq = 0;
  private authFailures = 0;
  private issuedNonce: string | undefined;
  private user: string | undefined;
  private console: SolConsole | undefined;
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  private readonly timers = new Map<'handshake' | 'idle' | 'heartbeat' | 'settle', TimerId>();
  private bytesIn = 0;
  private bytesOut = 0;
  /** This connection counts as an open redirection session for the consent machine. */
  private holdsConsent = false;
  private readonly startedAt: number;
  private readonly o: Required<Omit<RedirectionSessionOptions, 'console'>> & { console: SolConsole | undefined };

  constructor(
    private readonly device: RedirectionDevice,
    private readonly transport: SessionTransport,
    opts: RedirectionSessionOptions,
  ) {
    this.o = {
      maxAuthFailures: 3,
      handshakeTimeoutMs: 30_000,
      idleTimeoutMs: 120_000,
      solSettleMs: 250,
      solChunkBytes: 1000,
      console: undefined,
      ...opts,
    };
    this.startedAt = device.clock.now();
    this.arm('handshake', this.o.handshakeTimeoutMs, () => this.close('handshake timeout', 'REDIRECTION_TIMEOUT'));
    this.touch();
  }

  get state(): Phase {
    return this.phase;
  }
  get sessionType(): SessionTag | undefined {
    return this.tag;
  }
  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Bytes from the console, in whatever pieces TCP delivered them. */
  receive(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    this.bytesIn += chunk.length;
    this.touch();
    if (this.phase === 'kvm') return; // raw RFB from the viewer: accepted and discarded (no video emulated)
    if (!this.reader.push(chunk)) {
      this.close(`more than ${this.reader.buffered + chunk.length} bytes without a complete message`, 'REDIRECTION_OVERFLOW');
      return;
    }
    // Bounded: each turn consumes ≥ 4 bytes or stops.
    for (;;) {
      if (!this.parsing()) return;
      const f = this.reader.next(this.context());
      if (f === undefined) return;
      if (!Buffer.isBuffer(f)) {
        this.close(f.error, 'REDIRECTION_PROTOCOL');
        return;
      }
      this.handle(f);
    }
  }

  /** handle() may close the session or switch KVM to raw mode mid-buffer. */
  private parsing(): boolean {
    return this.phase !== 'closed' && this.phase !== 'kvm';
  }

  /** The console closed the connection. */
  peerClosed(): void {
    this.close('closed by console');
  }

  close(reason: string, code?: RedirectionCode): void {
    if (this.phase === 'closed') return;
    const was = this.phase;
    this.phase = 'closed';
    for (const id of this.timers.values()) this.device.clock.cancel(id);
    this.timers.clear();
    if (this.console) this.console.detach(this);
    this.releaseConsent();
    this.device.record(
      'redirection.closed',
      { reason, phase: was, session: this.tag?.trim(), peer: this.o.peer, bytesIn: this.bytesIn, bytesOut: this.bytesOut, durationMs: this.device.clock.now() - this.startedAt },
      code,
    );
    this.transport.close();
  }

  // ---- SolSink --------------------------------------------------------------------------------

  deliver(data: Buffer): void {
    if (this.phase !== 'sol') return;
    if (this.held) {
      this.held.push(Buffer.from(data));
      this.heldBytes += data.length;
      while (this.heldBytes > MAX_HELD_OUTPUT && this.held.length > 1) this.heldBytes -= this.held.shift()!.length;
      return;
    }
    for (let i = 0; i < data.length; i += this.o.solChunkBytes) {
      this.send(encodeSolData(this.seq++, data.subarray(i, i + this.o.solChunkBytes)));
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private context(): FrameContext {
    return this.phase === 'start' || this.phase === 'auth' ? 'handshake' : (this.tag ?? 'handshake');
  }

  private send(b: Buffer): void {
    this.bytesOut += b.length;
    this.transport.send(b);
  }

  private arm(name: 'handshake' | 'idle' | 'heartbeat' | 'settle', ms: number, fn: () => void): void {
    const old = this.timers.get(name);
    if (old !== undefined) this.device.clock.cancel(old);
    if (ms <= 0) return;
    this.timers.set(
      name,
      this.device.clock.setTimer(ms, () => {
        this.timers.delete(name);
        fn();
      }, `${this.device.id} redirection ${name}`),
    );
  }

  private disarm(name: 'handshake' | 'idle' | 'heartbeat' | 'settle'): void {
    const id = this.timers.get(name);
    if (id !== undefined) this.device.clock.cancel(id);
    this.timers.delete(name);
  }

  private touch(): void {
    this.arm('idle', this.o.idleTimeoutMs, () => this.close(`no data from the console for ${this.o.idleTimeoutMs} ms`, 'REDIRECTION_TIMEOUT'));
  }

  private handle(f: Buffer): void {
    const type = f[0]!;
    if (type === MSG.END_REDIRECTION_SESSION) {
      this.close('EndRedirectionSession');
      return;
    }
    switch (this.phase) {
      case 'start':
        return this.onStart(f);
      case 'auth':
        if (type !== MSG.AUTHENTICATE_SESSION) return this.close(`message 0x${type.toString(16)} before authentication`, 'REDIRECTION_PROTOCOL');
        return this.onAuth(f);
      case 'ready':
        if (type === MSG.AUTHENTICATE_SESSION) return this.send(encodeAuthReply(STATUS.SUCCESS, f[4]!));
        return this.onReady(f);
      case 'sol':
        return this.onSol(f);
      case 'ider':
        return this.onIder(f);
      default:
        return;
    }
  }

  private onStart(f: Buffer): void {
    if (f[0] !== MSG.START_REDIRECTION_SESSION) return this.close(`expected StartRedirectionSession, got 0x${f[0]!.toString(16)}`, 'REDIRECTION_PROTOCOL');
    const tag = f.subarray(4, 8).toString('latin1');
    const known = (SESSION_TAGS as readonly string[]).includes(tag);
    this.device.record(
      'redirection.session-start',
      { session: tag.trim(), peer: this.o.peer, origin: this.o.origin, tls: this.o.tls, accepted: known },
      known ? undefined : 'REDIRECTION_PROTOCOL',
    );
    // A disabled feature is refused in the StartRedirectionSessionReply status, before authentication:
    // the firmware knows the session type here (docs/reference-user-consent.md §6; amtterm reports
    // "redirection session start failed").
    const enabled = known && featureEnabled(this.device.nvram, tag as SessionTag);
    if (known && !enabled) this.device.record('redirection.refused', { session: tag.trim(), peer: this.o.peer, reason: 'feature disabled' }, 'REDIRECTION_DISABLED');
    this.send(encodeStartSessionReply(enabled ? STATUS.SUCCESS : STATUS.FAIL));
    if (!known) return this.close(`unknown session type ${JSON.stringify(tag)}`, 'REDIRECTION_PROTOCOL');
    if (!enabled) return this.close(`${tag.trim()} redirection is disabled`, 'REDIRECTION_DISABLED');
    this.tag = tag as SessionTag;
    this.phase = 'auth';
  }

  private account(): AdminAccount {
    const n = this.device.nvram;
    return { username: n.adminAcl.username, digestHash: n.adminAcl.digestHash, realm: n.digestRealm };
  }

  private onAuth(f: Buffer): void {
    const authType = f[4]!;
    const body = f.subarray(LEN.AUTH_HEADER);
    if (authType === AUTH_TYPE.QUERY) {
      this.send(encodeAuthReply(STATUS.SUCCESS, AUTH_TYPE.QUERY, Buffer.from(SUPPORTED_AUTH_TYPES)));
      return;
    }
    if (authType === AUTH_TYPE.PLAIN) {
      const p = parsePlain(body);
      if (p && checkPlain(p, this.account())) return this.authOk(authType, p.user);
      return this.authFailed(authType, p?.user, p ? 'wrong user name or password' : 'malformed plain credentials', () =>
        this.send(encodeAuthReply(STATUS.FAIL, authType)),
      );
    }
    if (authType === AUTH_TYPE.DIGEST_RFC2069 || authType === AUTH_TYPE.DIGEST_RFC2617) {
      const d = parseDigest(body, authType);
      if (!d) return this.authFailed(authType, undefined, 'malformed digest message', () => this.send(encodeAuthReply(STATUS.FAIL, authType)));
      if (d.kind === 'open') {
        this.challenge(authType);
        return;
      }
      const verdict = checkDigest(d.a, authType, this.issuedNonce, this.account());
      this.issuedNonce = undefined; // one answer per nonce
      if (verdict.ok) return this.authOk(authType, d.a.user);
      // Like HTTP's 401: a failed answer gets a fresh challenge (MeshCentral answers status 1 again).
      return this.authFailed(authType, d.a.user, verdict.reason, () => this.challenge(authType));
    }
    this.authFailed(authType, undefined, `authentication type ${authType} is not supported`, () => this.send(encodeAuthReply(STATUS.FAIL, authType)));
  }

  /** Status 1 with realm, nonce (32 chars: amtterm's MAX_NONCE) and, for RFC 2617, qop "auth". */
  private challenge(authType: number): void {
    this.issuedNonce = this.device.random(24).toString('base64');
    const items = [this.device.nvram.digestRealm, this.issuedNonce];
    if (authType === AUTH_TYPE.DIGEST_RFC2617) items.push('auth');
    this.send(encodeAuthReply(STATUS.FAIL, authType, joinElements(items)));
  }

  private authOk(authType: number, user: string): void {
    this.user = user;
    this.phase = 'ready';
    this.device.record('redirection.auth', { ok: true, authType, user, session: this.tag?.trim(), peer: this.o.peer });
    this.send(encodeAuthReply(STATUS.SUCCESS, authType));
  }

  private authFailed(authType: number, user: string | undefined, reason: string, reply: () => void): void {
    this.authFailures++;
    this.device.record('redirection.auth', { ok: false, authType, user, reason, failures: this.authFailures, peer: this.o.peer }, 'REDIRECTION_AUTH_FAILED');
    reply();
    if (this.authFailures >= this.o.maxAuthFailures) this.close(`${this.authFailures} failed authentications`, 'REDIRECTION_AUTH_FAILED');
  }

  /**
   * Consent is checked when the feature starts, after authentication, so an unauthenticated peer
   * learns nothing about it (SDK: opening a session without consent fails with USER_CONSENT_REQUIRED).
   */
  private consentMissing(f: Buffer): boolean {
    const type = f[0]!;
    const starts = type === MSG.START_SOL_REDIRECTION || type === MSG.START_IDER_REDIRECTION || type === MSG.START_KVM;
    if (!starts || !this.tag || !consentRequiredFor(this.device.nvram, this.tag)) return false;
    const consent = userConsentFor(this.device);
    if (consent.granted) return false;
    this.device.record('redirection.refused', { session: this.tag.trim(), peer: this.o.peer, reason: 'user consent required', optInState: consent.state }, 'USER_CONSENT_REQUIRED');
    if (type === MSG.START_SOL_REDIRECTION) {
      const { seq, params } = parseStartSol(f);
      this.send(encodeStartSolReply(STATUS.FAIL, seq, params));
    }
    else if (type === MSG.START_IDER_REDIRECTION) this.send(encodeStartIderReply(STATUS.FAIL, this.seq++));
    else this.send(encodeShort(MSG.START_KVM_REPLY, 0, LEN.START_KVM_REPLY, STATUS.FAIL));
    this.close(`${this.tag.trim()} needs user consent`, 'USER_CONSENT_REQUIRED');
    return true;
  }

  private holdConsent(): void {
    if (this.holdsConsent) return;
    this.holdsConsent = true;
    userConsentFor(this.device).sessionOpened();
  }

  private releaseConsent(): void {
    if (!this.holdsConsent) return;
    this.holdsConsent = false;
    userConsentFor(this.device).sessionClosed();
  }

  private onReady(f: Buffer): void {
    const type = f[0]!;
    if (this.consentMissing(f)) return;
    if (this.tag === 'SOL ' && type === MSG.START_SOL_REDIRECTION) return this.startSol(f);
    if (this.tag === 'IDER' && type === MSG.START_IDER_REDIRECTION) {
      this.disarm('handshake');
      this.phase = 'ider';
      this.device.record('redirection.ider-start', { peer: this.o.peer, note: 'no disk is emulated' });
      this.holdConsent();
      this.send(encodeStartIderReply(STATUS.SUCCESS, this.seq++));
      return;
    }
    if (this.tag === 'KVMR' && type === MSG.START_KVM) {
      this.disarm('handshake');
      this.phase = 'kvm';
      this.device.record('redirection.kvm-start', { peer: this.o.peer, note: 'no video is emulated; viewer bytes are discarded' });
      this.holdConsent();
      this.send(encodeShort(MSG.START_KVM_REPLY, 0, LEN.START_KVM_REPLY));
      this.reader.drain();
      return;
    }
    // Heartbeats may arrive between sessions; anything else is out of order.
    if (type === MSG.SOL_HEARTBEAT || type === MSG.IDER_HEARTBEAT || type === MSG.SOL_KEEP_ALIVE_PING) return;
    this.close(`message 0x${type.toString(16)} is not valid before the ${this.tag?.trim()} session starts`, 'REDIRECTION_PROTOCOL');
  }

  private startSol(f: Buffer): void {
    const { seq, params } = parseStartSol(f);
    const con = this.o.console ?? solConsoleFor(this.device);
    if (!con.attach(this)) {
      this.device.record('redirection.sol-start', { ok: false, peer: this.o.peer, reason: 'another SOL session is active' }, 'REDIRECTION_BUSY');
      this.send(encodeStartSolReply(STATUS.FAIL, seq, params));
      return;
    }
    this.console = con;
    this.disarm('handshake');
    this.phase = 'sol';
    this.held = this.o.solSettleMs > 0 ? [] : undefined;
    this.heldBytes = 0;
    this.device.record('redirection.sol-start', { ok: true, peer: this.o.peer, user: this.user, ...params });
    this.holdConsent();
    this.send(encodeStartSolReply(STATUS.SUCCESS, seq, params));
    this.arm('settle', this.o.solSettleMs, () => this.releaseHeld());
    this.armHeartbeat(params);
  }

  /** The firmware sends 0x2B at the interval the console asked for; amtterm echoes it, which keeps its 20 s select() alive. */
  private armHeartbeat(p: SolParams): void {
    if (p.heartbeat <= 0) return;
    const every = Math.max(1000, p.heartbeat);
    const beat = (): void => {
      if (this.phase !== 'sol') return;
      if (!this.held) this.send(encodeShort(MSG.SOL_HEARTBEAT, this.seq++, LEN.HEARTBEAT));
      this.arm('heartbeat', every, beat);
    };
    this.arm('heartbeat', every, beat);
  }

  private releaseHeld(): void {
    if (!this.held) return;
    const pending = this.held;
    this.held = undefined;
    this.disarm('settle');
    for (const b of pending) this.deliver(b);
  }

  private onSol(f: Buffer): void {
    this.releaseHeld();
    switch (f[0]) {
      case MSG.SOL_DATA_TO_HOST:
        this.console?.typed(Buffer.from(f.subarray(LEN.SOL_DATA_HEADER)));
        return;
      case MSG.SOL_HEARTBEAT:
      case MSG.SOL_SETTINGS:
      case MSG.SOL_CONTROLS_FROM_HOST:
        return; // liveness / line settings: nothing to emulate on a virtual UART
      case MSG.SOL_KEEP_ALIVE_PING:
        this.send(encodeShort(MSG.SOL_KEEP_ALIVE_PONG, f.readUInt32LE(4), LEN.HEARTBEAT));
        return;
      case MSG.END_SOL_REDIRECTION:
        this.console?.detach(this);
        this.console = undefined;
        this.disarm('heartbeat');
        this.phase = 'ready';
        this.device.record('redirection.sol-end', { peer: this.o.peer });
        this.releaseConsent();
        this.send(encodeShort(MSG.END_SOL_REDIRECTION_REPLY, f.readUInt32LE(4), LEN.END_SOL_REDIRECTION_REPLY));
        return;
      default:
        this.close(`message 0x${f[0]!.toString(16)} in a SOL session`, 'REDIRECTION_PROTOCOL');
    }
  }

  private onIder(f: Buffer): void {
    switch (f[0]) {
      case MSG.IDER_DISABLE_ENABLE_FEATURES: {
        // Echo the request as the reply: features acknowledged, registers all zero.
        const r = Buffer.alloc(LEN.IDER_DISABLE_ENABLE_FEATURES_REPLY);
        f.copy(r, 0, 0, LEN.IDER_DISABLE_ENABLE_FEATURES);
        r[0] = MSG.IDER_DISABLE_ENABLE_FEATURES_REPLY;
        r[1] = STATUS.SUCCESS;
        this.send(r);
        return;
      }
      case MSG.IDER_HEARTBEAT:
      case MSG.IDER_RESET_OCCURED_RESPONSE:
        return;
      case MSG.IDER_KEEP_ALIVE_PING:
        this.send(encodeShort(MSG.IDER_KEEP_ALIVE_PONG, f.readUInt32LE(4), LEN.HEARTBEAT));
        return;
      case MSG.END_IDER_REDIRECTION:
        this.phase = 'ready';
        this.releaseConsent();
        this.send(encodeShort(MSG.END_IDER_REDIRECTION_REPLY, f.readUInt32LE(4), LEN.END_IDER_REDIRECTION_REPLY));
        return;
      default:
        this.close(`message 0x${f[0]!.toString(16)} in an IDER session`, 'REDIRECTION_PROTOCOL');
    }
  }
}
