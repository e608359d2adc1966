/**
 * An in-memory DeviceNetwork for unit tests of firmware logic in virtual time. Real-socket
 * behaviour (DHCP/DNS packets, TCP hellos) is tested in test/integration and test/interop.
 */
import type { Clock } from '../../src/clock/clock.js';
import type { Result } from '../../src/common/errors.js';
import type { DeviceNetwork, DhcpEvents, DhcpHandle, DhcpIdentity, DhcpLease, DnsFailure, HelloTarget } from '../../src/device/environment.js';

export interface SentHello {
  t: number;
  from: string;
  to: HelloTarget;
  bytes: Buffer;
}

export class MemoryNetwork implements DeviceNetwork {
  lease: Omit<DhcpLease, 'address'> = { dnsServers: ['127.0.0.53'], domain: 'corp.example.test', leaseSeconds: 86_400 };
  /** name (lower-case) → addresses or a failure code. */
  zone = new Map<string, string[] | DnsFailure>();
  serverUp = true;
  readonly hellos: SentHello[] = [];
  readonly queries: string[] = [];
  private nextHost = 10;

  constructor(private readonly clock: Clock) {}

  startDhcp(identity: DhcpIdentity, events: DhcpEvents): DhcpHandle {
    const address = `127.77.0.${this.nextHost++}`;
    const id = this.clock.setTimer(10, () => events.onLease({ ...this.lease, address }));
    void identity;
    return { stop: () => this.clock.cancel(id) };
  }

  async resolve(name: string): Promise<Result<string[], DnsFailure>> {
    this.queries.push(name);
    const a = this.zone.get(name.toLowerCase());
    if (a === undefined) return { ok: false, code: 'DNS_NXDOMAIN', message: `${name}: NXDOMAIN` };
    if (typeof a === 'string') return { ok: false, code: a, message: `${name}: ${a}` };
    return { ok: true, value: a };
  }

  async sendHello(fromAddress: string, to: HelloTarget, bytes: Buffer): Promise<Result<void, 'HELLO_CONNECT_FAILED'>> {
    if (!this.serverUp) return { ok: false, code: 'HELLO_CONNECT_FAILED', message: `connect ECONNREFUSED ${to.host}:${to.port}` };
    this.hellos.push({ t: this.clock.now(), from: fromAddress, to, bytes });
    return { ok: true, value: undefined };
  }
}
