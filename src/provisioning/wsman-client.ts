/**
 * A small WS-Man client for the reference provisioning server: HTTP/1.1 over node:net or
 * node:tls (mutual TLS with the provisioning chain as client certificate for PKI-CH, reference
 * §1.3 step 4), Digest auth (RFC 2617 MD5, qop auth, §6.2), chunked bodies, one request in flight
 * (MC-comm). Request XML comes from @device-management-toolkit/wsman-messages; the device's own
 * certificate is not checked (MeshCentral `xtlsFingerprint = 0`: it is self-signed in setup).
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { DigestSession, parseDigestChallenge } from './digest.js';
import { HttpFramingError, takeHttpResponse, type HttpResponse } from './http-response.js';
import { asArray, child, instanceFields, parseEnvelope, text, WsmanError, type WsmanEnvelope, type XmlValue } from './wsman-xml.js';

export interface WsmanClientOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** Present: HTTPS. certPem is the client chain, leaf first (PKI-CH). */
  tls?: {
    certPem?: string;
    keyPem?: string;
    ciphers?: string;
    minVersion?: tls.SecureVersion;
    psk?: { identity: string; key: Buffer };
    /**
     * Accept only a device leaf with this hash (lower-case hex): secure host-based ACM pins the
     * AMTCertHash StartConfigurationHBased returned, as MeshCentral does (reference §5.4).
     */
    pinLeaf?: { algorithm: 'sha256' | 'sha384'; hash: string };
  };
  /** Per request (connect + exchange), default 30 s. */
  timeoutMs?: number;
  localAddress?: string;
}

export interface MethodResult {
  returnValue: number;
  output: Record<string, XmlValue>;
}

const URI = '/wsman';
const MAX_PULLS = 100;

export interface SendOptions {
  /** Re-send once on a fresh connection when a kept-alive one turns out closed (default true). */
  retryOnClose?: boolean;
}

export class WsmanClient {
  // Message builders are made on first use: each constructs dozens of class builders, and a
  // bare-metal activation never touches IPS (host-based setup does).
  private amtMessages: AMT.Messages | undefined;
  private ipsMessages: IPS.Messages | undefined;
  private cimMessages: CIM.Messages | undefined;
  get amt(): AMT.Messages {
    return (this.amtMessages ??= new AMT.Messages());
  }
  get ips(): IPS.Messages {
    return (this.ipsMessages ??= new IPS.Messages());
  }
  get cim(): CIM.Messages {
    return (this.cimMessages ??= new CIM.Messages());
  }
  /** `Server:` header of the last response (MeshCentral reads the AMT version from it). */
  serverHeader: string | undefined;
  private socket: net.Socket | undefined;
  private buffered = Buffer.alloc(0);
  private peerEnded = false;
  private busy = false;
  private readonly digest: DigestSession;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WsmanClientOptions) {
    this.digest = new DigestSession(opts.username, opts.password);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  get target(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  /** POST one envelope; Digest challenge answered once; faults become WsmanError('WSMAN_FAULT'). */
  /**
   * One request. `retryOnClose: false` for calls that must not run twice (CommitChanges): a
   * connection closed before the answer is then reported as WSMAN_CLOSED instead of re-sent.
   */
  async send(xml: string, opts: SendOptions = {}): Promise<WsmanEnvelope> {
    if (this.busy) throw new WsmanError('WSMAN_BAD_RESPONSE', 'one WS-Man request at a time');
    this.busy = true;
    const retry = opts.retryOnClose ?? true;
    try {
      let res = await this.exchange(xml, retry);
      if (res.status === 401) {
        const challenge = parseDigestChallenge(res.headers['www-authenticate'] ?? '');
        if (!challenge) throw new WsmanError('WSMAN_AUTH_FAILED', `401 from ${this.target} without a Digest challenge`);
        this.digest.accept(challenge);
        res = await this.exchange(xml, retry);
        if (res.status === 401) throw new WsmanError('WSMAN_AUTH_FAILED', `${this.target} refused user "${this.opts.username}" (401 after answering the challenge)`);
      }
      const body = res.body.toString('utf8');
      if (res.status !== 200 && !(res.status === 400 || res.status === 500) ) {
        throw new WsmanError('WSMAN_HTTP_ERROR', `HTTP ${res.status} ${res.reason} from ${this.target}`, { status: res.status });
      }
      if (!body.trim()) throw new WsmanError('WSMAN_HTTP_ERROR', `HTTP ${res.status} with an empty body from ${this.target}`, { status: res.status });
      const env = parseEnvelope(body);
      if (env.fault) {
        const f = env.fault;
        throw new WsmanError('WSMAN_FAULT', `WS-Man fault ${f.subcode ?? f.code}: ${f.reason}`, { ...f, status: res.status });
      }
      if (res.status !== 200) throw new WsmanError('WSMAN_HTTP_ERROR', `HTTP ${res.status} ${res.reason} from ${this.target}`, { status: res.status });
      return env;
    } finally {
      this.busy = false;
    }
  }

  /** Transfer Get; returns the instance's leaf properties. */
  async get(xml: string, className: string): Promise<Record<string, string>> {
    const env = await this.send(xml);
    const inst = env.body[className];
    if (inst === undefined) throw new WsmanError('WSMAN_BAD_RESPONSE', `Get response has no ${className} in its Body`);
    return instanceFields(inst);
  }

  /** A method call: `<Method>_OUTPUT` with its ReturnValue as a number. */
  async invoke(xml: string, method: string, opts: SendOptions = {}): Promise<MethodResult> {
    const env = await this.send(xml, opts);
    const out = env.body[`${method}_OUTPUT`];
    if (out === undefined || typeof out === 'string' || Array.isArray(out)) throw new WsmanError('WSMAN_BAD_RESPONSE', `response has no ${method}_OUTPUT`);
    const rv = Number(text(out.ReturnValue));
    if (!Number.isInteger(rv)) throw new WsmanError('WSMAN_BAD_RESPONSE', `${method}_OUTPUT has no numeric ReturnValue`);
    return { returnValue: rv, output: out };
  }

  /** Enumerate + Pull until EndOfSequence (bounded); returns every instance's fields. */
  async enumerate(enumerateXml: string, pull: (context: string) => string, className: string): Promise<Array<Record<string, string>>> {
    const first = await this.send(enumerateXml);
    let ctx = text(child(first.body.EnumerateResponse, 'EnumerationContext'));
    if (!ctx) throw new WsmanError('WSMAN_BAD_RESPONSE', `Enumerate ${className}: no EnumerationContext`);
    const items: Array<Record<string, string>> = [];
    for (let i = 0; i < MAX_PULLS; i++) {
      const env = await this.send(pull(ctx));
      const pr = env.body.PullResponse;
      for (const inst of asArray(child(child(pr, 'Items'), className))) items.push(instanceFields(inst));
      if (child(pr, 'EndOfSequence') !== undefined) return items;
      const next = text(child(pr, 'EnumerationContext'));
      if (!next) return items;
      ctx = next;
    }
    throw new WsmanError('WSMAN_BAD_RESPONSE', `Enumerate ${className}: more than ${MAX_PULLS} pulls`);
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private request(xml: string): Buffer {
    const body = Buffer.from(xml, 'utf8');
    const lines = [
      `POST ${URI} HTTP/1.1`,
      `Host: ${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${this.opts.port}`,
      'Content-Type: application/soap+xml; charset=utf-8',
      `Content-Length: ${body.length}`,
    ];
    const auth = this.digest.authorization('POST', URI);
    if (auth) lines.push(`Authorization: ${auth}`);
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
  }

  private async exchange(xml: string, retryOnClose = true): Promise<HttpResponse> {
    const reused = retryOnClose && this.socket !== undefined && !this.peerEnded && !this.socket.destroyed;
    try {
      return await this.exchangeOnce(xml);
    } catch (e) {
      // A kept-alive connection the device closed while idle: try once on a fresh one.
      if (reused && e instanceof WsmanError && e.code === 'WSMAN_CLOSED') return this.exchangeOnce(xml);
      throw e;
    }
  }

  private async exchangeOnce(xml: string): Promise<HttpResponse> {
    if (!this.socket || this.socket.destroyed || this.peerEnded) await this.connect();
    const sock = this.socket!;
    const payload = this.request(xml);
    const res = await new Promise<HttpResponse>((resolve, reject) => {
      let gotBytes = this.buffered.length > 0;
      const done = (err: Error | undefined, r?: HttpResponse): void => {
        clearTimeout(timer);
        sock.off('data', onData);
        sock.off('end', onEnd);
        sock.off('close', onClose);
        sock.off('error', onError);
        if (err) {
          this.close();
          reject(err);
        } else resolve(r!);
      };
      const tryTake = (): void => {
        try {
          const r = takeHttpResponse(this.buffered, this.peerEnded);
          if (!r) return;
          this.buffered = this.buffered.subarray(r.consumed);
          done(undefined, r.response);
        } catch (e) {
          if (e instanceof HttpFramingError) {
            done(new WsmanError(gotBytes ? 'WSMAN_BAD_RESPONSE' : 'WSMAN_CLOSED', `${this.target}: ${e.message}`));
          } else done(e as Error);
        }
      };
      const onData = (d: Buffer): void => {
        gotBytes = true;
        this.buffered = Buffer.concat([this.buffered, d]);
        tryTake();
      };
      const onEnd = (): void => {
        this.peerEnded = true;
        tryTake();
      };
      const onClose = (): void => {
        this.peerEnded = true;
        tryTake();
      };
      const onError = (e: Error): void => {
        done(classifySocketError(e, this.target, gotBytes));
      };
      const timer = setTimeout(() => done(new WsmanError('WSMAN_TIMEOUT', `${this.target}: no response within ${this.timeoutMs} ms`)), this.timeoutMs);
      sock.on('data', onData);
      sock.on('end', onEnd);
      sock.on('close', onClose);
      sock.on('error', onError);
      sock.write(payload);
    });
    this.serverHeader = res.headers.server ?? this.serverHeader;
    if (res.headers.connection?.toLowerCase() === 'close') this.close();
    return res;
  }

  private connect(): Promise<void> {
    this.close();
    this.buffered = Buffer.alloc(0);
    this.peerEnded = false;
    const { host, port, localAddress } = this.opts;
    return new Promise<void>((resolve, reject) => {
      let tcpUp = false;
      const t = this.opts.tls;
      const sock: net.Socket = t
        ? tls.connect({
            host,
            port,
            ...(localAddress ? { localAddress } : {}),
            secureContext: clientContext(t),
            // TLS-PSK setup (src/provisioning/psk-session.ts): identity = PID, key from the PPS.
            ...(t.psk ? { pskCallback: () => ({ identity: t.psk!.identity, psk: t.psk!.key }) } : {}),
            // The device certificate in setup is self-signed (reference §1.4 3a); trust comes from PKI-CH.
            rejectUnauthorized: false,
            ...(net.isIP(host) ? {} : { servername: host }),
          })
        : net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      const timer = setTimeout(() => fail(new WsmanError('WSMAN_TIMEOUT', `${this.target}: connect timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      sock.once('connect', () => {
        tcpUp = true;
      });
      const onError = (e: Error): void => fail(classifySocketError(e, this.target, false, t !== undefined && tcpUp));
      sock.once('error', onError);
      sock.once(t ? 'secureConnect' : 'connect', () => {
        const pin = t?.pinLeaf;
        if (pin && sock instanceof tls.TLSSocket) {
          const raw = sock.getPeerCertificate().raw as Buffer | undefined;
          const got = raw ? createHash(pin.algorithm).update(raw).digest('hex') : '(no certificate)';
          if (got !== pin.hash.toLowerCase()) {
            fail(new WsmanError('WSMAN_CERT_PIN_MISMATCH', `${this.target}: device TLS leaf ${pin.algorithm} ${got.slice(0, 16)}… is not the pinned ${pin.hash.slice(0, 16)}…`, { presented: got, pinned: pin.hash }));
            return;
          }
        }
        clearTimeout(timer);
        sock.off('error', onError);
        sock.on('error', () => undefined); // per-request handlers report errors from here on
        this.socket = sock;
        resolve();
      });
    });
  }

  /** The device's TLS certificate (DER), when connected over TLS. */
  peerCertificateDer(): Buffer | undefined {
    const s = this.socket;
    if (!(s instanceof tls.TLSSocket)) return undefined;
    const c = s.getPeerCertificate();
    return c && c.raw ? c.raw : undefined;
  }
}

type ClientTls = NonNullable<WsmanClientOptions['tls']>;

/** Contexts kept; a server holds a few chains × cipher settings, so this bound is rarely reached. */
const CONTEXT_LIMIT = 32;
interface ContextEntry {
  cert: string | undefined;
  key: string | undefined;
  ciphers: string | undefined;
  minVersion: string | undefined;
  maxVersion: string | undefined;
  ctx: tls.SecureContext;
}
/** Oldest first. */
const contexts: ContextEntry[] = [];

/**
 * The client-side SecureContext for these TLS options, built once and shared by every
 * connection that uses the same chain, key and settings. Why: tls.connect with cert/key
 * re-parses the PEM chain and private key on every connection, which cost about as much as the
 * handshake's own RSA work per activation (docs/benchmarks.md (d)). What goes on the wire is
 * unchanged: the same certificates, key, cipher list and version bounds. The cache is searched
 * by comparing the option strings (the same PEM string objects from the server's config
 * compare by identity) rather than by a key built from them, which copied the whole PEM chain
 * and key on every connection.
 */
function clientContext(t: ClientTls): tls.SecureContext {
  const options: tls.SecureContextOptions = {
    ...(t.certPem ? { cert: t.certPem } : {}),
    ...(t.keyPem ? { key: t.keyPem } : {}),
    // A test provisioning server must be able to present the broken chains QA needs
    // (SHA-1 signatures, 1024-bit keys) so the *device* is the one that refuses them;
    // OpenSSL 3 would otherwise refuse to load them ("ca md too weak").
    ...(t.ciphers ? { ciphers: t.ciphers } : t.certPem ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
    ...(t.minVersion ? { minVersion: t.minVersion } : {}),
    // PSK suites exist up to TLS 1.2.
    ...(t.psk ? { maxVersion: 'TLSv1.2' as const } : {}),
  };
  const want = {
    cert: options.cert as string | undefined,
    key: options.key as string | undefined,
    ciphers: options.ciphers,
    minVersion: options.minVersion,
    maxVersion: options.maxVersion,
  };
  const hit = contexts.find(
    (e) => e.cert === want.cert && e.key === want.key && e.ciphers === want.ciphers && e.minVersion === want.minVersion && e.maxVersion === want.maxVersion,
  );
  if (hit) return hit.ctx;
  const ctx = tls.createSecureContext(options);
  contexts.push({ ...want, ctx });
  if (contexts.length > CONTEXT_LIMIT) contexts.shift();
  return ctx;
}

function classifySocketError(e: Error, target: string, gotBytes: boolean, tlsStage = false): WsmanError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const msg = e.message;
  if (/alert|certificate|handshake|SSL|TLS/i.test(msg) || code.startsWith('ERR_SSL') || tlsStage) {
    return new WsmanError('WSMAN_TLS_FAILED', `${target}: TLS failed: ${msg}`, { errno: code });
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
    return new WsmanError('WSMAN_CONNECT_FAILED', `${target}: ${msg}`, { errno: code });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new WsmanError(gotBytes ? 'WSMAN_BAD_RESPONSE' : 'WSMAN_CLOSED', `${target}: connection reset (${code})`, { errno: code });
  }
  return new WsmanError('WSMAN_CONNECT_FAILED', `${target}: ${msg}`, { errno: code });
}

/** Escape text for an XML element: wsman-messages concatenates strings as given. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
