/**
 * The reference provisioning server (an SCA): listens for hellos on TCP 9971, and for each
 * device runs MeshCentral's bare-metal sequence (reference §1.3): reverse DNS, pick a chain whose
 * root hash the device trusts, mutual TLS to <ip>:16993 as `admin` with an empty password, then
 * the WS-Man steps in remote-config.ts. It reaches devices only over the network, so the same
 * server configures an emulated device and a real vPro PC.
 */
import { EventEmitter } from 'node:events';
import dns from 'node:dns';
import net from 'node:net';
import type { Clock, TimerId } from '../clock/clock.js';
import { isAmtError } from '../common/errors.js';
import { parseHello, type ParsedHello } from '../device/hello.js';
import { selectChain, type ProvisioningChain } from './chain-select.js';
import { findPskPair, pskClientTls, type PskPair } from './psk-pairs.js';
import { activateHostBased, type HostBasedActivation, type HostBasedResult } from './host-based.js';
import { COMMIT_SETTLE_MS, runRemoteConfiguration, type RemoteConfigProfile } from './remote-config.js';
import { ProvisioningStepError, type ProvisioningEvent, type StepEmitter } from './steps.js';
import type { TlsCa } from './tls-setup.js';
import { WsmanClient } from './wsman-client.js';

export interface ProvisioningProfileConfig extends RemoteConfigProfile {
  /** Devices this profile is for; a profile without `match` is the default. */
  match?: { uuids?: string[] };
}

export interface ProvisioningServerConfig {
  clock: Clock;
  profiles: ProvisioningProfileConfig[];
  chains: Array<ProvisioningChain>;
  /** Signs device TLS certificates for profiles with `tls: true`. */
  tlsCa?: TlsCa;
  /** Default 9971 (reference §1.1); 0 picks a free port. */
  helloPort?: number;
  /** Default '0.0.0.0'; tests bind loopback. */
  bind?: string;
  /** Default 16993: the device's TLS WS-Man port. */
  deviceWsmanPort?: number;
  /** Reverse lookup of a device address; default node:dns reverse with a 3 s limit. */
  reverseLookup?: (ip: string) => Promise<string | undefined>;
  /** Per WS-Man request; default 30 s. */
  wsmanTimeoutMs?: number;
  /**
   * TLS options toward devices. Older firmware speaks only TLS 1.0/1.1 with RSA key transport;
   * MeshCentral uses ciphers `RSA+AES:!aNULL:!MD5:!DSS` (reference §1.3 step 4), RPS
   * `DEFAULT:@SECLEVEL=0` with TLS ≥ 1.1 (§5.4). Default: Node's defaults.
   */
  deviceTls?: { ciphers?: string; minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' };
  /**
   * TLS-PSK pairs this server knows (PID → PPS, seed 002). Without any, PSK (version 2) hellos
   * are refused with PSK_NOT_SUPPORTED; with some, a PSK hello runs TLS-PSK remote configuration.
   */
  pskPairs?: PskPair[];
}

export type DeviceStatus = 'in-progress' | 'configured' | 'failed';

export interface DeviceRecord {
  deviceIp: string;
  uuid?: string;
  host?: string;
  status: DeviceStatus;
  /** Failure code (HASH_NOT_TRUSTED, WSMAN_TLS_FAILED, WSMAN_RETURN_VALUE, …). */
  code?: string;
  reason?: string;
  profile?: string;
  chain?: string;
  controlMode?: 'ccm' | 'acm';
  amtVersion?: string;
  startedAt: number;
  finishedAt?: number;
}

/** Largest hello we accumulate (MeshCentral drops the connection past 16000 bytes). */
export const MAX_HELLO_BYTES = 16000;
/**
 * Wall time a hello connection may stay silent before we stop holding virtual time for it, and
 * the wall-time deadline for the whole hello. A device writes its hello right after connecting;
 * a port scanner or stray client that connects and says nothing held a tracked promise, so every
 * virtual-clock step stalled settle() for a second, for as long as the socket stayed open —
 * which was for ever (issue 9).
 */
export const HELLO_TRACK_GRACE_MS = 1_000;
export const HELLO_DEADLINE_MS = 10_000;

const HELLO_PAGE = '<!DOCTYPE html><html><head><meta charset="UTF-8"><title>amtemu provisioning server</title></head>'
  + '<body>Intel&reg; AMT hello server (amtemu). Devices send hellos to this port.</body></html>';

export function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export function defaultReverseLookup(ip: string, limitMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), limitMs);
    dns.reverse(ip, (err, names) => {
      clearTimeout(timer);
      resolve(!err && names.length > 0 ? names[0] : undefined);
    });
  });
}

export class ProvisioningServer extends EventEmitter {
  private server: net.Server | undefined;
  private readonly active = new Set<string>();
  private readonly recordMap = new Map<string, DeviceRecord>();
  private readonly log: ProvisioningEvent[] = [];
  private readonly sessions = new Set<Promise<unknown>>();
  /** Devices inside the post-commit wait: address → (timer, finish now). */
  private readonly settling = new Map<string, { timer: TimerId; finish: () => void }>();

  constructor(readonly config: ProvisioningServerConfig) {
    super();
  }

  get clock(): Clock {
    return this.config.clock;
  }

  /** Every step event so far, in order. */
  get events(): readonly ProvisioningEvent[] {
    return this.log;
  }

  records(): DeviceRecord[] {
    return [...this.recordMap.values()].map((r) => ({ ...r }));
  }

  record(deviceIp: string): DeviceRecord | undefined {
    const r = this.recordMap.get(deviceIp);
    return r ? { ...r } : undefined;
  }

  /**
   * Wait until no session has network work left (tests, shutdown). A device inside the
   * post-commit wait (a Clock timer) does not count: with a virtual clock, advance it.
   */
  async idle(): Promise<void> {
    for (let i = 0; i < 100 && this.sessions.size > 0; i++) await Promise.allSettled([...this.sessions]);
  }

  emitStep(deviceIp: string, step: string, ok: boolean, detail: Record<string, unknown> = {}, code?: string): ProvisioningEvent {
    const e: ProvisioningEvent = code ? { t: this.clock.now(), deviceIp, step, ok, detail, code } : { t: this.clock.now(), deviceIp, step, ok, detail };
    this.log.push(e);
    if (this.log.length > 100_000) this.log.splice(0, this.log.length - 100_000);
    this.emit('event', e);
    return e;
  }

  async start(): Promise<{ address: string; port: number }> {
    if (this.server) throw new Error('provisioning server already started');
    const srv = net.createServer((socket) => this.onConnection(socket));
    this.server = srv;
    const port = this.config.helloPort ?? 9971;
    const host = this.config.bind ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    srv.on('error', (e) => this.emitStep('-', 'server.error', false, { message: e.message }, 'SERVER_ERROR'));
    const addr = srv.address() as net.AddressInfo;
    this.emitStep('-', 'server.listening', true, { address: addr.address, port: addr.port });
    return { address: addr.address, port: addr.port };
  }

  async stop(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    await this.idle();
    for (const [, s] of [...this.settling]) s.finish();
  }

  // ---- hellos ---------------------------------------------------------------------------------

  private onConnection(socket: net.Socket): void {
    const ip = stripV4Mapped(socket.remoteAddress ?? '');
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let answeredHttp = false;
    // Virtual time must not run ahead between the device's hello and our session's first tracked
    // I/O: hold a tracked promise from accept until the hello has been handed on.
    let release: () => void = () => undefined;
    void this.clock.track(new Promise<void>((r) => (release = r)));
    const grace = setTimeout(() => size === 0 && release(), HELLO_TRACK_GRACE_MS);
    const deadline = setTimeout(() => socket.destroy(), HELLO_DEADLINE_MS);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (overflow || answeredHttp) return;
      chunks.push(d);
      size += d.length;
      if (size > MAX_HELLO_BYTES) {
        overflow = true;
        socket.destroy();
        return;
      }
      // A browser pointed at the port gets a page, as MeshCentral's hello server does.
      const head = Buffer.concat(chunks).toString('latin1');
      if (head.startsWith('GET ') && head.includes('\r\n\r\n')) {
        answeredHttp = true;
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${HELLO_PAGE.length}\r\nConnection: close\r\n\r\n${HELLO_PAGE}`);
      }
    });
    socket.on('close', () => {
      clearTimeout(grace);
      clearTimeout(deadline);
      try {
        if (answeredHttp) return;
        if (overflow) {
          this.emitStep(ip, 'hello.rejected', false, { reason: `more than ${MAX_HELLO_BYTES} bytes` }, 'BAD_INPUT');
          return;
        }
        if (size === 0) return;
        this.onHelloBytes(ip, Buffer.concat(chunks));
      } finally {
        release();
      }
    });
  }

  /** Process one complete hello from `ip` (also the entry point for tests and in-process transports). */
  onHelloBytes(ip: string, bytes: Buffer): void {
    ip = stripV4Mapped(ip);
    if (this.active.has(ip)) {
      this.emitStep(ip, 'hello.ignored', true, { reason: 'a session for this address is already running', bytes: bytes.length });
      return;
    }
    let hello: ParsedHello;
    try {
      hello = parseHello(bytes);
    } catch (e) {
      this.emitStep(ip, 'hello.rejected', false, { reason: (e as Error).message, bytes: bytes.length }, isAmtError(e) ? e.code : 'BAD_INPUT');
      return;
    }
    if (hello.version !== 3 && !this.config.pskPairs?.length) {
      this.emitStep(ip, 'hello.rejected', false, { reason: 'PSK (version 2) hellos are not supported; only PKI version 3', uuid: hello.uuid }, 'PSK_NOT_SUPPORTED');
      return;
    }
    this.emitStep(ip, 'hello.received', true, {
      uuid: hello.uuid, retryCount: hello.retryCount, adminCredentialsSet: hello.adminCredentialsSet,
      ...(hello.version === 3 ? { hashes: hello.hashes.length } : { version: 2, pid: hello.pid }),
    });
    this.active.add(ip);
    const rec: DeviceRecord = { deviceIp: ip, uuid: hello.uuid, status: 'in-progress', startedAt: this.clock.now() };
    this.recordMap.set(ip, rec);
    const run = hello.version === 3 ? this.runBareMetal(ip, hello, rec) : this.runPsk(ip, hello, rec);
    const session = run.finally(() => {
      if (!this.settling.has(ip)) this.active.delete(ip);
      this.sessions.delete(session);
    });
    this.sessions.add(session);
  }

  private pickProfile(uuid: string): ProvisioningProfileConfig | undefined {
    const u = uuid.toLowerCase();
    return this.config.profiles.find((p) => p.match?.uuids?.some((x) => x.toLowerCase() === u))
      ?? this.config.profiles.find((p) => !p.match || !p.match.uuids || p.match.uuids.length === 0);
  }

  private finish(rec: DeviceRecord, status: 'configured' | 'failed', code?: string, reason?: string): void {
    rec.status = status;
    rec.finishedAt = this.clock.now();
    if (code) rec.code = code;
    if (reason) rec.reason = reason;
    this.emitStep(rec.deviceIp, status === 'configured' ? 'device.configured' : 'device.failed', status === 'configured',
      { uuid: rec.uuid, profile: rec.profile, controlMode: rec.controlMode, ...(reason ? { reason } : {}) }, code);
    this.emit('record', { ...rec });
  }

  private async runBareMetal(ip: string, hello: Extract<ParsedHello, { version: 3 }>, rec: DeviceRecord): Promise<void> {
    const emit: StepEmitter = (step, ok, detail = {}, code) => this.emitStep(ip, step, ok, detail, code);
    const track = <T>(p: Promise<T>): Promise<T> => this.clock.track(p);
    try {
      const lookup = this.config.reverseLookup ?? ((a: string) => defaultReverseLookup(a));
      const name = await track(lookup(ip).catch(() => undefined));
      rec.host = name ?? ip;
      emit('dns.reverse', true, { name: name ?? null, host: rec.host });

      const profile = this.pickProfile(hello.uuid);
      if (!profile) {
        this.finish(rec, 'failed', 'NO_PROFILE', `no profile matches UUID ${hello.uuid} and there is no default profile`);
        return;
      }
      rec.profile = profile.name;
      const match = selectChain(this.config.chains, hello.hashes);
      if (!match) {
        emit('no-matching-chain', false, { helloHashes: hello.hashes.length, chains: this.config.chains.length }, 'HASH_NOT_TRUSTED');
        this.finish(rec, 'failed', 'HASH_NOT_TRUSTED', 'no configured chain has a root whose hash is in the hello');
        return;
      }
      rec.chain = match.chain.name ?? `chain ${match.index}`;
      emit('chain.selected', true, { chain: rec.chain, algorithm: match.algorithm, hash: match.hash });

      // Mutual TLS as admin with an empty password (reference §1.3 step 4). We connect to the
      // address the hello came from; the reverse name is for the record (a fake name need not resolve).
      const client = new WsmanClient({
        host: ip,
        port: this.config.deviceWsmanPort ?? 16993,
        username: 'admin',
        password: '',
        tls: { certPem: match.chain.chainPem, keyPem: match.chain.keyPem, ...(this.config.deviceTls ?? {}) },
        ...(this.config.wsmanTimeoutMs ? { timeoutMs: this.config.wsmanTimeoutMs } : {}),
      });
      emit('tls.connect', true, { to: `${ip}:${this.config.deviceWsmanPort ?? 16993}`, user: 'admin' });
      await this.configureOver(ip, rec, profile, client, emit, track);
    } catch (e) {
      if (e instanceof ProvisioningStepError) this.finish(rec, 'failed', e.code, `${e.step}: ${e.message}`);
      else this.finish(rec, 'failed', 'INTERNAL_ERROR', (e as Error).message);
    }
  }

  /** TLS-PSK remote configuration after a PSK hello (seed 002; identity = PID, key = PPS). */
  private async runPsk(ip: string, hello: Extract<ParsedHello, { version: 2 }>, rec: DeviceRecord): Promise<void> {
    const emit: StepEmitter = (step, ok, detail = {}, code) => this.emitStep(ip, step, ok, detail, code);
    const track = <T>(p: Promise<T>): Promise<T> => this.clock.track(p);
    try {
      rec.host = ip;
      const profile = this.pickProfile(hello.uuid);
      if (!profile) {
        this.finish(rec, 'failed', 'NO_PROFILE', `no profile matches UUID ${hello.uuid} and there is no default profile`);
        return;
      }
      rec.profile = profile.name;
      const pair = findPskPair(this.config.pskPairs ?? [], hello.pid);
      if (!pair) {
        emit('psk.unknown-pid', false, { pid: hello.pid }, 'PSK_UNKNOWN_PID');
        this.finish(rec, 'failed', 'PSK_UNKNOWN_PID', `no PPS configured for PID ${hello.pid}`);
        return;
      }
      emit('psk.pair-found', true, { pid: hello.pid });
      const client = new WsmanClient({
        host: ip,
        port: this.config.deviceWsmanPort ?? 16993,
        username: 'admin',
        password: '',
        tls: pskClientTls(pair),
        ...(this.config.wsmanTimeoutMs ? { timeoutMs: this.config.wsmanTimeoutMs } : {}),
      });
      emit('tls.connect', true, { to: `${ip}:${this.config.deviceWsmanPort ?? 16993}`, user: 'admin', psk: true });
      await this.configureOver(ip, rec, profile, client, emit, track);
    } catch (e) {
      if (e instanceof ProvisioningStepError) this.finish(rec, 'failed', e.code, `${e.step}: ${e.message}`);
      else this.finish(rec, 'failed', 'INTERNAL_ERROR', (e as Error).message);
    }
  }

  /** The WS-Man steps over an authenticated session, then the post-commit wait (PKI and PSK alike). */
  private async configureOver(ip: string, rec: DeviceRecord, profile: ProvisioningProfileConfig, client: WsmanClient, emit: StepEmitter, track: <T>(p: Promise<T>) => Promise<T>): Promise<void> {
    try {
      const result = await runRemoteConfiguration(client, profile, {
        clock: this.clock,
        track,
        ...(this.config.tlsCa ? { tlsCa: this.config.tlsCa } : {}),
      }, emit);
      rec.controlMode = 'acm';
      if (result.amtVersion) rec.amtVersion = result.amtVersion;
      // MeshCentral waits 5 s after CommitChanges, then records the device as ACM (§1.3 step 6).
      // The wait is a Clock timer, not part of the session, so idle() never blocks on virtual time.
      emit('commit.wait', true, { ms: COMMIT_SETTLE_MS });
      const done = (): void => {
        const s = this.settling.get(ip);
        if (!s) return;
        this.clock.cancel(s.timer);
        this.settling.delete(ip);
        this.active.delete(ip);
        this.finish(rec, 'configured');
      };
      this.settling.set(ip, { timer: this.clock.setTimer(COMMIT_SETTLE_MS, done, `provisioning ${ip} commit wait`), finish: done });
    } finally {
      client.close();
    }
  }

  // ---- host-based ---------------------------------------------------------------------------

  /** RPS-style host-based CCM/ACM over the device's local port (reference §5.2), or secure TLS ACM (§5.4, mode acm-tls). */
  async activateHostBased(a: HostBasedActivation): Promise<DeviceRecord> {
    const ip = a.address;
    const rec: DeviceRecord = { deviceIp: ip, status: 'in-progress', startedAt: this.clock.now(), controlMode: a.mode === 'ccm' ? 'ccm' : 'acm' };
    this.recordMap.set(ip, rec);
    const emit: StepEmitter = (step, ok, detail = {}, code) => this.emitStep(ip, step, ok, detail, code);
    emit('host-based.start', true, { mode: a.mode, port: a.port ?? (a.mode === 'acm-tls' ? 16993 : 16992), user: a.lsa.username });
    const work = this.clock.track(activateHostBased(a, emit));
    this.sessions.add(work);
    try {
      const r: HostBasedResult = await work;
      rec.controlMode = r.mode === 'ccm' ? 'ccm' : 'acm';
      this.finish(rec, 'configured');
    } catch (e) {
      if (e instanceof ProvisioningStepError) this.finish(rec, 'failed', e.code, `${e.step}: ${e.message}`);
      else this.finish(rec, 'failed', 'INTERNAL_ERROR', (e as Error).message);
    } finally {
      this.sessions.delete(work);
    }
    return { ...rec };
  }
}
