/**
 * An authoritative DNS server for the emulated network, on `dns2` (DESIGN "Real bytes"). It
 * answers the firmware's `ProvisionServer.<suffix>` query (reference §3) and holds the A/PTR
 * records of devices that took a DHCP lease, because MeshCentral reverse-resolves the hello's
 * source address (reference §1.3). Names compare case-insensitively (RFC 4343): firmware asks
 * `ProvisionServer.<suffix>` in mixed case. Per-name knobs reproduce the failures seen in the
 * field: NXDOMAIN, SERVFAIL, no answer, slow answer.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type dns2 from 'dns2';
import { Packet } from 'dns2';

type Resource = dns2.Packet.Resource;
import type { Clock } from '../../clock/clock.js';
import { RealClock } from '../../clock/real-clock.js';
import { trackDelivery } from '../io-window.js';
import { parseIpv4 } from '../address-plan.js';
import { checkDnsMessage } from '../dns-wire.js';
import { DnsMemo, keyAfterId, withId } from '../dns-memo.js';
import { kernelUdp, type UdpFactory, type UdpPeer, type UdpSocket } from '../udp.js';

export type ZoneRecordType = 'A' | 'AAAA' | 'PTR' | 'CNAME';
export interface ZoneRecord {
  name: string;
  type: ZoneRecordType;
  /** Address for A/AAAA, target name for PTR/CNAME. */
  value: string;
  ttl?: number;
}

export type DnsFailureMode = { kind: 'nxdomain' } | { kind: 'servfail' } | { kind: 'drop' } | { kind: 'delay'; delayMs: number };

export interface FakeDnsServerConfig {
  address: string;
  /** UDP (and TCP) port; 53 by default, tests use a high port. */
  port?: number;
  tcp?: boolean;
  zone?: ZoneRecord[];
  defaultTtl?: number;
  /** Clock for `delay`; real time by default. */
  clock?: Clock;
  /** Where UDP datagrams go: the kernel (default) or an in-process LAN (memory-lan.ts). TCP is the kernel's. */
  udp?: UdpFactory;
}

export interface DnsQueryLogEntry {
  t: number;
  from: string;
  transport: 'udp' | 'tcp';
  name: string;
  type: string;
  outcome: 'answer' | 'nodata' | 'nxdomain' | 'servfail' | 'dropped' | 'delayed';
  answers: string[];
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 12: 'PTR', 28: 'AAAA', 255: 'ANY' };
const TYPE_CODES: Record<ZoneRecordType, number> = { A: 1, CNAME: 5, PTR: 12, AAAA: 28 };
/** Longest CNAME chain we follow inside the zone (loops end here). */
const MAX_CNAME_HOPS = 8;

/** Lower-case, no trailing dot: the key every lookup uses. */
export function canonicalName(name: string): string {
  return name.trim().replace(/\.+$/, '').toLowerCase();
}

export function reverseName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

type Send = (response: Packet | Buffer) => Promise<Buffer>;

/** A UDP answer already computed for the same request bytes (after the ID) and the same zone. */
interface MemoAnswer {
  key: string;
  name: string;
  type: string;
  outcome: DnsQueryLogEntry['outcome'];
  answers: string[];
  /** The response with ID 0. */
  response: Buffer;
}

export class FakeDnsServer extends EventEmitter {
  private readonly records = new Map<string, ZoneRecord[]>();
  private readonly failures = new Map<string, DnsFailureMode>();
  private udp: UdpSocket | undefined;
  private tcp: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private readonly clock: Clock;
  readonly log: DnsQueryLogEntry[] = [];
  readonly stats = { queries: 0, malformed: 0 };
  /** Cleared on every zone or failure change, so a hit is exactly what `answer` would send. */
  private readonly memo = new DnsMemo<MemoAnswer>();

  constructor(private readonly config: FakeDnsServerConfig) {
    super();
    this.clock = config.clock ?? new RealClock();
    for (const r of config.zone ?? []) this.add(r);
  }

  async start(): Promise<{ address: string; port: number; tcpPort?: number }> {
    const port = this.config.port ?? 53;
    // Sockets are ours, the codec is dns2's: dns2's own servers hand unchecked bytes to
    // Packet.parse, which can spin for seconds on garbage (see dns-wire.ts).
    const udp = (this.config.udp ?? kernelUdp)();
    this.udp = udp;
    udp.on('message', (msg, rinfo) => {
      if (this.answerFromMemo(msg, rinfo)) return;
      const req = this.parse(msg);
      if (!req) return;
      const send: Send = (res) =>
        new Promise<Buffer>((resolve) => {
          const bytes = Buffer.isBuffer(res) ? res : res.toBuffer();
          if (!this.udp) return resolve(bytes);
          this.udp.send(bytes, rinfo.port, rinfo.address, () => resolve(bytes));
        });
      this.onRequest(req, send, rinfo, 'udp', keyAfterId(msg));
    });
    await bindUdp(udp, port, this.config.address);
    udp.on('error', (e: Error) => this.emit('socketError', e));
    const bound = udp.address();
    let tcpPort: number | undefined;
    if (this.config.tcp) {
      const tcp = net.createServer((c) => this.onTcp(c));
      this.tcp = tcp;
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(bound.port, this.config.address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      tcp.on('error', (e: Error) => this.emit('socketError', e));
      tcpPort = (tcp.address() as net.AddressInfo).port;
    }
    return tcpPort !== undefined ? { address: bound.address, port: bound.port, tcpPort } : { address: bound.address, port: bound.port };
  }

  async stop(): Promise<void> {
    const u = this.udp;
    const t = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    if (u) await new Promise<void>((r) => u.close(() => r()));
    if (t) await new Promise<void>((r) => t.close(() => r()));
  }

  private parse(msg: Buffer): Packet | undefined {
    const bad = checkDnsMessage(msg);
    if (bad) {
      this.stats.malformed++;
      this.emit('malformed', bad);
      return undefined;
    }
    try {
      return Packet.parse(msg);
    } catch (e) {
      this.stats.malformed++;
      this.emit('malformed', (e as Error).message);
      return undefined;
    }
  }

  /** RFC 1035 §4.2.2 / RFC 7766: two-byte length prefix per message, several per connection. */
  private onTcp(c: net.Socket): void {
    this.conns.add(c);
    c.setTimeout(10_000, () => c.destroy());
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => c.destroy());
    let buf = Buffer.alloc(0);
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > 70_000) return c.destroy();
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) return;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const req = this.parse(msg);
        // Framing cannot be trusted after garbage: drop the connection.
        if (!req) return c.destroy();
        const send: Send = (res) => {
          const bytes = Buffer.isBuffer(res) ? res : res.toBuffer();
          const len2 = Buffer.alloc(2);
          len2.writeUInt16BE(bytes.length);
          if (!c.destroyed) c.write(Buffer.concat([len2, bytes]));
          return Promise.resolve(bytes);
        };
        this.onRequest(req, send, c, 'tcp');
      }
    });
  }

  add(r: ZoneRecord): void {
    if ((r.type === 'A' && parseIpv4(r.value) === undefined) || (r.type === 'AAAA' && net.isIPv6(r.value) === false)) {
      throw new RangeError(`BAD_INPUT: ${r.type} record for ${r.name} has an invalid address "${r.value}"`);
    }
    const key = canonicalName(r.name);
    if (!key) throw new RangeError('BAD_INPUT: zone record with an empty name');
    const list = this.records.get(key) ?? [];
    // A renewal re-registers the same record: no change, keep the memo.
    if (list.some((x) => x.type === r.type && x.value === r.value && x.ttl === r.ttl && x.name === r.name)) return;
    this.memo.clear();
    // Replace an identical-type record for A/PTR registrations, keep others.
    const rest = r.type === 'A' || r.type === 'PTR' || r.type === 'CNAME' ? list.filter((x) => x.type !== r.type) : list;
    this.records.set(key, [...rest, r]);
  }

  remove(name: string, type?: ZoneRecordType): void {
    this.memo.clear();
    const key = canonicalName(name);
    if (!type) this.records.delete(key);
    else this.records.set(key, (this.records.get(key) ?? []).filter((x) => x.type !== type));
  }

  /** The name a PTR record gives for `ipv4`, read in process (what a reverse query would answer). */
  nameOf(ipv4: string): string | undefined {
    return this.records.get(canonicalName(reverseName(ipv4)))?.find((r) => r.type === 'PTR')?.value;
  }

  /** A device took a lease: publish `name → address` and the matching PTR. */
  register(name: string, address: string): void {
    this.add({ name, type: 'A', value: address });
    this.add({ name: reverseName(address), type: 'PTR', value: canonicalName(name) });
  }

  setFailure(name: string, mode: DnsFailureMode | undefined): void {
    this.memo.clear();
    const key = canonicalName(name);
    if (mode) this.failures.set(key, mode);
    else this.failures.delete(key);
  }

  clearFailures(): void {
    this.memo.clear();
    this.failures.clear();
  }

  /** The fast path for a UDP query seen before: log it and send the memoised answer with this ID. */
  private answerFromMemo(msg: Buffer, rinfo: UdpPeer): boolean {
    if (msg.length < 12) return false;
    const hit = this.memo.get(keyAfterId(msg));
    if (!hit || this.failures.has(hit.key) || !this.udp) return false;
    this.stats.queries++;
    const entry: DnsQueryLogEntry = { t: this.clock.now(), from: `${rinfo.address}:${rinfo.port}`, transport: 'udp', name: hit.name, type: hit.type, outcome: hit.outcome, answers: hit.answers };
    this.udp.send(withId(hit.response, msg.readUInt16BE(0)), rinfo.port, rinfo.address);
    this.logQuery(entry);
    return true;
  }

  private logQuery(entry: DnsQueryLogEntry): void {
    this.log.push(entry);
    // Bounded, and trimmed in halves so a big fleet does not pay an O(n) shift per event.
    if (this.log.length > 20_000) this.log.splice(0, 10_000);
    this.emit('query', entry);
  }

  private onRequest(req: Packet, send: Send, client: unknown, transport: 'udp' | 'tcp', memoKey?: string): void {
    try {
      this.answer(req, send, client, transport, memoKey);
    } catch (e) {
      this.stats.malformed++;
      this.emit('handlerError', e);
    }
  }

  private answer(req: Packet, send: Send, client: unknown, transport: 'udp' | 'tcp', memoKey?: string): void {
    this.stats.queries++;
    const from = describeClient(client);
    const q = req.questions[0];
    const res = Packet.createResponseFromRequest(req);
    res.header.aa = 1;
    res.header.ra = 0;
    if (!q || req.header.qr !== 0 || typeof q.name !== 'string') {
      this.stats.malformed++;
      return; // not a query we can answer: stay silent like a strict server
    }
    const key = canonicalName(q.name);
    const typeName = TYPE_NAMES[q.type] ?? String(q.type);
    const entry: DnsQueryLogEntry = { t: this.clock.now(), from, transport, name: q.name, type: typeName, outcome: 'answer', answers: [] };
    const failure = this.failures.get(key);
    const finish = (outcome: DnsQueryLogEntry['outcome']): void => {
      entry.outcome = outcome;
      this.logQuery(entry);
    };
    if (failure?.kind === 'drop') return finish('dropped');
    if (failure?.kind === 'nxdomain' || failure?.kind === 'servfail') {
      res.header.rcode = failure.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.SERVFAIL;
      void send(res).catch(() => undefined);
      return finish(failure.kind);
    }
    let outcome: DnsQueryLogEntry['outcome'] = 'answer';
    if (q.class !== 1 && q.class !== 255) {
      res.header.rcode = RCODE.NOTIMP;
      outcome = 'servfail';
    } else if (!this.records.has(key)) {
      res.header.rcode = RCODE.NXDOMAIN;
      outcome = 'nxdomain';
    } else {
      res.answers = this.lookup(q.name, q.type);
      entry.answers = res.answers.map((a) => `${a.name} ${TYPE_NAMES[a.type] ?? a.type} ${a.address ?? a.domain ?? ''}`);
      if (res.answers.length === 0) outcome = 'nodata';
    }
    if (failure?.kind === 'delay') {
      this.clock.setTimer(failure.delayMs, () => trackDelivery(this.clock, send(res).catch(() => undefined)), 'dns-server.delay');
      return finish('delayed');
    }
    // Encoded here, synchronously, so the memo holds exactly the answer of the zone as it is now.
    const bytes = res.toBuffer();
    void send(bytes).catch(() => undefined);
    if (memoKey !== undefined) this.memo.set(memoKey, { key, name: q.name, type: typeName, outcome, answers: entry.answers, response: withId(bytes, 0) });
    finish(outcome);
  }

  /** Records for `name`, following CNAMEs inside the zone; the first owner keeps the asked case. */
  private lookup(asked: string, qtype: number): Resource[] {
    const out: Resource[] = [];
    let owner = asked.replace(/\.+$/, '');
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      const recs = this.records.get(canonicalName(owner)) ?? [];
      const direct = recs.filter((r) => qtype === 255 || TYPE_CODES[r.type] === qtype);
      if (direct.length > 0) {
        for (const r of direct) out.push(this.resource(owner, r));
        return out;
      }
      const cname = recs.find((r) => r.type === 'CNAME');
      if (!cname) return out;
      out.push(this.resource(owner, cname));
      owner = cname.value;
    }
    return out;
  }

  private resource(owner: string, r: ZoneRecord): Resource {
    const res = new Packet.Resource(owner, TYPE_CODES[r.type], 1, r.ttl ?? this.config.defaultTtl ?? 300);
    if (r.type === 'A' || r.type === 'AAAA') res.address = r.value;
    else res.domain = r.value;
    return res;
  }
}

function describeClient(client: unknown): string {
  if (client instanceof net.Socket) return `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`;
  const c = client as { address?: string; port?: number } | undefined;
  return c?.address ? `${c.address}:${c.port ?? '?'}` : 'unknown';
}

function bindUdp(sock: UdpSocket, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}
