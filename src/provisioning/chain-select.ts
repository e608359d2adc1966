/**
 * Which provisioning certificate chain can configure a device: one whose root's hash, in the
 * algorithm of a hello entry, equals that entry (MeshCentral `checkAcmActivation` compares the
 * root SHA-256 or SHA-1; RPS `compareCertHashes` picks the algorithm by hash length — reference
 * §1.3 step 3, §5.2 step 2). Chains are tried in configured order, hello hashes in sent order.
 */
import type { HashAlgorithm } from '../nvram/image.js';

export interface ProvisioningChain {
  name?: string;
  /** Leaf first, root last (the root may be omitted from what is sent; its hashes still match). */
  chainPem: string;
  keyPem: string;
  rootHashes: { sha1: string; sha256: string; sha384: string };
}

export interface HelloHash {
  algorithm: HashAlgorithm;
  hash: string;
}

export interface ChainMatch<C extends ProvisioningChain = ProvisioningChain> {
  chain: C;
  index: number;
  algorithm: HashAlgorithm;
  hash: string;
}

const KEY: Record<HashAlgorithm, 'sha1' | 'sha256' | 'sha384'> = { SHA1: 'sha1', SHA256: 'sha256', SHA384: 'sha384' };

export function selectChain<C extends ProvisioningChain>(chains: readonly C[], hashes: readonly HelloHash[]): ChainMatch<C> | undefined {
  for (let index = 0; index < chains.length; index++) {
    const chain = chains[index]!;
    for (const h of hashes) {
      const want = chain.rootHashes[KEY[h.algorithm]]?.toLowerCase();
      if (want && want === h.hash.toLowerCase()) return { chain, index, algorithm: h.algorithm, hash: h.hash.toLowerCase() };
    }
  }
  return undefined;
}
