/**
 * An in-memory DeviceNetwork for the labelled "in-memory" variant of benchmark (b): the lease
 * comes after 10 virtual ms and renews at T1 (half the lease, RFC 2131 §4.4.5) as the socket
 * client does, ProvisionServer.<domain> resolves at once, and every hello is refused as a
 * connect to a port nobody listens on would be. No socket is opened, so it measures the
 * firmware logic and the virtual clock alone.
 */
import type { Clock, TimerId } from '../src/clock/clock.js';
import type { Result } from '../src/common/errors.js';
import type { DeviceNetwork, DhcpEvents, DhcpHandle, DhcpIdentity, DnsFailure, HelloTarget } from '../src/device/environment.js';
import { intToIp, ipToInt } from '../src/network/address-plan.js';

export class RefusingMemoryNetwork implements DeviceNetwork {
  hellosRefused = 0;
  dnsQueries = 0;
  private next: number;

  constructor(
    private readonly clock: Clock,
    ipBase: string,
    private readonly domain = 'bench.example.test',
    private readonly leaseSeconds = 86_400,
  ) {
    const base = ipToInt(ipBase);
    if (base === undefined) throw new RangeError(`BAD_INPUT: ipBase "${ipBase}" is not an IPv4 address`);
    this.next = base;
  }

  startDhcp(_identity: DhcpIdentity, events: DhcpEvents): DhcpHandle {
    const address = intToIp(this.next++);
    let timer: TimerId | undefined;
    const grant = (): void => {
      events.onLease({ address, dnsServers: ['127.0.0.1'], domain: this.domain, leaseSeconds: this.leaseSeconds });
      timer = this.clock.setTimer((this.leaseSeconds * 1000) / 2, grant, 'memory dhcp renew');
    };
    timer = this.clock.setTimer(10, grant, 'memory dhcp lease');
    return { stop: () => timer !== undefined && this.clock.cancel(timer) };
  }

  async resolve(name: string): Promise<Result<string[], DnsFailure>> {
    this.dnsQueries++;
    if (name.toLowerCase() === `provisionserver.${this.domain}`) return { ok: true, value: ['127.0.0.1'] };
    return { ok: false, code: 'DNS_NXDOMAIN', message: `${name}: NXDOMAIN` };
  }

  async sendHello(fromAddress: string, to: HelloTarget): Promise<Result<void, 'HELLO_CONNECT_FAILED'>> {
    this.hellosRefused++;
    return { ok: false, code: 'HELLO_CONNECT_FAILED', message: `connect to ${to.host}:${to.port} from ${fromAddress}: ECONNREFUSED`, detail: { errno: 'ECONNREFUSED' } };
  }
}
