/**
 * The UDP endpoint of the firmware DHCP clients. One socket serves a whole fleet (DESIGN "One
 * socket per port, not per device"): replies are handed to the client whose MAC is in chaddr.
 * - loopback: bound to 127.0.0.1:<port or ephemeral>; the fake server answers unicast to it.
 * - netns: bound to 0.0.0.0:68 with SO_BROADCAST, the way a real DHCP client listens before
 *   it has an address (RFC 2131 §4.1). One device per namespace.
 */
import dgram from 'node:dgram';
import { decodeDhcp, BOOTREPLY, type DhcpPacket } from './dhcp-packet.js';

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
}

export class DhcpClientSocket implements DhcpClientTransport {
  private socket: dgram.Socket | undefined;
  private ready: Promise<dgram.Socket> | undefined;
  private readonly subscribers = new Map<string, (p: DhcpPacket) => void>();
  readonly stats = { received: 0, malformed: 0, unmatched: 0, sendErrors: 0 };

  constructor(private readonly opts: DhcpSocketOptions) {}

  private open(): Promise<dgram.Socket> {
    if (this.ready) return this.ready;
    this.ready = new Promise<dgram.Socket>((resolve, reject) => {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: this.opts.mode === 'netns' });
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

  async send(packet: Buffer, to: { address: string; port: number }): Promise<void> {
    let s: dgram.Socket;
    try {
      s = await this.open();
    } catch {
      this.stats.sendErrors++;
      return;
    }
    await new Promise<void>((resolve) => {
      s.send(packet, to.port, to.address, (err) => {
        // A lost datagram is what retransmission is for; count it, never throw.
        if (err) this.stats.sendErrors++;
        resolve();
      });
    });
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
