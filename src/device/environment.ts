/**
 * The small interfaces through which the device core talks to the world. `src/network`
 * implements them on real sockets; unit tests may implement them in memory. The device never
 * opens a socket itself, so the same firmware logic runs in virtual time and in `amtemu serve`.
 */
import type { Result } from '../common/errors.js';

export interface DhcpLease {
  /** The address the device got (option 50 / yiaddr). */
  address: string;
  netmask?: string;
  router?: string;
  /** Option 6. */
  dnsServers: string[];
  /** Option 15, absent when the server did not send it. */
  domain?: string;
  /** Option 12 the server echoed or assigned. */
  hostname?: string;
  /** Option 51, seconds. */
  leaseSeconds: number;
  /** Option 54. */
  serverId?: string;
}

export interface DhcpIdentity {
  deviceId: string;
  /** Wired MAC used as chaddr. */
  mac: string;
  hostname: string;
}

export interface DhcpEvents {
  onLease(lease: DhcpLease): void;
  /** Lease could not be had or was lost (NAK, no offer after retries, expiry). */
  onFailure(code: 'DHCP_NO_OFFER' | 'DHCP_NAK' | 'DHCP_EXPIRED', message: string): void;
  /** Every packet sent/received, as a bare type (`discover`, `offer`, ...); the device records `dhcp.<type>`. */
  onPacket?(direction: 'sent' | 'received', type: string, detail: Record<string, unknown>): void;
}

export interface DhcpHandle {
  /** Stop the client (power off / link down): cancels timers, releases the socket. */
  stop(): void;
}

export type DnsFailure = 'DNS_NXDOMAIN' | 'DNS_SERVFAIL' | 'DNS_TIMEOUT';

export interface HelloTarget {
  host: string;
  port: number;
}

export interface DeviceNetwork {
  /** Start the firmware DHCP client for this device; it keeps renewing until stopped. */
  startDhcp(identity: DhcpIdentity, events: DhcpEvents): DhcpHandle;
  /** Resolve an A record through the given servers (firmware resolver, no OS cache). */
  resolve(name: string, servers: string[], fromAddress?: string): Promise<Result<string[], DnsFailure>>;
  /** One TCP connection: connect from the device's address, write the hello in one write, close. */
  sendHello(fromAddress: string, to: HelloTarget, bytes: Buffer): Promise<Result<void, 'HELLO_CONNECT_FAILED'>>;
}
