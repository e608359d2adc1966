/**
 * What sits at the provisioning server's address during a scenario:
 * - sink: accepts hellos and keeps them (who sent what), configures nobody;
 * - down: nothing listens (the device's hello connect is refused);
 * - reference: amtemu's provisioning server (src/provisioning/server.ts);
 * - external: a server the user runs; we only point DNS/NVRAM at it.
 * The port is fixed when the run starts, so "down" then "up" brings back the same address:port.
 *
 * On the in-process LAN (network.transport: memory) sink and reference register a LAN listener
 * at their address:port instead of a kernel socket, and `down` unregisters it, so the device's
 * connect is refused exactly as on loopback. An external server cannot be on that LAN.
 */
import net from 'node:net';
import type { MemoryLan } from '../network/memory-lan.js';
import type { ProvisioningServer } from '../provisioning/server.js';

export interface ReceivedHello {
  from: string;
  bytes: number;
  t: number;
}

/** Find a free TCP port on `address` by binding port 0 and letting it go. */
export async function reservePort(address: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, address, () => resolve());
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface HelloEndpoint {
  kind: 'sink' | 'down' | 'reference' | 'external';
  address: string;
  port: number;
  /** Hellos the endpoint received, per source address (sink and reference only). */
  hellosFrom(address: string): number;
  up(): Promise<void>;
  down(): Promise<void>;
  readonly listening: boolean;
  server?: ProvisioningServer;
}

export class HelloSink implements HelloEndpoint {
  readonly kind = 'sink' as const;
  readonly received: ReceivedHello[] = [];
  private srv: net.Server | undefined;
  private unlisten: (() => void) | undefined;

  constructor(readonly address: string, readonly port: number, private readonly now: () => number, private readonly lan?: MemoryLan) {}

  get listening(): boolean {
    return this.srv !== undefined || this.unlisten !== undefined;
  }

  hellosFrom(address: string): number {
    return this.received.filter((r) => r.from === address).length;
  }

  async up(): Promise<void> {
    if (this.listening) return;
    if (this.lan) {
      // A LAN hello is one complete write: record it as the kernel sink does at the peer's 'end'.
      this.unlisten = this.lan.listen(this.address, this.port, (bytes, from) => {
        this.received.push({ from: from.address, bytes: bytes.length, t: this.now() });
      });
      return;
    }
    const srv = net.createServer((s) => {
      let n = 0;
      s.on('data', (c: Buffer) => {
        n += c.length;
        if (n > 16000) s.destroy();
      });
      s.on('error', () => undefined);
      s.on('end', () => {
        this.received.push({ from: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), bytes: n, t: this.now() });
        s.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port, this.address, () => resolve());
    });
    this.srv = srv;
  }

  async down(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
    const srv = this.srv;
    this.srv = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

/** The provisioning server adapter: same up/down shape, hellos counted from its event log. */
export class ReferenceEndpoint implements HelloEndpoint {
  readonly kind = 'reference' as const;
  private running = false;
  private unlisten: (() => void) | undefined;

  constructor(readonly address: string, readonly port: number, readonly server: ProvisioningServer, private readonly lan?: MemoryLan) {}

  get listening(): boolean {
    return this.running;
  }

  hellosFrom(address: string): number {
    return this.server.events.filter((e) => e.deviceIp === address && (e.step === 'hello.received' || e.step === 'hello.ignored')).length;
  }

  async up(): Promise<void> {
    if (this.running) return;
    // On the LAN the server gets hello bytes directly (as src/fleet/reference-server.ts wires
    // it); its kernel hello socket stays closed, so nothing outside the run can reach it.
    if (this.lan) this.unlisten = this.lan.listen(this.address, this.port, (bytes, from) => this.server.onHelloBytes(from.address, bytes));
    else await this.server.start();
    this.running = true;
  }

  async down(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unlisten?.();
    this.unlisten = undefined;
    // stop() also waits for running sessions, as the kernel path does (it has no socket to close here).
    await this.server.stop();
  }
}

export class FixedEndpoint implements HelloEndpoint {
  constructor(readonly kind: 'down' | 'external', readonly address: string, readonly port: number) {}
  get listening(): boolean {
    return this.kind === 'external';
  }
  hellosFrom(): number {
    return 0;
  }
  async up(): Promise<void> {}
  async down(): Promise<void> {}
}
