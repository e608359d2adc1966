/** Public surface of the PKI package (see each module for the reference sections it follows). */
export { generateRsaKeyPair, rsaKeyPairFromPem, toForgePublicKey, toForgePrivateKey, KeyPool, RSA_KEY_BITS, type RsaKeyPair, type KeyPoolOptions } from './keys.js';
export { certHash, certHashes, hashLabel, pemToDerList, pemToDer, derToPem, toCertDer, checkDer, normalizeHashHex, type CertHashes } from './hashes.js';
export { issueCertificate, randomSerialHex, type CertSpec, type IssuedCert, type DistinguishedName, type SigningHash } from './cert-builder.js';
export { readCertInfo, certLabel, OID, CLIENT_SETUP_OU, type CertInfo } from './x509-info.js';
export { matchDnsSuffix, TLD_DEPTH, type SuffixRule } from './dns-suffix.js';
export { createTestPki, writeTestPki, TEST_PKI_VARIANTS, type TestPki, type TestChain, type TestCert, type TestPkiVariant, type TestPkiOptions } from './test-ca.js';
export { issueDeviceCertificate, DeviceCertStore, type DeviceTlsIdentity, type DeviceCertOptions } from './device-cert.js';
export {
  verifyAdminSetupSignature, validateHostBasedChain, returnValueFor, HostBasedCertChain, ADD_NEXT_CERT_RETURN,
  type AdminSetupSignatureInput, type AdminSetupSigningAlgorithm, type AddNextCertOutcome, type AddNextCertReturnValue, type CertChainStatus, type HostBasedChainContext,
} from './signature.js';
export { peerChainDer } from './peer-chain.js';
