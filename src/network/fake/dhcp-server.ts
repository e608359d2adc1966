/**
 * A DHCP server for tests and `amtemu serve`: hands out addresses from a pool, sticky per MAC,
 * with per-test knobs for the failure modes that break AMT discovery in the field (option 15
 * absent or late — MeshCentral #3691; no answer; NAK; slow server). Reference §3: the firmware
 * builds `provisionserver.<option 15>` from this server's answer, so option 15 is the knob
 * that matters most.
 *
 * Two reply modes:
 * - `loopback`: many emulated devices share one host and 127.0.0.0/8 has no broadcast, so a
 *   device's client sends unicast to this server's address/port and we answer unicast to the
 *   sender's address/port (the chaddr tells devices apart).
 * - `netns`: a real L2 segment (veth in a network namespace). Real clients (dhclient, udhcpc)
 *   have no address yet, so we bind 0.0.0.0:67 and answer by broadcast to 255.255.255.255:68
 *   (RFC 2131 §4.1), or unicast to ciaddr for a renewing client.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../../clock/clock.js';
import { RealClock } from '../../clock/real-clock.js';
import { trackDelivery } from '../io-window.js';
import { DHCP_RECV_BUFFER_BYTES } from '../dhcp-socket.js';
import { kernelUdp, type UdpFactory, type UdpPeer, type UdpSocket } from '../udp.js';
import {
  BOOTREPLY,
  BOOTREQUEST,
  DhcpMessageType,
  Opt,
  bytesToIps,
  decodeClientFqdn,
  decodeDhcp,
  encodeClientFqdn,
  encodeDhcp,
  ipToBytes,
  ipsToBytes,
  messageTypeName,
  messageTypeOf,
  readText,
  summarize,
  u32,
  type DhcpPacket,
} from '../dhcp-packet.js';
import { intToIp, ipToInt, parseIpv4 } from '../address-plan.js';

export interface DhcpBehaviour {
  /** Leave option 15 out of every offer/ack. */
  domainAbsent?: boolean;
  /** Hand out this option 15 instead of the configured one: the PC is now on another network (seed 004 environment detection). */
  domain?: string;
  /** Leave option 15 out of the first N ACKs to a MAC (and of offers until then); renewals get it. */
  domainLateAcks?: number;
  /** Ignore these message types entirely (no answer). `true` = ignore everything. */
  drop?: boolean | Array<'DISCOVER' | 'REQUEST'>;
  /** Answer every REQUEST with a NAK. */
  nak?: boolean;
  /** Answer after this many ms of the server's clock. */
  delayMs?: number;
}

export interface FakeDhcpServerConfig {
  /** Bind address: a 127.x address in loopback mode, usually 0.0.0.0 in netns mode. */
  address: string;
  /** UDP port; 67 by default, tests use a high port in loopback mode. */
  port?: number;
  mode?: 'loopback' | 'netns';
  /** Option 54; defaults to `address` (required when binding 0.0.0.0). */
  serverId?: string;
  pool: { start: string; end: string };
  /** Fixed MAC → address assignments (the address plan), outside or inside the pool. */
  reservations?: Record<string, string>;
  netmask?: string;
  router?: string;
  dnsServers?: string[];
  /** Option 15. */
  domain?: string;
  leaseSeconds?: number;
  /** Clock for `delayMs` and lease expiry bookkeeping; real time by default. */
  clock?: Clock;
  behaviour?: DhcpBehaviour;
  /** Where datagrams go: the kernel (default) or an in-process LAN (memory-lan.ts). */
  udp?: UdpFactory;
}

export interface FakeLease {
  mac: string;
  address: string;
  hostname?: string;
  /** `hostname.domain` when both are known (option 81 name wins). */
  fqdn?: string;
  domain?: string;
  leaseSeconds: number;
  boundAt: number;
  acks: number;
}

export interface DhcpServerEvent {
  type: 'discover' | 'offer' | 'request' | 'ack' | 'nak' | 'release' | 'decline' | 'dropped' | 'malformed' | 'exhausted';
  mac?: string;
  address?: string;
  detail: Record<string, unknown>;
}

export class FakeDhcpServer extends EventEmitter {
  private socket: UdpSocket | undefined;
  private readonly clock: Clock;
  private readonly leases = new Map<string, FakeLease>();
  private readonly taken = new Map<string, string>(); // address → mac
  private readonly perMac = new Map<string, DhcpBehaviour>();
  private behaviour: DhcpBehaviour;
  private readonly leaseHooks: Array<(lease: FakeLease) => void> = [];
  readonly stats = { received: 0, malformed: 0, offers: 0, acks: 0, naks: 0, dropped: 0 };
  readonly log: DhcpServerEvent[] = [];
  private readonly mode: 'loopback' | 'netns';
  private readonly serverId: string;
  private readonly serverIdBytes: Buffer;
  private readonly poolStart: number;
  private readonly poolEnd: number;
  /** Option values that are the same in every reply (54, 51, 1, 3, 6): encoded once. */
  private readonly fixedOptions: ReadonlyArray<[number, Buffer]>;

  constructor(private readonly config: FakeDhcpServerConfig) {
    super();
    this.clock = config.clock ?? new RealClock();
    this.mode = config.mode ?? 'loopback';
    this.behaviour = { ...(config.behaviour ?? {}) };
    const sid = config.serverId ?? config.address;
    if (parseIpv4(sid) === undefined || sid === '0.0.0.0') throw new RangeError(`BAD_INPUT: DHCP server id must be a unicast IPv4 address, got "${sid}"`);
    this.serverId = sid;
    const s = parseIpv4(config.pool.start);
    const e = parseIpv4(config.pool.end);
    if (s === undefined || e === undefined || s > e) throw new RangeError(`BAD_INPUT: DHCP pool ${config.pool.start}–${config.pool.end} is not a valid IPv4 range`);
    this.poolStart = s;
    this.poolEnd = e;
    const fixed: Array<[number, Buffer]> = [[Opt.LEASE_TIME, u32(config.leaseSeconds ?? 86400)]];
    if (config.netmask) fixed.push([Opt.SUBNET_MASK, ipToBytes(config.netmask)]);
    if (config.router) fixed.push([Opt.ROUTER, ipToBytes(config.router)]);
    if (config.dnsServers?.length) fixed.push([Opt.DNS_SERVERS, ipsToBytes(config.dnsServers)]);
    this.fixedOptions = fixed;
    this.serverIdBytes = ipToBytes(sid);
    for (const [mac, ip] of Object.entries(config.reservations ?? {})) {
      if (parseIpv4(ip) === undefined) throw new RangeError(`BAD_INPUT: reservation for ${mac} is not an IPv4 address: "${ip}"`);
    }
  }

  async start(): Promise<{ address: string; port: number }> {
    // A whole fleet's DISCOVERs arrive here; ask for headroom beyond the 208 KiB default (the
    // kernel caps it at net.core.rmem_max). The client socket paces its sends so a low cap
    // cannot lose packets either (dhcp-socket.ts).
    const sock = (this.config.udp ?? kernelUdp)({ reuseAddr: true, recvBufferSize: DHCP_RECV_BUFFER_BYTES });
    this.socket = sock;
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A send error (e.g. ENETUNREACH for a broadcast) must not take the process down.
    sock.on('error', (err) => this.emit('socketError', err));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.config.port ?? 67, this.config.address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    if (this.mode === 'netns') sock.setBroadcast(true);
    const a = sock.address();
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** Change knobs for every client, or for one MAC only. */
  setBehaviour(b: DhcpBehaviour, mac?: string): void {
    if (mac) this.perMac.set(normMac(mac), { ...(this.perMac.get(normMac(mac)) ?? {}), ...b });
    else this.behaviour = { ...this.behaviour, ...b };
  }

  resetBehaviour(): void {
    this.behaviour = {};
    this.perMac.clear();
  }

  /** Called for every ACK, e.g. so the DNS server can register the device's name (A + PTR). */
  onLease(hook: (lease: FakeLease) => void): void {
    this.leaseHooks.push(hook);
  }

  leaseFor(mac: string): FakeLease | undefined {
    return this.leases.get(normMac(mac));
  }

  private knobs(mac: string): DhcpBehaviour {
    const own = this.perMac.get(mac);
    // Read-only use below, so the fleet-wide object serves when no per-MAC knob exists.
    return own ? { ...this.behaviour, ...own } : this.behaviour;
  }

  private record(e: DhcpServerEvent): void {
    this.log.push(e);
    // Bounded, and trimmed in halves so a big fleet does not pay an O(n) shift per event.
    if (this.log.length > 20_000) this.log.splice(0, 10_000);
    this.emit(e.type, e);
    this.emit('event', e);
  }

  private onMessage(msg: Buffer, rinfo: UdpPeer): void {
    this.stats.received++;
    try {
      const d = decodeDhcp(msg);
      if (!d.ok || d.packet.op !== BOOTREQUEST) {
        this.stats.malformed++;
        this.record({ type: 'malformed', detail: { from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: d.ok ? 'not a BOOTREQUEST' : d.message } });
        return;
      }
      this.handle(d.packet, rinfo);
    } catch (e) {
      // Defensive: a bug in handling one packet must never stop the server.
      this.stats.malformed++;
      this.record({ type: 'malformed', detail: { from: `${rinfo.address}:${rinfo.port}`, reason: (e as Error).message } });
    }
  }

  private handle(req: DhcpPacket, rinfo: UdpPeer): void {
    const mac = req.chaddr;
    const type = messageTypeOf(req);
    const typeName = messageTypeName(type);
    const k = this.knobs(mac);
    if (k.drop === true || (Array.isArray(k.drop) && typeName && (k.drop as string[]).includes(typeName))) {
      this.stats.dropped++;
      this.record({ type: 'dropped', mac, detail: { ...summarize(req), messageType: typeName ?? type } });
      return;
    }
    switch (type) {
      case DhcpMessageType.DISCOVER: {
        const detail = summarize(req);
        this.record({ type: 'discover', mac, detail });
        const address = this.allocate(mac, req);
        if (!address) {
          this.record({ type: 'exhausted', mac, detail: { pool: this.config.pool } });
          return;
        }
        this.stats.offers++;
        this.reply(req, rinfo, DhcpMessageType.OFFER, address, k);
        this.record({ type: 'offer', mac, address, detail: { ...detail } });
        return;
      }
      case DhcpMessageType.REQUEST:
        this.onRequest(req, rinfo, k);
        return;
      case DhcpMessageType.RELEASE:
        this.record({ type: 'release', mac, detail: summarize(req) });
        return; // the address stays reserved for this MAC (sticky)
      case DhcpMessageType.DECLINE: {
        this.record({ type: 'decline', mac, detail: summarize(req) });
        return;
      }
      default:
        this.stats.malformed++;
        this.record({ type: 'malformed', mac, detail: { reason: `unsupported DHCP message type ${type ?? 'missing'}` } });
    }
  }

  private onRequest(req: DhcpPacket, rinfo: UdpPeer, k: DhcpBehaviour): void {
    const mac = req.chaddr;
    this.record({ type: 'request', mac, detail: summarize(req) });
    const sid = bytesToIps(req.options.get(Opt.SERVER_ID))[0];
    // SELECTING: the client chose another server's offer — stay silent (RFC 2131 §4.3.2).
    if (sid !== undefined && sid !== this.serverId) return;
    const requested = req.ciaddr !== '0.0.0.0' ? req.ciaddr : bytesToIps(req.options.get(Opt.REQUESTED_IP))[0];
    const ours = this.addressFor(mac);
    if (k.nak || !requested || requested !== ours) {
      this.stats.naks++;
      this.reply(req, rinfo, DhcpMessageType.NAK, '0.0.0.0', k);
      this.record({ type: 'nak', mac, detail: { requested, ours, forced: !!k.nak } });
      return;
    }
    const prev = this.leases.get(mac);
    const hostname = readText(req.options.get(Opt.HOSTNAME)) ?? prev?.hostname;
    const fqdnOpt = decodeClientFqdn(req.options.get(Opt.CLIENT_FQDN));
    const acks = (prev?.acks ?? 0) + 1;
    const domain = this.domainFor(k, acks);
    const lease: FakeLease = {
      mac,
      address: requested,
      leaseSeconds: this.config.leaseSeconds ?? 86400,
      boundAt: this.clock.now(),
      acks,
      ...(hostname !== undefined ? { hostname } : {}),
      ...(domain !== undefined ? { domain } : {}),
    };
    const fqdn = fqdnOpt?.name.includes('.') ? fqdnOpt.name : (fqdnOpt?.name ?? hostname) && domain ? `${fqdnOpt?.name ?? hostname}.${domain}` : undefined;
    if (fqdn) lease.fqdn = fqdn;
    this.leases.set(mac, lease);
    this.stats.acks++;
    this.reply(req, rinfo, DhcpMessageType.ACK, requested, k, acks);
    this.record({ type: 'ack', mac, address: requested, detail: { ...summarize(req), domain: domain ?? null, acks } });
    for (const h of this.leaseHooks) {
      try {
        h(lease);
      } catch (e) {
        this.emit('hookError', e);
      }
    }
    this.emit('lease', lease);
  }

  /** Option 15 for the n-th ACK (offers use the count of ACKs so far + 1). */
  private domainFor(k: DhcpBehaviour, ackNumber: number): string | undefined {
    const domain = k.domain ?? this.config.domain;
    if (k.domainAbsent || !domain) return undefined;
    if (k.domainLateAcks !== undefined && ackNumber <= k.domainLateAcks) return undefined;
    return domain;
  }

  /**
   * The reservation table is read live on every request (the fleet adds devices after the
   * server started) with O(1) lookups — a 10,000-device fleet must not scan it per packet.
   * Keys may be written upper or lower case, with colons or dashes.
   */
  private reservedFor(mac: string): string | undefined {
    const r = this.config.reservations;
    if (!r) return undefined;
    const exact = r[mac];
    if (exact !== undefined) return exact;
    const lower = mac.toLowerCase();
    return r[lower] ?? r[mac.replace(/:/g, '-')] ?? r[lower.replace(/:/g, '-')];
  }

  private addressFor(mac: string): string | undefined {
    return this.reservedFor(mac) ?? this.leases.get(mac)?.address ?? this.offered.get(mac);
  }

  private readonly offered = new Map<string, string>();

  private allocate(mac: string, req: DhcpPacket): string | undefined {
    const known = this.addressFor(mac);
    if (known) return known;
    // Honour a requested address (option 50) when it is free and in the pool.
    // Reservations added after start are not in `taken`; never hand one to another MAC.
    const reserved = new Set(Object.values(this.config.reservations ?? {}));
    const free = (ip: string): boolean => !this.taken.has(ip) && !reserved.has(ip);
    const wish = bytesToIps(req.options.get(Opt.REQUESTED_IP))[0];
    const wishN = wish ? ipToInt(wish) : undefined;
    if (wish && wishN !== undefined && wishN >= this.poolStart && wishN <= this.poolEnd && free(wish)) return this.take(mac, wish);
    for (let n = this.poolStart; n <= this.poolEnd; n++) {
      const ip = intToIp(n);
      if (free(ip)) return this.take(mac, ip);
    }
    return undefined;
  }

  private take(mac: string, ip: string): string {
    this.taken.set(ip, mac);
    this.offered.set(mac, ip);
    return ip;
  }

  private reply(req: DhcpPacket, rinfo: UdpPeer, type: number, yiaddr: string, k: DhcpBehaviour, ackNumber?: number): void {
    const options = new Map<number, Buffer>();
    options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
    options.set(Opt.SERVER_ID, this.serverIdBytes);
    if (type !== DhcpMessageType.NAK) {
      // Same order as before (51, 1, 3, 6): the bytes on the wire are unchanged.
      for (const [code, value] of this.fixedOptions) options.set(code, value);
      const hostname = readText(req.options.get(Opt.HOSTNAME));
      if (hostname) options.set(Opt.HOSTNAME, Buffer.from(hostname, 'latin1'));
      const prevAcks = this.leases.get(req.chaddr)?.acks ?? 0;
      const domain = this.domainFor(k, ackNumber ?? prevAcks + 1);
      if (domain) options.set(Opt.DOMAIN_NAME, Buffer.from(domain, 'latin1'));
      const fq = decodeClientFqdn(req.options.get(Opt.CLIENT_FQDN));
      if (fq) {
        // RFC 4702 §3.1: S=1 "server updates the A RR", O=1 when we override the client's S=0.
        const name = fq.name.includes('.') || !domain ? fq.name : `${fq.name}.${domain}`;
        const flags = (fq.flags & 0x04) | 0x01 | ((fq.flags & 0x01) === 0 ? 0x02 : 0);
        options.set(Opt.CLIENT_FQDN, encodeClientFqdn({ flags, name }));
      }
    } else {
      options.set(Opt.MESSAGE, Buffer.from('requested address not available', 'latin1'));
    }
    const out = encodeDhcp({
      op: BOOTREPLY,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: type === DhcpMessageType.NAK ? '0.0.0.0' : req.ciaddr,
      yiaddr,
      siaddr: '0.0.0.0',
      giaddr: req.giaddr,
      chaddr: req.chaddr,
      options,
    });
    let host: string;
    let port: number;
    if (this.mode === 'loopback') {
      host = rinfo.address;
      port = rinfo.port;
    } else if (type !== DhcpMessageType.NAK && req.ciaddr !== '0.0.0.0') {
      host = req.ciaddr;
      port = 68;
    } else {
      host = '255.255.255.255';
      port = 68;
    }
    const send = (): Promise<void> =>
      new Promise<void>((resolve) => {
        const s = this.socket;
        if (!s) return resolve();
        s.send(out, port, host, (err) => {
          if (err) this.emit('socketError', err);
          resolve();
        });
      });
    const delay = k.delayMs ?? 0;
    if (delay > 0) this.clock.setTimer(delay, () => trackDelivery(this.clock, send()), 'dhcp-server.delay');
    else void send();
  }
}

function normMac(mac: string): string {
  return mac.replace(/-/g, ':').toUpperCase();
}
