/**
 * Domain-suffix matching between a provisioning certificate identifier (leaf CN or a SAN
 * dNSName) and the device's DNS suffix (MEBx PKI DNS suffix, else DHCP option 15).
 *
 * Reference §4.3 and §8 item 7 record three disagreeing rules:
 *  - Intel SDK (pkicertificateverificationmethods.htm): the suffix must be a suffix of the
 *    identifier; a wildcard `*.some.domain` is accepted when some.domain matches; and when both
 *    end in .com/.net with the same second-level domain they match ("csa.ftl.intel.com can
 *    configure platforms in dev.intel.com"), extended in AMT 4.1/5.1 to other TLDs with a
 *    per-TLD depth (the table MeshCentral carries as TopLevelDomainExtendedSupport).
 *  - RPS: compares only the last two labels (domainSuffixChecker).
 *  - MeshCentral: truncates the CN by the TLD table, then `cn == suffix || suffix.endsWith('.' + cn)`.
 * The firmware's exact algorithm is unknown (§9 item 8). We implement the SDK rule as the
 * default ('sdk'); 'strict' drops the registrable-domain exception and keeps only label-boundary
 * suffix matching (useful to test servers that mint exact certificates).
 */

export type SuffixRule = 'sdk' | 'strict';

/**
 * Labels that make up the registrable ("organisation") domain under a TLD — reference §4.3,
 * MeshCentral TopLevelDomainExtendedSupport. TLDs not listed get no cross-subdomain exception.
 */
export const TLD_DEPTH: Readonly<Record<string, number>> = {
  net: 2, com: 2, arpa: 3, org: 2, gov: 2, edu: 2, de: 2, fr: 3, cn: 3, nl: 3, br: 3, mx: 3, uk: 3, pl: 3,
  tw: 3, ca: 3, fi: 3, be: 3, ru: 3, se: 3, ch: 2, dk: 2, ar: 3, es: 3, no: 3, at: 3, in: 3, tr: 3, cz: 2,
  ro: 3, hu: 3, nz: 3, pt: 3, il: 3, gr: 3, co: 3, ie: 3, za: 3, th: 3, sg: 3, hk: 3, cl: 2, lt: 3, id: 3,
  hr: 3, ee: 3, bg: 3, ua: 2,
};

function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function wellFormed(labels: string[]): boolean {
  return labels.length > 0 && labels.every((l) => l.length > 0 && l.length <= 63 && !l.includes('*'));
}

/** Labels of the registrable domain under a listed TLD; 2 for unlisted TLDs (for wildcard sanity). */
function orgDepth(labels: string[]): number {
  return TLD_DEPTH[labels[labels.length - 1] ?? ''] ?? 2;
}

function endsOnLabel(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith('.' + suffix);
}

/** Same registrable domain under a TLD from the extended-support table (SDK .com/.net rule). */
function sameOrgDomain(a: string[], b: string[]): boolean {
  const tld = a[a.length - 1] ?? '';
  const depth = TLD_DEPTH[tld];
  if (depth === undefined || tld !== b[b.length - 1]) return false;
  if (a.length < depth || b.length < depth) return false;
  return a.slice(-depth).join('.') === b.slice(-depth).join('.');
}

/**
 * Does a certificate identifier (CN or SAN dNSName) satisfy the device's DNS suffix?
 * Case-insensitive, a trailing dot is ignored, matches only on label boundaries
 * ('evilcorp.example.test' does not match 'corp.example.test').
 */
export function matchDnsSuffix(identifier: string, suffix: string, rule: SuffixRule = 'sdk'): boolean {
  const id = normalize(identifier);
  const sfx = normalize(suffix);
  const sfxLabels = sfx.split('.');
  if (!wellFormed(sfxLabels)) return false;

  const wildcard = id.startsWith('*.');
  const base = wildcard ? id.slice(2) : id;
  const baseLabels = base.split('.');
  if (!wellFormed(baseLabels)) return false;

  if (wildcard) {
    // `*.com` or `*.co.uk` would cover every customer of a registry: never accepted.
    if (baseLabels.length < orgDepth(baseLabels)) return false;
    // The wildcard covers some.domain's subtree; the device domain may be some.domain itself,
    // inside it, or above it (the identifier still ends with the suffix).
    if (endsOnLabel(sfx, base) || endsOnLabel(base, sfx)) return true;
  } else if (endsOnLabel(id, sfx)) {
    return true;
  }
  return rule === 'sdk' && sameOrgDomain(baseLabels, sfxLabels);
}
