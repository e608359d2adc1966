/**
 * The certificate chain a TLS peer presented, as DER, leaf first — the input of
 * validateSetupChain for the 16993 mutual-TLS session (reference §1.3 step 4, §5.4).
 *
 * node:tls does not expose the raw list the peer sent; getPeerCertificate(true) links the sent
 * certificates by issuer starting at the leaf, so certificates that do not chain from the leaf
 * are dropped (which PKI-CH would reject as CHAIN_INCOMPLETE anyway). Listeners use
 * `rejectUnauthorized: false` and leave every judgement to PKI-CH so the reason code is ours.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** Hard bound on the walk; far above any profile's maxChainLength. */
const MAX_WALK = 16;

export function peerChainDer(socket: TLSSocket): Buffer[] {
  // No client certificate: Node returns an empty object (or null when the socket is gone).
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | null;
  if (!leaf || !leaf.raw) return [];
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = leaf;
  while (cur && cur.raw && out.length < MAX_WALK) {
    if (seen.has(cur.fingerprint256)) break; // a self-signed root points at itself
    seen.add(cur.fingerprint256);
    out.push(Buffer.from(cur.raw));
    cur = cur.issuerCertificate;
  }
  return out;
}
