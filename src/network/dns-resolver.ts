/**
 * The firmware's stub resolver: one A query over UDP to the DHCP-supplied servers (option 6),
 * no OS cache, timeouts on the device Clock so a DNS outage can be replayed in virtual time.
 * The firmware needs it for `provisionserver.<suffix>` (reference §3). The resolution ORDER
 * (MEBx suffix first, then option 15) is device logic and lives in src/device.
 *
 * Outcome per server: NXDOMAIN (or an empty NOERROR) is an authoritative "no" and ends the
 * search; SERVFAIL/REFUSED or silence moves on to the next server. If every server failed, the
 * result is DNS_SERVFAIL when any server answered with an error, else DNS_TIMEOUT.
 */
import dns2, { Packet } from 'dns2';
import type { Clock } from '../clock/clock.js';
import type { Result } from '../common/errors.js';
import type { DnsFailure } from '../device/environment.js';
import { DEFAULT_GRACE_MS, openReplyWindow } from './io-window.js';
import { parseIpv4 } from './address-plan.js';
import { checkDnsMessage } from './dns-wire.js';
import { kernelUdp, type UdpFactory } from './udp.js';
import { DnsMemo, keyAfterId, withId } from './dns-memo.js';

export interface DnsResolverConfig {
  clock: Clock;
  /** Port used when a server is given without one (53; tests point it at a high port). */
  port?: number;
  /** Per-try timeout on the device clock. [UNKNOWN] firmware value; 2 s like many stubs. */
  timeoutMs?: number;
  /** Tries per server. */
  attempts?: number;
  replyGraceMs?: number;
  rng?: () => number;
  /** Where queries go: the kernel (default) or an in-process LAN (memory-lan.ts). */
  udp?: UdpFactory;
}

const TYPE_A = 1;
const TYPE_CNAME = 5;
const MAX_CNAME_HOPS = 8;
const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

type TryOutcome = { kind: 'answer'; addresses: string[] } | { kind: 'nxdomain'; message: string } | { kind: 'error'; message: string } | { kind: 'timeout' };

/** Query bytes per name (ID 0) and interpretations per (server, name, reply bytes after the ID): see dns-memo.ts. */
const queryTemplates = new DnsMemo<Buffer>();
const interpretations = new DnsMemo<TryOutcome | 'ignore'>();

function queryBytes(qname: string, id: number): Buffer {
  let template = queryTemplates.get(qname);
  if (!template) {
    const req = new Packet();
    req.header.id = 0;
    req.header.rd = 1;
    req.questions.push({ name: qname, type: TYPE_A, class: 1 } as dns2.Packet.Question);
    template = req.toBuffer();
    queryTemplates.set(qname, template);
  }
  return withId(template, id);
}

/** `interpret` for a reply to query `id`: the ID is checked on the bytes, the rest is memoised. */
function interpretReply(msg: Buffer, id: number, qname: string, server: { host: string; port: number }): TryOutcome | undefined {
  if (msg.length < 2 || msg.readUInt16BE(0) !== id) return undefined;
  const key = `${server.host}:${server.port}|${qname}|${keyAfterId(msg)}`;
  const known = interpretations.get(key);
  if (known !== undefined) return known === 'ignore' ? undefined : copy(known);
  const o = interpret(msg, id, qname, server);
  interpretations.set(key, o ?? 'ignore');
  return o && copy(o);
}

/** Callers own their address list; the memo keeps its own. */
function copy(o: TryOutcome): TryOutcome {
  return o.kind === 'answer' ? { kind: 'answer', addresses: [...o.addresses] } : o;
}

export class FirmwareDnsResolver {
  private readonly cfg: Required<Omit<DnsResolverConfig, 'rng' | 'udp'>>;
  private readonly rng: () => number;
  private readonly udp: UdpFactory;

  constructor(config: DnsResolverConfig) {
    this.cfg = {
      clock: config.clock,
      port: config.port ?? 53,
      timeoutMs: config.timeoutMs ?? 2000,
      attempts: config.attempts ?? 2,
      replyGraceMs: config.replyGraceMs ?? DEFAULT_GRACE_MS,
    };
    this.rng = config.rng ?? Math.random;
    this.udp = config.udp ?? kernelUdp;
  }

  async resolve(name: string, servers: string[], fromAddress?: string): Promise<Result<string[], DnsFailure>> {
    const qname = name.trim().replace(/\.+$/, '');
    if (!qname || qname.length > 253 || qname.split('.').some((l) => l.length === 0 || l.length > 63)) {
      return { ok: false, code: 'DNS_NXDOMAIN', message: `"${name}" is not a valid DNS name` };
    }
    const targets = servers.map((s) => this.parseServer(s)).filter((s): s is { host: string; port: number } => s !== undefined);
    if (targets.length === 0) return { ok: false, code: 'DNS_TIMEOUT', message: `no usable DNS server for ${qname} (got ${JSON.stringify(servers)})` };
    const errors: string[] = [];
    let sawError = false;
    for (const server of targets) {
      for (let attempt = 1; attempt <= this.cfg.attempts; attempt++) {
        const r = await this.query(qname, server, fromAddress);
        if (r.kind === 'answer') return { ok: true, value: r.addresses };
        if (r.kind === 'nxdomain') return { ok: false, code: 'DNS_NXDOMAIN', message: r.message, detail: { server: `${server.host}:${server.port}` } };
        if (r.kind === 'error') {
          sawError = true;
          errors.push(r.message);
          break; // a server that answered with an error will not change its mind on retry
        }
        errors.push(`${server.host}:${server.port} timed out after ${this.cfg.timeoutMs} ms (try ${attempt})`);
      }
    }
    return sawError
      ? { ok: false, code: 'DNS_SERVFAIL', message: `${qname}: ${errors.join('; ')}` }
      : { ok: false, code: 'DNS_TIMEOUT', message: `${qname}: ${errors.join('; ')}` };
  }

  private parseServer(s: string): { host: string; port: number } | undefined {
    const m = /^([\d.]+)(?::(\d{1,5}))?$/.exec(s.trim());
    if (!m || parseIpv4(m[1]!) === undefined) return undefined;
    const port = m[2] ? Number(m[2]) : this.cfg.port;
    return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
  }

  private query(qname: string, server: { host: string; port: number }, fromAddress?: string): Promise<TryOutcome> {
    const clock = this.cfg.clock;
    const id = Math.floor(this.rng() * 0x10000) & 0xffff;
    const bytes = queryBytes(qname, id);
    const work = new Promise<TryOutcome>((resolve) => {
      const sock = this.udp();
      const window = openReplyWindow(clock, this.cfg.replyGraceMs);
      let done = false;
      const finish = (o: TryOutcome): void => {
        if (done) return;
        done = true;
        clock.cancel(timer);
        window.close();
        try {
          sock.close();
        } catch {
          /* already closed */
        }
        resolve(o);
      };
      const timer = clock.setTimer(this.cfg.timeoutMs, () => finish({ kind: 'timeout' }), 'dns.timeout');
      sock.on('error', (e) => finish({ kind: 'error', message: `${server.host}:${server.port}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
      sock.on('message', (msg) => {
        const o = interpretReply(msg, id, qname, server);
        // Replies that do not match our id/question are ignored (spoofing, late answers).
        if (o) finish(o);
      });
      sock.bind(0, fromAddress, () => {
        sock.send(bytes, server.port, server.host, (err) => {
          if (err) finish({ kind: 'error', message: `${server.host}:${server.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
        });
      });
    });
    // Only the reply window is tracked (io-window.ts): tracking `work` itself would hold a
    // virtual clock still while the query waits for its own virtual-time timeout.
    return work;
  }
}

function interpret(msg: Buffer, id: number, qname: string, server: { host: string; port: number }): TryOutcome | undefined {
  // Unchecked bytes can make dns2's parser spin for seconds (dns-wire.ts).
  if (checkDnsMessage(msg) !== undefined) return undefined;
  let res: Packet;
  try {
    res = Packet.parse(msg);
  } catch {
    return undefined;
  }
  if (res.header.id !== id || res.header.qr !== 1) return undefined;
  const q = res.questions[0];
  if (q && q.name.toLowerCase() !== qname.toLowerCase()) return undefined;
  const at = `${server.host}:${server.port}`;
  const rcode = res.header.rcode;
  if (rcode === 3) return { kind: 'nxdomain', message: `${qname}: NXDOMAIN from ${at}` };
  if (rcode !== 0) return { kind: 'error', message: `${qname}: ${RCODE_NAMES[rcode] ?? `RCODE ${rcode}`} from ${at}` };
  // Follow the CNAME chain inside the answer section, comparing names case-insensitively.
  let owner = qname.toLowerCase();
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const here = res.answers.filter((a) => typeof a.name === 'string' && a.name.toLowerCase().replace(/\.$/, '') === owner);
    const records = here.filter((a) => a.type === TYPE_A);
    // An A record is four bytes; dns2 renders any RDLENGTH as dotted bytes ("10.97.45.97.45…"),
    // so a record that is not a dotted quad makes the whole message malformed: ignored, as
    // the other unreadable answers are (a well-formed one may still come). Found by the DNS fuzz.
    if (records.some((a) => typeof a.address !== 'string' || parseIpv4(a.address) === undefined)) return undefined;
    const addrs = records.map((a) => a.address as string);
    if (addrs.length > 0) return { kind: 'answer', addresses: addrs };
    const cname = here.find((a) => a.type === TYPE_CNAME && typeof a.domain === 'string');
    if (!cname) break;
    owner = (cname.domain as string).toLowerCase().replace(/\.$/, '');
  }
  return { kind: 'nxdomain', message: `${qname}: no A record in the answer from ${at} (NOERROR/NODATA)` };
}
