/**
 * Host-based ACM (IPS_HostBasedSetupService, reference §5.2, §5.3): the chain injected with
 * AddNextCertInChain and the signed nonce of AdminSetup / UpgradeClientToAdmin.
 */
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import type { Result } from '../common/errors.js';
import type { CertHashEntry } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';
import { validateSetupChain, type PkiChCode, type SetupChainInfo } from '../device/pkich.js';

/** SigningAlgorithm: 2 RSA_SHA-2_256 (TWM/GWM enums); 3 = SHA-384 (AMT 22 ADR). §5.3. */
export type AdminSetupSigningAlgorithm = 2 | 3;

export interface AdminSetupSignatureInput {
  /** DER of the leaf injected with AddNextCertInChain (IsLeafCertificate=true). */
  leafDer: Buffer;
  /** IPS_HostBasedSetupService.ConfigurationNonce, 20 bytes. */
  configurationNonce: Buffer;
  /** McNonce from the AdminSetup call, 20 bytes. */
  mcNonce: Buffer;
  /** DigitalSignature, base64. */
  signatureB64: string;
  signingAlgorithm: number;
}

const NONCE_LENGTH = 20;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * RSA PKCS#1 v1.5 over ConfigurationNonce || McNonce, SHA-256 (2) or SHA-384 (3) — §5.3 (RPS
 * createSignedString, rpc-go signString). False for anything malformed: wrong nonce length,
 * bad base64, unknown algorithm, unreadable leaf, non-RSA key.
 */
export function verifyAdminSetupSignature(input: AdminSetupSignatureInput): boolean {
  const hash = input.signingAlgorithm === 2 ? 'sha256' : input.signingAlgorithm === 3 ? 'sha384' : undefined;
  if (!hash) return false;
  if (input.configurationNonce.length !== NONCE_LENGTH || input.mcNonce.length !== NONCE_LENGTH) return false;
  const b64 = input.signatureB64.replace(/\s+/g, '');
  if (!BASE64_RE.test(b64) || b64.length % 4 !== 0) return false;
  try {
    const key = new X509Certificate(input.leafDer).publicKey;
    if (key.asymmetricKeyType !== 'rsa') return false;
    const message = Buffer.concat([input.configurationNonce, input.mcNonce]);
    return cryptoVerify(hash, message, key, Buffer.from(b64, 'base64'));
  } catch {
    return false;
  }
}

/** AddNextCertInChain ReturnValue (GWM ips/hostbasedsetup decoder, §5.3). */
export const ADD_NEXT_CERT_RETURN = {
  Success: 0,
  InvalidParam: 1,
  InternalError: 2,
  InvalidState: 3,
  CertVerifyFailed: 4,
  CertChainLengthExceeded: 5,
} as const;
export type AddNextCertReturnValue = (typeof ADD_NEXT_CERT_RETURN)[keyof typeof ADD_NEXT_CERT_RETURN];

/** CertChainStatus: 0 not started, 1 in progress, 2 complete (§5.3). */
export type CertChainStatus = 0 | 1 | 2;

export interface AddNextCertOutcome {
  returnValue: AddNextCertReturnValue;
  /** Why, for the timeline; absent on plain success. */
  code?: PkiChCode | 'INVALID_STATE';
  message?: string;
  /** Set once the root has been accepted. */
  info?: SetupChainInfo;
}

export interface HostBasedChainContext {
  hashes: CertHashEntry[];
  profile: FirmwareProfile;
  now: Date;
  pkiDnsSuffix: string;
  dhcpDomain?: string;
  enforceValidity?: boolean;
  /**
   * 'full' (default) applies every PKI-CH rule including OID/OU and the DNS suffix;
   * 'chainAndHash' skips the leaf usage and suffix rules. Which of these the firmware applies to
   * host-based ACM is not documented (§5.3); 'full' follows the SDK's statement that the
   * provisioning certificate rules (§4.3) apply to ACM in general.
   */
  checks?: 'full' | 'chainAndHash';
}

/**
 * Map a whole-chain PKI-CH result to the AddNextCertInChain ReturnValue the root call returns.
 * BAD_INPUT → InvalidParam, CHAIN_TOO_LONG → CertChainLengthExceeded, everything else →
 * CertVerifyFailed.
 */
export function returnValueFor(code: PkiChCode): AddNextCertReturnValue {
  if (code === 'BAD_INPUT' || code === 'NO_CLIENT_CERT') return ADD_NEXT_CERT_RETURN.InvalidParam;
  if (code === 'CHAIN_TOO_LONG') return ADD_NEXT_CERT_RETURN.CertChainLengthExceeded;
  return ADD_NEXT_CERT_RETURN.CertVerifyFailed;
}

/** Validate a complete chain (leaf first, root last) as the root call of AddNextCertInChain does. */
export function validateHostBasedChain(chain: Buffer[], ctx: HostBasedChainContext): Result<SetupChainInfo, PkiChCode> {
  return validateSetupChain({
    chain,
    hashes: ctx.hashes,
    pkiDnsSuffix: ctx.pkiDnsSuffix,
    ...(ctx.dhcpDomain !== undefined ? { dhcpDomain: ctx.dhcpDomain } : {}),
    profile: ctx.profile,
    now: ctx.now,
    ...(ctx.enforceValidity !== undefined ? { enforceValidity: ctx.enforceValidity } : {}),
    suffixRule: 'sdk',
    leafPolicy: (ctx.checks ?? 'full') === 'full',
  });
}

/**
 * The firmware's AddNextCertInChain state: certificates arrive one per call, leaf first
 * (IsLeafCertificate) and root last (IsRootCertificate); the chain is verified when the root
 * arrives (§5.2 step 5). One instance per device; reset() on unprovision / new setup attempt.
 */
export class HostBasedCertChain {
  private certs: Buffer[] = [];
  private accepted: SetupChainInfo | undefined;
  private _status: CertChainStatus = 0;

  get status(): CertChainStatus {
    return this._status;
  }

  /** The verified chain's details once status is 2. */
  get info(): SetupChainInfo | undefined {
    return this.accepted;
  }

  /** The leaf DER (for verifyAdminSetupSignature) once the chain is complete. */
  get leafDer(): Buffer | undefined {
    return this._status === 2 ? this.certs[0] : undefined;
  }

  reset(): void {
    this.certs = [];
    this.accepted = undefined;
    this._status = 0;
  }

  add(certDer: Buffer, isLeaf: boolean, isRoot: boolean, ctx: HostBasedChainContext): AddNextCertOutcome {
    if (certDer.length === 0 || certDer.length > 16_384) {
      return { returnValue: ADD_NEXT_CERT_RETURN.InvalidParam, code: 'BAD_INPUT', message: `certificate of ${certDer.length} bytes` };
    }
    try {
      new X509Certificate(certDer);
    } catch (e) {
      return { returnValue: ADD_NEXT_CERT_RETURN.InvalidParam, code: 'BAD_INPUT', message: `not a DER X.509 certificate (${(e as Error).message})` };
    }
    if (isLeaf) {
      // A new leaf starts a new chain, whatever came before.
      this.reset();
    } else if (this._status !== 1) {
      return {
        returnValue: ADD_NEXT_CERT_RETURN.InvalidState,
        code: 'INVALID_STATE',
        message: this._status === 2 ? 'chain already complete; send a leaf to start again' : 'first certificate must have IsLeafCertificate=true',
      };
    }
    if (this.certs.length + 1 > ctx.profile.certificates.maxChainLength) {
      const n = this.certs.length + 1;
      this.reset();
      return {
        returnValue: ADD_NEXT_CERT_RETURN.CertChainLengthExceeded,
        code: 'CHAIN_TOO_LONG',
        message: `certificate ${n} exceeds the maximum chain length ${ctx.profile.certificates.maxChainLength}`,
      };
    }
    this.certs.push(certDer);
    this._status = 1;
    if (!isRoot) return { returnValue: ADD_NEXT_CERT_RETURN.Success };

    const r = validateHostBasedChain(this.certs, ctx);
    if (!r.ok) {
      this.reset();
      return { returnValue: returnValueFor(r.code), code: r.code, message: r.message };
    }
    this.accepted = r.value;
    this._status = 2;
    return { returnValue: ADD_NEXT_CERT_RETURN.Success, info: r.value };
  }
}
