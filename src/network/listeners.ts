/**
 * One listening socket per port for the whole fleet (DESIGN.md "one socket per port"): each
 * accepted connection is routed by the address it was made TO (socket.localAddress) to the
 * device owning that 127.0.0.0/8 address. A connection to an unknown address, or to a port the
 * device keeps filtered in its state (device.portOpen, reference §6.1), is reset like a
 * filtered port. 16993 is upgraded to TLS with the device's own certificate after routing
 * (no SNI is needed), and a device in setup runs PKI-CH on the client's chain.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { AmtDevice, Origin, RemoteSetupSession } from '../device/device.js';
import { AmtHttpService, MAX_BODY_BYTES, type HttpResponseOut } from '../device/http/amt-http.js';
import type { ConnectionInfo } from '../device/wsman/types.js';
import { DeviceTlsContexts, expectsSetupChain, peerChainDer, pskAcceptor, runPkiCh } from './port-tls.js';

export interface PortListenersOptions {
  /** The device that owns an IPv4 address, if any. */
  lookup: (address: string) => AmtDevice | undefined;
  /**
   * Bind address. Default '0.0.0.0': on Linux that one socket receives connections for every
   * 127.x.y.z address; connections to any address outside `accept` are destroyed at once.
   */
  host?: string;
  /** Ports; 0 picks a free one (tests). Default 16992 / 16993. */
  httpPort?: number;
  tlsPort?: number;
  /** Which local (destination) addresses may be served. Default: 127.0.0.0/8 only. */
  accept?: (localAddress: string) => boolean;
  http?: AmtHttpService;
  tls?: DeviceTlsContexts;
  /** Idle socket timeout; slow or silent clients are cut after this. Default 30 s. */
  idleTimeoutMs?: number;
  /** Whole headers must arrive within this. Default 10 s. */
  headersTimeoutMs?: number;
  /** Log sink for operator-level problems (pino-compatible). */
  log?: (msg: string, data?: Record<string, unknown>) => void;
  /** Fault rules consulted once per request (the scenario runner's and the API's FaultRules). */
  faults?: FaultHook;
}

/** What a fault rule does to one request (src/scenario/faults.ts explains each effect). */
export type FaultDecision =
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'empty' }
  | { kind: 'fail'; returnValue?: number };

export interface FaultHook {
  decide(ctx: { deviceId: string; port: number; action?: string }): FaultDecision | undefined;
}

/** The WS-Man Action of a request body, cheaply (the full parse happens in the WS-Man service). */
export function soapAction(body: string): string | undefined {
  const m = /<(?:[A-Za-z_][\w.-]*:)?Action\b[^>]*>\s*([^<\s]{1,512})\s*</.exec(body.length > 65536 ? body.slice(0, 65536) : body);
  return m?.[1];
}

/** What the listener knows about an accepted connection. */
interface ConnContext {
  device: AmtDevice;
  port: number;
  origin: Origin;
  peerAddress: string;
  tls: boolean;
  /** The TCP socket under the connection (a TLS socket's own handle cannot send a reset). */
  tcp: Socket;
  /** The PKI-CH session this connection established, if any. */
  setupSession?: RemoteSetupSession;
}

function optionalAction(chunks: Buffer[]): { action?: string } {
  const action = soapAction(Buffer.concat(chunks).toString('utf8'));
  return action ? { action } : {};
}

export function isLoopbackV4(addr: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr);
}

function v4(addr: string | undefined): string {
  return (addr ?? '').replace(/^::ffff:/, '');
}

/** Largest chunk whose size fits the firmware's four hex digits. */
const MAX_CHUNK = 0xffff;

export class PortListeners {
  readonly http: AmtHttpService;
  readonly tls: DeviceTlsContexts;
  private readonly opts: PortListenersOptions;
  private readonly contexts = new WeakMap<Socket, ConnContext>();
  private readonly sockets = new Set<Socket>();
  private plainServer: NetServer | undefined;
  private tlsServer: NetServer | undefined;
  private readonly httpParser: HttpServer;

  constructor(opts: PortListenersOptions) {
    this.opts = opts;
    this.http = opts.http ?? new AmtHttpService();
    this.tls = opts.tls ?? new DeviceTlsContexts();
    // node:http parses requests on sockets we hand it; it never listens itself.
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    // connectionsCheckingInterval: how often node checks headersTimeout (default 30 s, which
    // would let a slow client keep its connection three times longer than headersTimeout says).
    this.httpParser = createHttpServer({ maxHeaderSize: 16 * 1024, requestTimeout: 60_000, headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout), keepAliveTimeout: 30_000 }, (req, res) => {
      void this.onRequest(req, res);
    });
    this.httpParser.timeout = opts.idleTimeoutMs ?? 30_000;
    this.httpParser.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Headers or request too slow (slowloris): close without an answer, as the idle timeout does.
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return socket.destroy();
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    });
  }

  get httpPort(): number {
    return (this.plainServer?.address() as AddressInfo | null)?.port ?? 0;
  }
  get tlsPort(): number {
    return (this.tlsServer?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? '0.0.0.0';
    this.plainServer = await this.listen(this.opts.httpPort ?? 16992, host, (s) => this.onConnection(s, false));
    this.tlsServer = await this.listen(this.opts.tlsPort ?? 16993, host, (s) => this.onConnection(s, true));
    // node enforces headersTimeout/requestTimeout from a timer it starts on 'listening'. This
    // server never listens (sockets are handed to it), so start that timer here: without it a
    // client trickling one header byte a second held its connection forever (issue 9 slowloris).
    this.httpParser.emit('listening');
  }

  private listen(port: number, host: string, onConn: (s: Socket) => void): Promise<NetServer> {
    return new Promise((resolve, reject) => {
      const srv = createNetServer({ pauseOnConnect: true }, onConn);
      srv.once('error', reject);
      srv.listen({ port, host, backlog: 1024 }, () => {
        srv.off('error', reject);
        srv.on('error', (e) => this.opts.log?.('listener error', { port, error: String(e) }));
        resolve(srv);
      });
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    // Stops the timeout timer started in start() (the callback gets "not running": expected).
    this.httpParser.close(() => undefined);
    await Promise.all(
      [this.plainServer, this.tlsServer].map(
        (srv) => new Promise<void>((resolve) => (srv ? srv.close(() => resolve()) : resolve())),
      ),
    );
    this.plainServer = undefined;
    this.tlsServer = undefined;
  }

  /** Route by destination address; unknown or filtered → reset, like a filtered port. */
  private onConnection(socket: Socket, tls: boolean): void {
    socket.on('error', () => socket.destroy());
    const local = v4(socket.localAddress);
    const accept = this.opts.accept ?? isLoopbackV4;
    const device = accept(local) ? this.opts.lookup(local) : undefined;
    const wirePort = tls ? 16993 : 16992;
    const peer = v4(socket.remoteAddress);
    // The host OS shares the device's address (LMS relays from it). A PC without a wired lease
    // (wireless-only, seed 004) still has its host path: the address the fleet planned for it,
    // the same rule the redirection and RMCP listeners use.
    const origin: Origin = device && peer === (device.address ?? local) ? 'local' : 'remote';
    if (!device || !device.portOpen(wirePort, origin)) {
      socket.resetAndDestroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const ctx: ConnContext = { device, port: wirePort, origin, peerAddress: peer, tls, tcp: socket };
    if (!tls) {
      this.contexts.set(socket, ctx);
      this.httpParser.emit('connection', socket);
      socket.resume();
      return;
    }
    void this.upgrade(socket, ctx);
  }

  private async upgrade(socket: Socket, ctx: ConnContext): Promise<void> {
    const { device } = ctx;
    let secureContext;
    try {
      secureContext = await this.tls.contextFor(device);
    } catch (e) {
      this.opts.log?.('device TLS identity failed', { device: device.id, error: String(e) });
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    const setup = expectsSetupChain(device, ctx.origin);
    const mutual = setup || (device.state === 'Post' && device.nvram.tls.remote.mutualAuthentication);
    const psk = pskAcceptor(device, ctx.origin, ctx.peerAddress);
    const t = new TLSSocket(socket, { isServer: true, secureContext, requestCert: mutual, rejectUnauthorized: false, ...(psk?.tlsOptions ?? {}) });
    let secured = false;
    t.once('secure', () => {
      secured = true;
    });
    t.on('error', (e) => {
      // A refused handshake (old TLS version, no shared cipher) is worth a line on the timeline.
      if (!secured) device.record('tls.failed', { peerAddress: ctx.peerAddress, origin: ctx.origin, reason: String((e as NodeJS.ErrnoException).code ?? e.message).slice(0, 120) }, 'TLS_HANDSHAKE_FAILED');
      psk?.onError(e);
      t.destroy();
      socket.destroy();
    });
    t.setTimeout(this.opts.idleTimeoutMs ?? 30_000, () => t.destroy());
    t.once('secure', () => {
      device.record('tls.handshake', { protocol: t.getProtocol(), cipher: t.getCipher().name, origin: ctx.origin, peerAddress: ctx.peerAddress });
      const pskSession = psk?.onSecure(t);
      if (pskSession) ctx.setupSession = pskSession;
      else if (setup) {
        const session = runPkiCh(device, peerChainDer(t), ctx.peerAddress);
        // The firmware drops a TLS session whose chain fails PKI-CH.
        if (!session) {
          t.destroy();
          return;
        }
        ctx.setupSession = session;
      }
      this.contexts.set(t, ctx);
      this.httpParser.emit('connection', t);
    });
    socket.resume();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = this.contexts.get(req.socket);
    if (!ctx) {
      res.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_BODY_BYTES) tooLarge = true;
    if (!tooLarge) {
      try {
        for await (const c of req) {
          const b = c as Buffer;
          size += b.length;
          if (size > MAX_BODY_BYTES) {
            tooLarge = true;
            break;
          }
          chunks.push(b);
        }
      } catch {
        res.destroy();
        return;
      }
    }
    const { device } = ctx;
    let injectReturnValue: number | undefined;
    const fault = tooLarge ? undefined : this.opts.faults?.decide({ deviceId: device.id, port: ctx.port, ...optionalAction(chunks) });
    if (fault) {
      switch (fault.kind) {
        case 'reset':
          // On 16993 the reset goes out on the TCP socket: resetAndDestroy() on the TLS socket
          // throws ERR_INVALID_HANDLE_TYPE (its handle is the TLS wrap) and took the process down.
          ctx.tcp.resetAndDestroy();
          if (req.socket !== ctx.tcp) req.socket.destroy();
          return;
        case 'drop':
          // The connection ends with no answer: the EOF clients see when firmware restarts its stack.
          req.socket.destroy();
          return;
        case 'hang':
          // Silent until the client gives up (the idle timeout ends it on our side).
          return;
        case 'empty':
          this.send(res, { status: 200, headers: { Server: `Intel(R) Active Management Technology ${device.nvram.firmware.version}`, 'Content-Type': 'application/soap+xml;charset=UTF-8' }, body: '', close: false, chunked: false });
          return;
        case 'delay':
          // Not clock.track()ed: the wait ends on a clock timer, and virtual time must be free to reach it.
          await new Promise<void>((r) => device.clock.setTimer(fault.ms, r));
          break;
        case 'fail':
          injectReturnValue = fault.returnValue ?? 1;
          break;
      }
    }
    // A powered-off ME answers nothing, even a request it had already read (power loss mid-session).
    if (!device.powered) {
      req.socket.destroy();
      return;
    }
    let out: HttpResponseOut;
    try {
      if (tooLarge) {
        out = { status: 413, headers: { Server: `Intel(R) Active Management Technology ${device.nvram.firmware.version}`, 'Content-Type': 'text/html' }, body: '<html><body>Request Entity Too Large</body></html>', close: true, chunked: false };
      } else {
        const pkiSession = ctx.setupSession !== undefined && device.remoteSession === ctx.setupSession;
        const conn: ConnectionInfo = { port: ctx.port, origin: ctx.origin, peerAddress: ctx.peerAddress, tls: ctx.tls, ...(injectReturnValue !== undefined ? { injectReturnValue } : {}) };
        out = await this.http.handle(
          device,
          { conn, pkiSession },
          { method: req.method ?? 'GET', url: req.url ?? '/', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body: Buffer.concat(chunks) },
        );
        if (conn.dropAfter !== undefined) {
          device.record('wsman.connection-dropped', { reason: conn.dropAfter, peerAddress: ctx.peerAddress, port: ctx.port });
          req.socket.destroy();
          return;
        }
      }
    } catch (e) {
      this.opts.log?.('request failed', { device: device.id, error: String(e) });
      out = { status: 500, headers: { 'Content-Type': 'text/html' }, body: '<html><body>Internal Server Error</body></html>', close: true, chunked: false };
    }
    this.send(res, out);
  }

  private send(res: ServerResponse, out: HttpResponseOut): void {
    if (res.destroyed) return;
    const body = Buffer.from(out.body, 'utf8');
    const headers: Record<string, string> = { ...out.headers };
    if (out.chunked) headers['Transfer-Encoding'] = 'chunked';
    else headers['Content-Length'] = String(body.length);
    if (out.close) headers['Connection'] = 'close';
    // The firmware sends no Date header (reference §6.2 captures).
    res.sendDate = false;
    res.writeHead(out.status, headers);
    if (out.chunked) {
      // The firmware frames its chunks itself: sizes as 4-digit upper-case hex ("04F6", reference
      // §6.2, rpc-go issue 843), where node:http would write "4f6". So node's framing is turned
      // off for this response and the chunks are written as the firmware writes them.
      res.chunkedEncoding = false;
      for (let at = 0; at < body.length; at += MAX_CHUNK) {
        const part = body.subarray(at, at + MAX_CHUNK);
        res.write(`${part.length.toString(16).toUpperCase().padStart(4, '0')}\r\n`);
        res.write(part);
        res.write('\r\n');
      }
      res.end('0\r\n\r\n');
    } else {
      res.end(body);
    }
    if (out.close) res.once('finish', () => res.socket?.end());
  }

  /** Drop every connection made to this address: a powered-off ME keeps no TCP state. */
  disconnect(address: string): number {
    let n = 0;
    for (const s of this.sockets) {
      if (v4(s.localAddress) === address) {
        s.destroy();
        n++;
      }
    }
    return n;
  }

  /** Open connections (for tests and the control API). */
  get connectionCount(): number {
    return this.sockets.size;
  }
}
