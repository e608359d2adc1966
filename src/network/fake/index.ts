/**
 * The emulated network's servers. `startFakeNetwork` wires the two the way a corporate LAN
 * does: every DHCP lease publishes the device's name (A + PTR) in DNS, so a provisioning
 * server that reverse-resolves a hello's source address finds the device (reference §1.3).
 */
import type { Clock } from '../../clock/clock.js';
import { FakeDhcpServer, type FakeDhcpServerConfig } from './dhcp-server.js';
import { FakeDnsServer, type FakeDnsServerConfig } from './dns-server.js';

export * from './dhcp-server.js';
export * from './dns-server.js';

export interface FakeNetworkConfig {
  dhcp: FakeDhcpServerConfig;
  dns: FakeDnsServerConfig;
  clock?: Clock;
}

export interface FakeNetwork {
  dhcp: FakeDhcpServer;
  dns: FakeDnsServer;
  dhcpPort: number;
  dnsPort: number;
  stop(): Promise<void>;
}

export async function startFakeNetwork(config: FakeNetworkConfig): Promise<FakeNetwork> {
  const clockPart = config.clock ? { clock: config.clock } : {};
  const dns = new FakeDnsServer({ ...clockPart, ...config.dns });
  const dhcp = new FakeDhcpServer({ ...clockPart, ...config.dhcp });
  dhcp.onLease((lease) => {
    const name = lease.fqdn ?? (lease.hostname && lease.domain ? `${lease.hostname}.${lease.domain}` : undefined);
    if (name) dns.register(name, lease.address);
  });
  const d = await dns.start();
  let h: { port: number };
  try {
    h = await dhcp.start();
  } catch (e) {
    await dns.stop();
    throw e;
  }
  return {
    dhcp,
    dns,
    dhcpPort: h.port,
    dnsPort: d.port,
    stop: async () => {
      await dhcp.stop();
      await dns.stop();
    },
  };
}
