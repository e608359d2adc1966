/**
 * The firmware's DHCPv4 client (RFC 2131 §4.4 state machine), driven only by the Clock so a
 * week of renewals runs in milliseconds. AMT learns its address, DNS servers and — the part
 * that matters for remote configuration — the option-15 domain from this exchange
 * (reference §3: `provisionserver.<option 15>`; SDK `cfgstartconfigurationex.htm`: no DHCP or
 * no option 15 → `AMT_STATUS_NOT_READY`).
 *
 * INIT → SELECTING (DISCOVER, first OFFER wins) → REQUESTING → BOUND → RENEWING (T1, unicast
 * to the server) → REBINDING (T2, to everyone) → expiry → INIT. A NAK restarts from INIT.
 * Retransmission: 4 s, 8 s, 16 s, … capped at 64 s, each ± 1 s (RFC 2131 §4.1), from a seeded
 * rng so runs are reproducible.
 */
import type { Clock, TimerId } from '../clock/clock.js';
import type { DhcpEvents, DhcpHandle, DhcpIdentity, DhcpLease } from '../device/environment.js';
import {
  BOOTREQUEST,
  DhcpMessageType,
  FLAG_BROADCAST,
  Opt,
  bytesToIps,
  encodeClientFqdn,
  encodeDhcp,
  ipToBytes,
  messageTypeName,
  messageTypeOf,
  readText,
  readU32,
  summarize,
  type DhcpPacket,
} from './dhcp-packet.js';
import type { DhcpClientTransport } from './dhcp-socket.js';
import { DEFAULT_GRACE_MS, openReplyWindow, type ReplyWindow } from './io-window.js';

export type DhcpClientState = 'INIT' | 'SELECTING' | 'REQUESTING' | 'BOUND' | 'RENEWING' | 'REBINDING' | 'STOPPED';

/** Options the firmware asks for (brief: 1, 3, 6, 12, 15, 81). */
export const REQUESTED_OPTIONS = [Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS_SERVERS, Opt.HOSTNAME, Opt.DOMAIN_NAME, Opt.CLIENT_FQDN];

/** Shared, never-mutated option values (encodeDhcp only reads them). */
const PARAMETER_LIST_BYTES = Buffer.from(REQUESTED_OPTIONS);
const MESSAGE_TYPE_BYTES: Readonly<Record<number, Buffer>> = {
  [DhcpMessageType.DISCOVER]: Buffer.from([DhcpMessageType.DISCOVER]),
  [DhcpMessageType.REQUEST]: Buffer.from([DhcpMessageType.REQUEST]),
};

export interface DhcpClientConfig {
  clock: Clock;
  transport: DhcpClientTransport;
  /** Where DISCOVER and REBINDING REQUESTs go: the fake server (loopback) or 255.255.255.255:67. */
  server: { address: string; port: number };
  /** Set the BROADCAST flag so a server answers by broadcast (needed with no address: netns). */
  broadcastFlag?: boolean;
  /** Seed for xids and jitter; derived from the MAC when absent. */
  seed?: number;
  /** DISCOVERs (and REQUESTs) per attempt cycle before giving up; RFC leaves it open. */
  maxAttempts?: number;
  initialTimeoutMs?: number;
  maxTimeoutMs?: number;
  jitterMs?: number;
  /**
   * After giving up (DHCP_NO_OFFER) the link is still up; start a new cycle after this long.
   * [UNKNOWN] firmware value; null = stay idle until restarted.
   */
  restartAfterFailureMs?: number | null;
  /** Pause before restarting after a NAK, so an always-NAK server cannot spin the client. */
  nakRestartDelayMs?: number;
  /** Real ms a virtual-time run waits for a loopback answer (see io-window.ts). */
  replyGraceMs?: number;
}

interface Offer {
  address: string;
  serverId: string;
}

interface Bound {
  lease: DhcpLease;
  serverId: string;
  boundAt: number;
}

/** mulberry32: tiny, seedable, good enough for xids and jitter. */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class FirmwareDhcpClient implements DhcpHandle {
  private st: DhcpClientState = 'INIT';
  private xid = 0;
  private attempt = 0;
  private timer: TimerId | undefined;
  private leaseTimers: TimerId[] = [];
  private offer: Offer | undefined;
  private bound: Bound | undefined;
  private window: ReplyWindow | undefined;
  private readonly rng: () => number;
  private readonly unsubscribe: () => void;
  private readonly clientId: Buffer;
  /** Options 12, 81 and 55 never change for a device: encoded once, not once per packet. */
  private readonly hostnameOpt: Buffer;
  private readonly fqdnOpt: Buffer;
  private readonly cfg: Required<Omit<DhcpClientConfig, 'seed' | 'restartAfterFailureMs'>> & { restartAfterFailureMs: number | null };

  constructor(
    private readonly identity: DhcpIdentity,
    private readonly events: DhcpEvents,
    config: DhcpClientConfig,
  ) {
    this.cfg = {
      clock: config.clock,
      transport: config.transport,
      server: config.server,
      broadcastFlag: config.broadcastFlag ?? false,
      maxAttempts: config.maxAttempts ?? 5,
      initialTimeoutMs: config.initialTimeoutMs ?? 4000,
      maxTimeoutMs: config.maxTimeoutMs ?? 64_000,
      jitterMs: config.jitterMs ?? 1000,
      restartAfterFailureMs: config.restartAfterFailureMs === undefined ? 60_000 : config.restartAfterFailureMs,
      nakRestartDelayMs: config.nakRestartDelayMs ?? 4000,
      replyGraceMs: config.replyGraceMs ?? DEFAULT_GRACE_MS,
    };
    this.clientId = Buffer.concat([Buffer.from([1]), macBytes(identity.mac)]);
    this.hostnameOpt = Buffer.from(identity.hostname, 'latin1');
    // RFC 4702: ASCII name, S=0 (the client updates nothing; [UNKNOWN] real firmware flags).
    this.fqdnOpt = encodeClientFqdn({ flags: 0, name: identity.hostname });
    this.rng = seededRng(config.seed ?? hashString(identity.mac));
    this.unsubscribe = config.transport.subscribe(identity.mac, (p) => this.onReply(p));
  }

  get state(): DhcpClientState {
    return this.st;
  }

  get lease(): DhcpLease | undefined {
    return this.bound?.lease;
  }

  start(): void {
    if (this.st === 'STOPPED') return;
    this.enterInit();
  }

  stop(): void {
    this.st = 'STOPPED';
    this.clearTimer();
    this.clearLeaseTimers();
    this.window?.close();
    this.unsubscribe();
  }

  // ---- timing -------------------------------------------------------------------------

  /** RFC 2131 §4.1: 4 s doubled per retransmission up to 64 s, randomised by ± 1 s. */
  backoffMs(attempt: number): number {
    const base = Math.min(this.cfg.initialTimeoutMs * 2 ** (attempt - 1), this.cfg.maxTimeoutMs);
    const jitter = (this.rng() * 2 - 1) * this.cfg.jitterMs;
    return Math.max(0, Math.round(base + jitter));
  }

  private arm(delayMs: number, fn: () => void, label: string): void {
    this.clearTimer();
    this.timer = this.cfg.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      if (this.st !== 'STOPPED') fn();
    }, label);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.cfg.clock.cancel(this.timer);
    this.timer = undefined;
  }

  private clearLeaseTimers(): void {
    for (const t of this.leaseTimers) this.cfg.clock.cancel(t);
    this.leaseTimers = [];
  }

  // ---- states ---------------------------------------------------------------------------

  private enterInit(): void {
    this.clearTimer();
    this.clearLeaseTimers();
    this.bound = undefined;
    this.offer = undefined;
    this.st = 'SELECTING';
    this.xid = Math.floor(this.rng() * 0x100000000) >>> 0;
    this.attempt = 0;
    this.sendDiscover();
  }

  private sendDiscover(): void {
    this.attempt++;
    const options = this.baseOptions(DhcpMessageType.DISCOVER);
    this.send('discover', this.packet(options, '0.0.0.0'), this.cfg.server);
    this.arm(this.backoffMs(this.attempt), () => {
      if (this.st !== 'SELECTING') return;
      if (this.attempt >= this.cfg.maxAttempts) return this.giveUp();
      this.sendDiscover();
    }, 'dhcp.retransmit');
  }

  private giveUp(): void {
    this.st = 'INIT';
    this.events.onFailure('DHCP_NO_OFFER', `no DHCP offer after ${this.attempt} DISCOVERs to ${this.cfg.server.address}:${this.cfg.server.port}`);
    const again = this.cfg.restartAfterFailureMs;
    if (again !== null) this.arm(again, () => this.enterInit(), 'dhcp.restart');
  }

  private sendRequest(): void {
    const offer = this.offer;
    if (!offer) return;
    this.attempt++;
    const options = this.baseOptions(DhcpMessageType.REQUEST);
    options.set(Opt.REQUESTED_IP, ipToBytes(offer.address));
    options.set(Opt.SERVER_ID, ipToBytes(offer.serverId));
    this.send('request', this.packet(options, '0.0.0.0'), this.cfg.server);
    this.arm(this.backoffMs(this.attempt), () => {
      if (this.st !== 'REQUESTING') return;
      // RFC 2131 §4.4.1: no ACK after the retransmissions → back to INIT.
      if (this.attempt >= this.cfg.maxAttempts) return this.enterInit();
      this.sendRequest();
    }, 'dhcp.retransmit');
  }

  /** RENEWING/REBINDING: REQUEST with ciaddr, no option 50/54 (RFC 2131 §4.3.2 table 4). */
  private sendRenewal(): void {
    const b = this.bound;
    if (!b) return;
    const options = this.baseOptions(DhcpMessageType.REQUEST);
    const type = this.st === 'RENEWING' ? 'renew' : 'rebind';
    // RENEWING unicasts to the server that granted the lease (netns mode); loopback mode has
    // only the fake server's address/port to talk to either way.
    const broadcast = this.cfg.server.address === '255.255.255.255';
    const to = this.st === 'RENEWING' && broadcast ? { address: b.serverId, port: this.cfg.server.port } : this.cfg.server;
    this.send(type, this.packet(options, b.lease.address), to);
    // RFC 2131 §4.4.5: retransmit after half the time left until T2 (or expiry), ≥ 60 s.
    const leaseMs = b.lease.leaseSeconds * 1000;
    const edge = b.boundAt + (this.st === 'RENEWING' ? leaseMs * 0.875 : leaseMs);
    const wait = Math.max(60_000, (edge - this.cfg.clock.now()) / 2);
    if (this.cfg.clock.now() + wait < edge) this.arm(wait, () => this.sendRenewal(), 'dhcp.renew-retransmit');
  }

  private baseOptions(type: number): Map<number, Buffer> {
    const o = new Map<number, Buffer>();
    o.set(Opt.MESSAGE_TYPE, MESSAGE_TYPE_BYTES[type] ?? Buffer.from([type]));
    o.set(Opt.CLIENT_ID, this.clientId);
    o.set(Opt.HOSTNAME, this.hostnameOpt);
    o.set(Opt.CLIENT_FQDN, this.fqdnOpt);
    o.set(Opt.PARAMETER_LIST, PARAMETER_LIST_BYTES);
    return o;
  }

  private packet(options: Map<number, Buffer>, ciaddr: string): DhcpPacket {
    return {
      op: BOOTREQUEST,
      xid: this.xid,
      secs: 0,
      flags: this.cfg.broadcastFlag && ciaddr === '0.0.0.0' ? FLAG_BROADCAST : 0,
      ciaddr,
      yiaddr: '0.0.0.0',
      siaddr: '0.0.0.0',
      giaddr: '0.0.0.0',
      chaddr: this.identity.mac.toUpperCase(),
      options,
    };
  }

  /** `type` is bare (`discover`, `offer`, …): the device prefixes `dhcp.` for its timeline. */
  private send(type: string, p: DhcpPacket, to: { address: string; port: number }): void {
    this.events.onPacket?.('sent', type, { ...summarize(p), state: this.st, attempt: this.attempt, to: `${to.address}:${to.port}` });
    this.window?.close();
    this.window = replyWindowAfter(this.cfg.clock, this.cfg.transport.send(encodeDhcp(p), to), this.cfg.replyGraceMs);
  }

  // ---- replies --------------------------------------------------------------------------

  private onReply(p: DhcpPacket): void {
    if (this.st === 'STOPPED') return;
    const type = messageTypeOf(p);
    const name = (messageTypeName(type) ?? 'unknown').toLowerCase();
    if (p.xid !== this.xid) {
      this.events.onPacket?.('received', 'ignored', { ...summarize(p), reason: 'xid mismatch', messageType: name });
      return;
    }
    this.events.onPacket?.('received', name, { ...summarize(p), state: this.st });
    const serverId = bytesToIps(p.options.get(Opt.SERVER_ID))[0];
    if (type === DhcpMessageType.OFFER && this.st === 'SELECTING') {
      if (!serverId || p.yiaddr === '0.0.0.0') return;
      this.window?.close();
      this.offer = { address: p.yiaddr, serverId };
      this.st = 'REQUESTING';
      this.attempt = 0;
      this.sendRequest();
      return;
    }
    const waiting = this.st === 'REQUESTING' || this.st === 'RENEWING' || this.st === 'REBINDING';
    if (!waiting) return;
    if (type === DhcpMessageType.NAK) {
      this.window?.close();
      const was = this.st;
      const msg = readText(p.options.get(Opt.MESSAGE));
      this.clearTimer();
      this.clearLeaseTimers();
      this.bound = undefined;
      this.st = 'INIT';
      this.events.onFailure('DHCP_NAK', `DHCPNAK from ${serverId ?? 'server'} in ${was}${msg ? `: ${msg}` : ''}`);
      // onFailure may have stopped us (device powered off in reaction).
      if (this.state === 'INIT') this.arm(this.cfg.nakRestartDelayMs, () => this.enterInit(), 'dhcp.restart');
      return;
    }
    if (type === DhcpMessageType.ACK) {
      const leaseSeconds = readU32(p.options.get(Opt.LEASE_TIME));
      if (leaseSeconds === undefined || leaseSeconds === 0 || p.yiaddr === '0.0.0.0') {
        this.events.onPacket?.('received', 'ignored', { reason: 'ACK without lease time or address' });
        return;
      }
      this.window?.close();
      this.bind(p, leaseSeconds, serverId ?? this.offer?.serverId ?? this.bound?.serverId ?? this.cfg.server.address);
    }
  }

  private bind(p: DhcpPacket, leaseSeconds: number, serverId: string): void {
    const lease: DhcpLease = {
      address: p.yiaddr,
      dnsServers: bytesToIps(p.options.get(Opt.DNS_SERVERS)),
      leaseSeconds,
      serverId,
    };
    const mask = bytesToIps(p.options.get(Opt.SUBNET_MASK))[0];
    if (mask) lease.netmask = mask;
    const router = bytesToIps(p.options.get(Opt.ROUTER))[0];
    if (router) lease.router = router;
    const domain = readText(p.options.get(Opt.DOMAIN_NAME));
    if (domain !== undefined) lease.domain = domain;
    const hostname = readText(p.options.get(Opt.HOSTNAME));
    if (hostname !== undefined) lease.hostname = hostname;

    this.clearTimer();
    this.clearLeaseTimers();
    const now = this.cfg.clock.now();
    this.bound = { lease, serverId, boundAt: now };
    this.offer = undefined;
    this.st = 'BOUND';
    const ms = leaseSeconds * 1000;
    // Options 58/59 override the RFC 2131 §4.4.5 defaults of 50 % and 87.5 %.
    const t1 = (readU32(p.options.get(Opt.RENEWAL_T1)) ?? leaseSeconds * 0.5) * 1000;
    const t2 = (readU32(p.options.get(Opt.REBINDING_T2)) ?? leaseSeconds * 0.875) * 1000;
    const c = this.cfg.clock;
    this.leaseTimers.push(
      c.setTimer(t1, () => this.onT1(), 'dhcp.t1'),
      c.setTimer(t2, () => this.onT2(), 'dhcp.t2'),
      c.setTimer(ms, () => this.onExpiry(), 'dhcp.expiry'),
    );
    this.events.onLease(lease);
  }

  private onT1(): void {
    if (this.st !== 'BOUND') return;
    this.st = 'RENEWING';
    this.xid = Math.floor(this.rng() * 0x100000000) >>> 0;
    this.attempt = 0;
    this.sendRenewal();
  }

  private onT2(): void {
    if (this.st !== 'RENEWING' && this.st !== 'BOUND') return;
    this.st = 'REBINDING';
    this.xid = Math.floor(this.rng() * 0x100000000) >>> 0;
    this.sendRenewal();
  }

  private onExpiry(): void {
    if (this.st === 'STOPPED') return;
    const addr = this.bound?.lease.address;
    this.leaseTimers = [];
    this.bound = undefined;
    this.events.onFailure('DHCP_EXPIRED', `lease on ${addr ?? 'address'} expired without renewal`);
    // onFailure may have stopped us (device powered off in reaction).
    if (this.state !== 'STOPPED') this.enterInit();
  }
}

/**
 * Track `sent`, then a reply window whose grace starts only once the datagram has left: the
 * transport may hold a datagram for a while (dhcp-socket.ts paces a fleet's burst), and a grace
 * counted from the queueing would let a virtual-time run move on — and retransmit — while the
 * answer is still on its way.
 */
function replyWindowAfter(clock: Clock, sent: Promise<void>, graceMs: number): ReplyWindow {
  let closed = false;
  let inner: ReplyWindow | undefined;
  void clock.track(
    sent.then(() => {
      // Opened (and tracked) before this tracked promise settles, so the clock never sees a gap.
      if (!closed) inner = openReplyWindow(clock, graceMs);
    }),
  );
  return {
    close: () => {
      closed = true;
      inner?.close();
    },
  };
}

function macBytes(mac: string): Buffer {
  const parts = mac.split(/[:-]/).map((h) => parseInt(h, 16));
  if (parts.length !== 6 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new RangeError(`BAD_INPUT: not a MAC address: "${mac}"`);
  return Buffer.from(parts);
}
