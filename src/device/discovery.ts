/**
 * Where the hello goes, in firmware order (reference §3; SDK
 * overviewofpskpkiautomaticconfigurationflow.htm and setupmodehellomessages.htm):
 *  1. the provisioning-server address set in MEBx/USB (no DNS at all);
 *  2. the provisioning-server FQDN set in MEBx/USB;
 *  3. ProvisionServer.<PKI DNS suffix> (MEBx "internal domain");
 *  4. ProvisionServer.<MEBx domain name>;
 *  5. ProvisionServer.<DHCP option 15>;
 *  6. bare "ProvisionServer" — the SDK says the lookup is sent "even if no domain name was entered".
 * Identical names are asked once. The first name that resolves wins.
 */
import type { NvramImage } from '../nvram/image.js';
import type { DeviceNetwork, DhcpLease, HelloTarget } from './environment.js';

export const PROVISION_SERVER_LABEL = 'ProvisionServer';

export type LocateStep =
  | { kind: 'address'; address: string; source: 'mebx' }
  | { kind: 'name'; name: string; source: 'mebxFqdn' | 'pkiDnsSuffix' | 'mebxDomain' | 'dhcpOption15' | 'bare' };

export function locateSteps(img: Readonly<NvramImage>, dhcpDomain: string | undefined): LocateStep[] {
  const ps = img.setup.provisioningServer;
  if (ps.address) return [{ kind: 'address', address: ps.address, source: 'mebx' }];
  const steps: LocateStep[] = [];
  const seen = new Set<string>();
  const add = (name: string, source: Extract<LocateStep, { kind: 'name' }>['source']): void => {
    const clean = name.replace(/\.$/, '');
    const key = clean.toLowerCase();
    if (!clean || seen.has(key)) return;
    seen.add(key);
    steps.push({ kind: 'name', name: clean, source });
  };
  if (ps.fqdn) add(ps.fqdn, 'mebxFqdn');
  const suffix = img.setup.pkiDnsSuffix.trim();
  if (suffix) add(`${PROVISION_SERVER_LABEL}.${suffix}`, 'pkiDnsSuffix');
  const domain = img.network.domain.trim();
  if (domain) add(`${PROVISION_SERVER_LABEL}.${domain}`, 'mebxDomain');
  if (dhcpDomain?.trim()) add(`${PROVISION_SERVER_LABEL}.${dhcpDomain.trim()}`, 'dhcpOption15');
  add(PROVISION_SERVER_LABEL, 'bare');
  return steps;
}

/**
 * Walk the steps for this lease: an address ends the search at once; each name is resolved
 * through the lease's DNS servers from the device's address, and the first answer wins. Every
 * step is on the timeline (`dns.query`, `dns.answer`, `dns.failed`, `dns.skipped`).
 */
export async function locateProvisioningServer(
  img: Readonly<NvramImage>,
  lease: DhcpLease,
  network: Pick<DeviceNetwork, 'resolve'>,
  record: (type: string, data: Record<string, unknown>, code?: string) => void,
): Promise<HelloTarget | undefined> {
  const port = img.setup.provisioningServer.port;
  const steps = locateSteps(img, lease.domain);
  for (const step of steps) {
    if (step.kind === 'address') {
      record('dns.skipped', { reason: 'provisioning server address set in MEBx', address: step.address });
      return { host: step.address, port };
    }
    record('dns.query', { name: step.name, source: step.source });
    const r = await network.resolve(step.name, lease.dnsServers, lease.address);
    if (r.ok && r.value.length > 0) {
      record('dns.answer', { name: step.name, addresses: r.value });
      return { host: r.value[0]!, port };
    }
    record('dns.failed', { name: step.name, message: r.ok ? 'no address in answer' : r.message }, r.ok ? 'DNS_NXDOMAIN' : r.code);
  }
  record('hello.skipped', { reason: 'provisioning server not found', tried: steps.length }, 'DNS_NXDOMAIN');
  return undefined;
}
