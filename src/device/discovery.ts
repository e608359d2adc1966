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
