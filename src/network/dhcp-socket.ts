/**
 * The UDP endpoint of the firmware DHCP clients. One socket serves a whole fleet (DESIGN "One
 * socket per port, not per device"): replies are handed to the client whose MAC is in chaddr.
 * - loopback: bound to 127.0.0.1:<port or ephemeral>; the fake server answers unicast to it.
 * - netns: bound to 0.0.0.0:68 with SO_BROADCAST, the way a real DHCP client listens before
 *   it has an address (RFC 2131 §4.1). One device per namespace.
 *
 * Sends are paced: at most `sendsPerTurn` datagrams go to the kernel per event-loop turn. A
 * fleet powered on together hands this socket thousands of DISCOVERs in one synchronous burst;
 * on loopback each datagram lands directly in the receiver's queue, and a receiving libuv socket
 * reads at most 32 datagrams per loop turn (uv__udp_recvmsg), so an unpaced burst overflows the
 * fake server's receive buffer (10,000 DISCOVERs: ~98 % dropped, counted in /proc/net/snmp
 * Udp RcvbufErrors) and every lost device retransmits 4 ± 1 s later (RFC 2131 §4.1). That loss
 * is an artefact of one host carrying a whole LAN, not something a real segment of PCs sees, so
 * we meter the wire instead. Pacing costs no virtual time: the send promise stays tracked by
 * the VirtualClock until the datagram is handed to the kernel.
 */
import { kernelUdp, type UdpFactory, type UdpSocket } from './udp.js';
import { decodeDhcp, BOOTREPLY, type DhcpPacket } from './dhcp-packet.js';

/**
 * Datagrams handed to the kernel per event-loop turn: the number a libuv UDP receiver drains
 * per turn (uv__udp_recvmsg reads up to 32), so a burst never outruns the fake server.
 */
export const DEFAULT_SENDS_PER_TURN = 32;

/**
 * Receive buffer asked of the kernel (SO_RCVBUF; Linux caps it at net.core.rmem_max, often
 * 208 KiB, ~160 DHCP datagrams). Headroom for a burst of replies; pacing is what guarantees
 * no loss when the cap is low.
 */
export const DHCP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface DhcpClientTransport {
  send(packet: Buffer, to: { address: string; port: number }): Promise<void>;
  /** Receive replies whose chaddr is `mac`; returns an unsubscribe function. */
  subscribe(mac: string, onReply: (p: DhcpPacket) => void): () => void;
}

export interface DhcpSocketOptions {
  mode: 'loopback' | 'netns';
  /** Local address to bind; 127.0.0.1 (loopback) or 0.0.0.0 (netns). */
  bindAddress?: string;
  /** Local port; ephemeral in loopback mode, 68 in netns mode. */
  port?: number;
  /** Datagrams sent per event-loop turn (see the module comment); default 32. */
  sendsPerTurn?: number;
  /** Where datagrams go: the kernel (default) or an in-process LAN (memory-lan.ts). */
  udp?: UdpFactory;
}

interface QueuedSend {
  packet: Buffer;
  port: number;
  address: string;
  done: () => void;
}

export class DhcpClientSocket implements DhcpClientTransport {
  private socket: UdpSocket | undefined;
  private ready: Promise<UdpSocket> | undefined;
  private readonly subscribers = new Map<string, (p: DhcpPacket) => void>();
  /** FIFO of datagrams not yet handed to the kernel; `head` avoids an O(n) shift per send. */
  private queue: QueuedSend[] = [];
  private head = 0;
  private draining = false;
  private readonly sendsPerTurn: number;
  readonly stats = { received: 0, malformed: 0, unmatched: 0, sendErrors: 0 };

  constructor(private readonly opts: DhcpSocketOptions) {
    const perTurn = opts.sendsPerTurn ?? DEFAULT_SENDS_PER_TURN;
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new RangeError(`BAD_INPUT: sendsPerTurn must be an integer ≥ 1, got ${perTurn}`);
    this.sendsPerTurn = perTurn;
  }

  private open(): Promise<UdpSocket> {
    if (this.ready) return this.ready;
    this.ready = new Promise<UdpSocket>((resolve, reject) => {
      const sock = (this.opts.udp ?? kernelUdp)({ reuseAddr: this.opts.mode === 'netns', recvBufferSize: DHCP_RECV_BUFFER_BYTES });
      sock.on('message', (msg) => this.onMessage(msg));
      sock.once('error', reject);
      const addr = this.opts.bindAddress ?? (this.opts.mode === 'netns' ? '0.0.0.0' : '127.0.0.1');
      const port = this.opts.port ?? (this.opts.mode === 'netns' ? 68 : 0);
      sock.bind(port, addr, () => {
        sock.off('error', reject);
        sock.on('error', () => {
          this.stats.sendErrors++;
        });
        if (this.opts.mode === 'netns') sock.setBroadcast(true);
        this.socket = sock;
        resolve(sock);
      });
    });
    return this.ready;
  }

  /** Bound local address (after the first send or `bind()`). */
  async bind(): Promise<{ address: string; port: number }> {
    const s = await this.open();
    const a = s.address();
    return { address: a.address, port: a.port };
  }

  /** Resolves once the datagram is handed to the kernel (or counted as a send error). */
  send(packet: Buffer, to: { address: string; port: number }): Promise<void> {
    return new Promise<void>((done) => {
      this.queue.push({ packet, port: to.port, address: to.address, done });
      if (!this.draining) {
        this.draining = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    let s: UdpSocket | undefined;
    try {
      s = await this.open();
    } catch {
      s = undefined;
    }
    while (this.head < this.queue.length) {
      const end = Math.min(this.head + this.sendsPerTurn, this.queue.length);
      for (; this.head < end; this.head++) {
        const q = this.queue[this.head]!;
        if (!s || this.socket !== s) {
          // Bind failed or the socket was closed meanwhile: the datagram is lost.
          this.stats.sendErrors++;
          q.done();
          continue;
        }
        s.send(q.packet, q.port, q.address, (err) => {
          // A lost datagram is what retransmission is for; count it, never throw.
          if (err) this.stats.sendErrors++;
          q.done();
        });
      }
      if (this.head < this.queue.length) await new Promise<void>((r) => setImmediate(r));
    }
    this.queue = [];
    this.head = 0;
    this.draining = false;
  }

  subscribe(mac: string, onReply: (p: DhcpPacket) => void): () => void {
    const key = mac.toUpperCase();
    this.subscribers.set(key, onReply);
    return () => {
      if (this.subscribers.get(key) === onReply) this.subscribers.delete(key);
    };
  }

  private onMessage(msg: Buffer): void {
    this.stats.received++;
    const d = decodeDhcp(msg);
    if (!d.ok || d.packet.op !== BOOTREPLY) {
      this.stats.malformed++;
      return;
    }
    const h = this.subscribers.get(d.packet.chaddr.toUpperCase());
    if (!h) {
      this.stats.unmatched++;
      return;
    }
    h(d.packet);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    this.ready = undefined;
    this.subscribers.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
