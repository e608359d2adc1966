/**
 * `DeviceNetwork` on real sockets (src/device/environment.ts): the firmware DHCP client, stub
 * resolver and hello transport, composed for one of two topologies:
 * - `loopback`: a whole fleet on one host; devices own 127.x addresses; DHCP is unicast to the
 *   fake server through one shared client socket (127/8 has no broadcast, see fake/dhcp-server).
 * - `netns`: one device in a network namespace on a veth; DHCP by broadcast on 67/68 so real
 *   servers (dnsmasq) answer. Node cannot bind a socket to an interface, so the namespace needs
 *   a route for 255.255.255.255 (`ip route add default dev <veth>` does it) — test/interop/netns.ts.
 */
import type { Clock } from '../clock/clock.js';
import type { Result } from '../common/errors.js';
import type { DeviceNetwork, DhcpEvents, DhcpHandle, DhcpIdentity, DnsFailure, HelloTarget } from '../device/environment.js';
import { FirmwareDhcpClient, type DhcpClientConfig } from './dhcp-client.js';
import { DhcpClientSocket } from './dhcp-socket.js';
import { FirmwareDnsResolver, type DnsResolverConfig } from './dns-resolver.js';
import { sendHello, type HelloTransportConfig } from './hello-transport.js';
import { parseIpv4 } from './address-plan.js';
import type { MemoryLan } from './memory-lan.js';

export interface SocketNetworkConfig {
  clock: Clock;
  mode: 'loopback' | 'netns';
  /** Where DHCP goes: the fake server (loopback), default 255.255.255.255:67 in netns mode. */
  dhcpServer?: { address: string; port: number };
  /** Local port of the shared DHCP client socket: ephemeral (loopback) / 68 (netns). */
  dhcpClientPort?: number;
  /** Port for DNS servers learnt from option 6 (which cannot carry a port); 53 by default. */
  dnsPort?: number;
  dhcp?: Partial<Omit<DhcpClientConfig, 'clock' | 'transport' | 'server'>>;
  dns?: Partial<Omit<DnsResolverConfig, 'clock' | 'port'>>;
  hello?: Partial<Omit<HelloTransportConfig, 'clock'>>;
  /**
   * Run on an in-process LAN instead of the kernel (memory-lan.ts): same DHCP client, resolver
   * and packets, datagrams and hellos delivered in memory. Loopback mode only.
   */
  lan?: MemoryLan;
}

export class SocketNetwork implements DeviceNetwork {
  private readonly dhcpSocket: DhcpClientSocket;
  private readonly resolver: FirmwareDnsResolver;
  private readonly clients = new Set<FirmwareDhcpClient>();
  private readonly server: { address: string; port: number };

  constructor(private readonly config: SocketNetworkConfig) {
    if (config.mode !== 'loopback' && config.mode !== 'netns') throw new RangeError(`BAD_INPUT: network mode must be "loopback" or "netns", got "${String(config.mode)}"`);
    if (config.mode === 'loopback' && !config.dhcpServer) throw new RangeError('BAD_INPUT: loopback mode needs dhcpServer {address, port} (the fake DHCP server)');
    this.server = config.dhcpServer ?? { address: '255.255.255.255', port: 67 };
    if (parseIpv4(this.server.address) === undefined || !Number.isInteger(this.server.port) || this.server.port <= 0 || this.server.port > 65535) {
      throw new RangeError(`BAD_INPUT: dhcpServer ${this.server.address}:${this.server.port} is not an IPv4 address and port`);
    }
    if (config.lan && config.mode !== 'loopback') throw new RangeError('BAD_INPUT: the in-memory LAN works in loopback mode only (netns needs the kernel)');
    const udp = config.lan ? { udp: config.lan.udp } : {};
    this.dhcpSocket = new DhcpClientSocket({ mode: config.mode, ...(config.dhcpClientPort !== undefined ? { port: config.dhcpClientPort } : {}), ...udp });
    this.resolver = new FirmwareDnsResolver({ ...(config.dns ?? {}), ...udp, clock: config.clock, port: config.dnsPort ?? 53 });
  }

  startDhcp(identity: DhcpIdentity, events: DhcpEvents): DhcpHandle {
    const client = new FirmwareDhcpClient(identity, events, {
      ...(this.config.dhcp ?? {}),
      clock: this.config.clock,
      transport: this.dhcpSocket,
      server: this.server,
      // Without an address the client can only hear a broadcast answer on a real segment.
      broadcastFlag: this.config.dhcp?.broadcastFlag ?? this.config.mode === 'netns',
    });
    this.clients.add(client);
    client.start();
    return {
      stop: () => {
        client.stop();
        this.clients.delete(client);
      },
    };
  }

  resolve(name: string, servers: string[], fromAddress?: string): Promise<Result<string[], DnsFailure>> {
    return this.resolver.resolve(name, servers, fromAddress);
  }

  sendHello(fromAddress: string, to: HelloTarget, bytes: Buffer): Promise<Result<void, 'HELLO_CONNECT_FAILED'>> {
    // In memory the exchange needs no timer, so tracking it keeps a virtual clock still until done.
    if (this.config.lan) return this.config.clock.track(this.config.lan.deliverHello(fromAddress, { address: to.host, port: to.port }, bytes));
    return sendHello({ ...(this.config.hello ?? {}), clock: this.config.clock }, fromAddress, to, bytes);
  }

  /** Local address of the shared DHCP socket (binds it if needed). */
  dhcpClientAddress(): Promise<{ address: string; port: number }> {
    return this.dhcpSocket.bind();
  }

  get dhcpStats(): DhcpClientSocket['stats'] {
    return this.dhcpSocket.stats;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.stop();
    this.clients.clear();
    await this.dhcpSocket.close();
  }
}
