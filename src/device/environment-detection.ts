/**
 * Environment detection (seed 004 "Trusted Domains"): "Trust Domains refers to the DHCP option 15
 * value returned with a DHCP lease reply. If no match is found based on the domain list configured
 * into Intel AMT, the firmware network interface will be closed." The home domains live in NVRAM
 * (setup.homeDomains); the device compares every lease's option 15 with them.
 *
 * Matching (choice: the seed gives no algorithm): case-insensitive, the option 15 domain equals a
 * home domain or is a subdomain of it (eng.corp.example.test is inside corp.example.test). No home
 * domains configured → no detection at all (the interface stays as it is).
 */

export interface EnvironmentVerdict {
  inside: boolean;
  /** The home domain that matched. */
  matched?: string;
}

const norm = (d: string): string => d.trim().replace(/\.$/, '').toLowerCase();

export function detectEnvironment(homeDomains: readonly string[], option15: string | undefined): EnvironmentVerdict | undefined {
  if (homeDomains.length === 0) return undefined;
  const d = option15 ? norm(option15) : '';
  if (!d) return { inside: false };
  const matched = homeDomains.map(norm).find((h) => h !== '' && (d === h || d.endsWith(`.${h}`)));
  return matched ? { inside: true, matched } : { inside: false };
}
