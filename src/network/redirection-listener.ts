/**
 * The redirection ports for a whole fleet: one TCP socket for 16994 (plain) and one for 16995
 * (TLS), routed by the connection's local address to the device that owns it (DESIGN.md "One
 * socket per port, not per device"). Each accepted connection runs a RedirectionSession
 * (src/device/redirection) once the device says the port is open for this origin
 * (`portOpen`: redirection needs a configured device, and CSME 16.1+/19 gate the plain port,
 * reference §6.1).
 */
import net from 'node:net';
import tls from 'node:tls';
import { RedirectionSession, type RedirectionDevice, type RedirectionSessionOptions } from '../device/redirection/session.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';
import { redirectionSettings } from '../device/user-consent.js';

/** What the listener needs from a device (AmtDevice satisfies it). */
export interface RedirectionHost extends RedirectionDevice {
  readonly address: string | undefined;
  readonly profile: FirmwareProfile;
  portOpen(port: number, origin: 'local' | 'remote'): boolean;
}

export interface TlsIdentity {
  keyPem: string;
  certPem: string;
}

export interface RedirectionListenerOptions {
  /** Address to bind; '0.0.0.0' accepts on every device address (127.x in a loopback fleet). */
  host?: string;
  /** 16994 by default; 0 picks a free port (tests). */
  plainPort?: number;
  /** 16995 by default; 0 picks a free port; null disables the TLS port. */
  tlsPort?: number | null;
  /** The device that owns a local address. */
  deviceAt(address: string): RedirectionHost | undefined;
  /** The device's TLS key and certificate (src/pki/device-cert.ts DeviceCertStore). */
  tlsIdentity?(device: RedirectionHost): Promise<TlsIdentity>;
  /** Session timeouts and limits (clock-based, see RedirectionSessionOptions). */
  session?: Omit<RedirectionSessionOptions, 'peer' | 'origin' | 'tls' | 'console'>;
  /** Wall time allowed for a TLS handshake before the socket is dropped. */
  tlsHandshakeTimeoutMs?: number;
  /**
   * Wall time from accept (or from the TLS handshake) until a SOL/IDER/KVM session has started.
   * The session's own handshake timer runs on the device clock, which a virtual-time fleet may
   * never advance; without this guard silent consoles held their sockets, and the listener's
   * shared maxConnections, for ever (issue 9). Default 30 s.
   */
  handshakeWallTimeoutMs?: number;
  /** Bytes queued for a console that does not read before the session is cut. */
  maxQueuedBytes?: number;
  /** Concurrent connections per port. */
  maxConnections?: number;
}

const LOGICAL_PLAIN = 16994;
const LOGICAL_TLS = 16995;

export function normalizeAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export class RedirectionListener {
  private plain: net.Server | undefined;
  private secure: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly contexts = new Map<string, Promise<tls.SecureContext>>();
  readonly stats = { accepted: 0, refused: 0, unrouted: 0, tlsFailures: 0 };

  constructor(private readonly opts: RedirectionListenerOptions) {}

  /** Bind the ports; resolves with the actual port numbers. */
  async start(): Promise<{ plain: number; tls: number | undefined }> {
    const host = this.opts.host ?? '0.0.0.0';
    this.plain = await this.listen(host, this.opts.plainPort ?? LOGICAL_PLAIN, (s) => this.onPlain(s));
    if (this.opts.tlsPort !== null) {
      this.secure = await this.listen(host, this.opts.tlsPort ?? LOGICAL_TLS, (s) => void this.onTls(s));
    }
    return this.ports;
  }

  get ports(): { plain: number; tls: number | undefined } {
    const port = (s: net.Server | undefined): number | undefined => {
      const a = s?.address();
      return a && typeof a === 'object' ? a.port : undefined;
    };
    return { plain: port(this.plain) ?? 0, tls: port(this.secure) };
  }

  get connections(): number {
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(
      [this.plain, this.secure].map((srv) => (srv ? new Promise<void>((r) => srv.close(() => r())) : Promise.resolve())),
    );
    this.plain = undefined;
    this.secure = undefined;
  }

  /** Drop a device's cached TLS context (its certificate changed). */
  forgetTls(deviceId: string): void {
    this.contexts.delete(deviceId);
  }

  /** Drop every session to this address: a powered-off ME keeps no TCP state. */
  disconnect(address: string): number {
    let n = 0;
    for (const s of this.sockets) {
      if (normalizeAddress(s.localAddress) === address) {
        s.destroy();
        n++;
      }
    }
    return n;
  }

  private listen(host: string, port: number, onConn: (s: net.Socket) => void): Promise<net.Server> {
    // pauseOnConnect: no byte is read before routing, so a TLS wrap later sees the ClientHello.
    const srv = net.createServer({ pauseOnConnect: true }, (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      s.on('error', () => undefined); // reported through 'close'; never crash the fleet
      onConn(s);
    });
    srv.maxConnections = this.opts.maxConnections ?? 4096;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        srv.on('error', () => undefined);
        resolve(srv);
      });
    });
  }

  /** Route by local address and ask the device whether the port is open for this origin. */
  private route(s: net.Socket, logicalPort: number): { device: RedirectionHost; origin: 'local' | 'remote'; peer: string } | undefined {
    const local = normalizeAddress(s.localAddress);
    const peer = normalizeAddress(s.remoteAddress);
    const device = this.opts.deviceAt(local);
    if (!device) {
      this.stats.unrouted++;
      s.destroy();
      return undefined;
    }
    // The host OS shares the device's address (LMS); anything else is the network.
    const origin = peer === (device.address ?? local) ? 'local' : 'remote';
    if (!device.portOpen(logicalPort, origin)) {
      this.stats.refused++;
      device.record('redirection.refused', { port: logicalPort, origin, peer, state: device.nvram.provisioning.state }, 'REDIRECTION_PORT_CLOSED');
      s.destroy();
      return undefined;
    }
    // AMT_RedirectionService.ListenerEnabled false: the redirection listener is off (docs/reference-user-consent.md §1).
    if (!redirectionSettings(device.nvram).listenerEnabled) {
      this.stats.refused++;
      device.record('redirection.refused', { port: logicalPort, origin, peer, reason: 'listener disabled' }, 'REDIRECTION_PORT_CLOSED');
      s.destroy();
      return undefined;
    }
    this.stats.accepted++;
    return { device, origin, peer };
  }

  private onPlain(s: net.Socket): void {
    const r = this.route(s, LOGICAL_PLAIN);
    if (!r) return;
    s.setNoDelay(true);
    this.run(s, s, r.device, r.peer, r.origin, false);
    s.resume();
  }

  private async onTls(raw: net.Socket): Promise<void> {
    const r = this.route(raw, LOGICAL_TLS);
    if (!r) return;
    if (!this.opts.tlsIdentity) {
      r.device.record('redirection.refused', { port: LOGICAL_TLS, reason: 'no TLS identity configured' }, 'REDIRECTION_PORT_CLOSED');
      raw.destroy();
      return;
    }
    let ctx: tls.SecureContext;
    try {
      ctx = await this.contextFor(r.device);
    } catch (e) {
      this.stats.tlsFailures++;
      r.device.record('redirection.tls-failed', { peer: r.peer, message: (e as Error).message }, 'REDIRECTION_PROTOCOL');
      raw.destroy();
      return;
    }
    if (raw.destroyed) return;
    raw.setNoDelay(true);
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx });
    t.on('error', () => undefined);
    const limit = this.opts.tlsHandshakeTimeoutMs ?? 30_000;
    raw.setTimeout(limit, () => {
      this.stats.tlsFailures++;
      r.device.record('redirection.tls-failed', { peer: r.peer, message: `no TLS handshake within ${limit} ms` }, 'REDIRECTION_TIMEOUT');
      raw.destroy();
    });
    t.once('secure', () => {
      raw.setTimeout(0);
      this.run(t, raw, r.device, r.peer, r.origin, true);
    });
    raw.resume();
  }

  private contextFor(device: RedirectionHost): Promise<tls.SecureContext> {
    let p = this.contexts.get(device.id);
    if (!p) {
      const versions = device.profile.network.tlsVersions;
      const order = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
      const min = order.find((v) => versions.includes(v)) ?? 'TLSv1.2';
      const max = [...order].reverse().find((v) => versions.includes(v)) ?? 'TLSv1.3';
      p = this.opts.tlsIdentity!(device).then((id) =>
        tls.createSecureContext({ key: id.keyPem, cert: id.certPem, minVersion: min, maxVersion: max, ...(min === 'TLSv1' || min === 'TLSv1.1' ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}) }),
      );
      p.catch(() => this.contexts.delete(device.id));
      this.contexts.set(device.id, p);
    }
    return p;
  }

  /** Wire a (plain or TLS) stream to a protocol session. */
  private run(stream: net.Socket, raw: net.Socket, device: RedirectionHost, peer: string, origin: 'local' | 'remote', isTls: boolean): void {
    const maxQueued = this.opts.maxQueuedBytes ?? 1024 * 1024;
    let session: RedirectionSession | undefined;
    const transport = {
      send: (b: Buffer): void => {
        if (stream.destroyed) return;
        if (stream.writableLength + b.length > maxQueued) {
          session?.close(`console is not reading (${stream.writableLength} bytes queued)`, 'REDIRECTION_OVERFLOW');
          return;
        }
        stream.write(b);
      },
      close: (): void => {
        if (stream.destroyed) return;
        stream.end();
        // Give the FIN a moment to carry the last reply, then make sure the fd is released.
        setTimeout(() => raw.destroy(), 2000).unref();
      },
    };
    session = new RedirectionSession(device, transport, { peer, origin, tls: isTls, ...this.opts.session });
    const guardMs = this.opts.handshakeWallTimeoutMs ?? 30_000;
    const handshaking = (): boolean => session!.state === 'start' || session!.state === 'auth' || session!.state === 'ready';
    // A deadline, not an idle timer: a console trickling bytes must not extend it.
    let guard: NodeJS.Timeout | undefined = setTimeout(() => {
      guard = undefined;
      if (handshaking()) session!.close(`no SOL/IDER/KVM session started within ${guardMs} ms (wall time)`, 'REDIRECTION_TIMEOUT');
    }, guardMs);
    const disarm = (): void => {
      if (guard) clearTimeout(guard);
      guard = undefined;
    };
    raw.once('close', disarm);
    stream.on('data', (chunk: Buffer) => {
      session!.receive(chunk);
      if (guard && !handshaking()) disarm();
    });
    stream.once('close', () => session!.peerClosed());
    stream.once('end', () => session!.peerClosed());
  }
}
