/**
 * An in-process LAN: datagrams and hello connections between the emulator's own components
 * without the kernel. The firmware DHCP client, the stub resolver, the fake DHCP and DNS servers
 * and every packet codec run exactly as on real sockets — only the wire is a queue. It exists
 * for discovery simulations at fleet scale (10,000 PCs × a week of backoff in virtual time,
 * benchmark (b)), where the kernel's per-packet cost, not the firmware, would set the pace. A
 * provisioning server outside this process cannot reach it; use the kernel transport for that.
 *
 * Semantics kept from UDP on loopback: delivery by destination address:port, a socket bound to
 * 0.0.0.0 receives for every address, ephemeral ports per address, no delivery to a closed port
 * (the datagram is lost, as ICMP unreachable is ignored by unconnected sockets), and delivery is
 * asynchronous — datagrams sent in one event-loop turn are handed over together in the next.
 * Hellos (TCP connect + one write + close) reach a handler registered with `listen`, else the
 * connect is refused (ECONNREFUSED), as on a host where nothing listens on that port.
 */
import { EventEmitter } from 'node:events';
import type { Result } from '../common/errors.js';
import type { UdpFactory, UdpPeer, UdpSocket, UdpSocketOptions } from './udp.js';

const ANY = '0.0.0.0';
const FIRST_EPHEMERAL = 32768;
const LAST_EPHEMERAL = 60999;

/** Receives one hello: the bytes written and the source address of the connection. */
export type LanStreamHandler = (bytes: Buffer, from: UdpPeer) => void;

interface Datagram {
  to: MemoryUdpSocket;
  msg: Buffer;
  from: UdpPeer;
}

export class MemoryLan {
  private readonly bound = new Map<string, MemoryUdpSocket>();
  private readonly nextPort = new Map<string, number>();
  private readonly streams = new Map<string, LanStreamHandler>();
  private queue: Datagram[] = [];
  private scheduled = false;
  readonly stats = { datagrams: 0, lost: 0, hellos: 0, refused: 0 };

  /** A factory with node:dgram's shape, for the components that take one. */
  readonly udp: UdpFactory = (options?: UdpSocketOptions) => new MemoryUdpSocket(this, options);

  /** Accept hello connections to address:port (address 0.0.0.0 = any). Returns the unlisten function. */
  listen(address: string, port: number, handler: LanStreamHandler): () => void {
    const key = `${address}:${port}`;
    if (this.streams.has(key)) throw new RangeError(`BAD_INPUT: ${key} already has a listener on this LAN`);
    this.streams.set(key, handler);
    return () => {
      if (this.streams.get(key) === handler) this.streams.delete(key);
    };
  }

  /** One hello: connect from `from`, write `bytes`, close. Refused when nothing listens. */
  async deliverHello(from: string, to: UdpPeer, bytes: Buffer): Promise<Result<void, 'HELLO_CONNECT_FAILED'>> {
    const handler = this.streams.get(`${to.address}:${to.port}`) ?? this.streams.get(`${ANY}:${to.port}`);
    if (!handler) {
      this.stats.refused++;
      return { ok: false, code: 'HELLO_CONNECT_FAILED', message: `connect to ${to.address}:${to.port} from ${from}: ECONNREFUSED`, detail: { errno: 'ECONNREFUSED' } };
    }
    this.stats.hellos++;
    const peer = { address: from, port: this.ephemeral(from) };
    // The server reads after the connection is made: a later turn, as on a socket.
    await new Promise<void>((r) => setImmediate(r));
    handler(Buffer.from(bytes), peer);
    return { ok: true, value: undefined };
  }

  /** @internal bind a socket; port 0 picks an ephemeral port for that address. */
  bind(sock: MemoryUdpSocket, address: string, port: number, reuse: boolean): UdpPeer | Error {
    const p = port === 0 ? this.ephemeral(address) : port;
    const key = `${address}:${p}`;
    if (this.bound.has(key) && !reuse) return Object.assign(new Error(`bind EADDRINUSE ${key}`), { code: 'EADDRINUSE' });
    this.bound.set(key, sock);
    return { address, port: p };
  }

  /** @internal */
  unbind(sock: MemoryUdpSocket, at: UdpPeer): void {
    const key = `${at.address}:${at.port}`;
    if (this.bound.get(key) === sock) this.bound.delete(key);
  }

  /** @internal queue a datagram for the next turn; lost when nobody is bound there. */
  send(from: UdpPeer, msg: Buffer, port: number, address: string): void {
    this.stats.datagrams++;
    const to = this.bound.get(`${address}:${port}`) ?? this.bound.get(`${ANY}:${port}`);
    if (!to) {
      this.stats.lost++;
      return;
    }
    // A copy: the sender may reuse its buffer, as it may with the kernel.
    this.queue.push({ to, msg: Buffer.from(msg), from });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const d of batch) d.to.receive(d.msg, d.from);
  }

  private ephemeral(address: string): number {
    for (let tries = 0; tries <= LAST_EPHEMERAL - FIRST_EPHEMERAL; tries++) {
      const n = this.nextPort.get(address) ?? FIRST_EPHEMERAL;
      this.nextPort.set(address, n >= LAST_EPHEMERAL ? FIRST_EPHEMERAL : n + 1);
      if (!this.bound.has(`${address}:${n}`)) return n;
    }
    throw new RangeError(`no free ephemeral port on ${address}`);
  }
}

/** A datagram socket on a MemoryLan, with the node:dgram surface the network code uses. */
export class MemoryUdpSocket extends EventEmitter implements UdpSocket {
  private local: UdpPeer | undefined;
  private closed = false;

  constructor(
    private readonly lan: MemoryLan,
    private readonly options: UdpSocketOptions = {},
  ) {
    super();
  }

  bind(port: number, address: string | undefined, callback: () => void): this {
    const r = this.lan.bind(this, address ?? ANY, port, this.options.reuseAddr === true);
    // Callbacks are asynchronous as with dgram, but a microtask is enough: nothing is on a wire.
    queueMicrotask(() => {
      if (r instanceof Error) return this.emit('error', r);
      this.local = r;
      callback();
      this.emit('listening');
    });
    return this;
  }

  send(msg: Buffer, port: number, address: string, callback?: (error: Error | null) => void): void {
    if (this.closed) {
      queueMicrotask(() => callback?.(Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' })));
      return;
    }
    // An unbound socket gets an ephemeral port on the wildcard address, as dgram does on send.
    this.local ??= this.lan.bind(this, ANY, 0, false) as UdpPeer;
    // A wildcard socket's datagrams leave from the loopback address, as the kernel routes them.
    const from = this.local.address === ANY ? { address: '127.0.0.1', port: this.local.port } : this.local;
    this.lan.send(from, msg, port, address);
    if (callback) queueMicrotask(() => callback(null));
  }

  /** @internal */
  receive(msg: Buffer, from: UdpPeer): void {
    if (!this.closed) this.emit('message', msg, { address: from.address, port: from.port });
  }

  close(callback?: () => void): this {
    if (!this.closed) {
      this.closed = true;
      if (this.local) this.lan.unbind(this, this.local);
      queueMicrotask(() => this.emit('close'));
    }
    if (callback) queueMicrotask(callback);
    return this;
  }

  address(): UdpPeer {
    if (!this.local) throw Object.assign(new Error('getsockname EBADF'), { code: 'EBADF' });
    return { ...this.local };
  }

  setBroadcast(_flag: boolean): void {
    // Broadcast is a netns-mode feature (real L2); this LAN routes by address only.
  }
}
