/**
 * RSA keys for the emulator's PKI: generated natively with node:crypto (OpenSSL), never with
 * node-forge's JavaScript keygen, which is ~100× slower (DESIGN.md "Keys are the expensive part").
 * A KeyPool hands out pre-generated keys so a 10,000-device fleet does not pay 10,000 keygens.
 */
import { generateKeyPair, createPublicKey, createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { AmtError } from '../common/errors.js';

export interface RsaKeyPair {
  /** Modulus length in bits. */
  bits: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"), what node:tls and most servers load. */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM. */
  publicKeyPem: string;
  /** SubjectPublicKeyInfo DER (AMT_PublicPrivateKeyPair.DERKey is its base64). */
  publicKeyDer: Buffer;
}

/** Key sizes we accept: 1024 exists only to build WEAK_KEY test chains; AMT 6.0+ takes 4096 (reference §4.3). */
export const RSA_KEY_BITS = [1024, 2048, 3072, 4096] as const;

function checkBits(bits: number): void {
  if (!(RSA_KEY_BITS as readonly number[]).includes(bits)) {
    throw new AmtError('BAD_INPUT', `RSA key size ${bits} is not supported (use one of ${RSA_KEY_BITS.join(', ')})`);
  }
}

function toPair(bits: number, privateKey: KeyObject, publicKey: KeyObject): RsaKeyPair {
  return {
    bits,
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** One native RSA key pair (public exponent 65537). Asynchronous: runs on the libuv thread pool. */
export function generateRsaKeyPair(bits = 2048): Promise<RsaKeyPair> {
  checkBits(bits);
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: bits, publicExponent: 0x10001 }, (err, publicKey, privateKey) => {
      if (err) reject(new AmtError('BAD_INPUT', `RSA ${bits}-bit key generation failed: ${err.message}`));
      else resolve(toPair(bits, privateKey, publicKey));
    });
  });
}

/** Load a PEM private key (PKCS#1 or PKCS#8, RSA only) into an RsaKeyPair. */
export function rsaKeyPairFromPem(pem: string): RsaKeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new AmtError('BAD_INPUT', `not a PEM private key: ${(e as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new AmtError('BAD_INPUT', `expected an RSA private key, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKey = createPublicKey(privateKey);
  return toPair(privateKey.asymmetricKeyDetails?.modulusLength ?? 0, privateKey, publicKey);
}

/** forge view of the public key, for forge certificate objects (forge only understands RSA). */
export function toForgePublicKey(pair: RsaKeyPair): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromPem(pair.publicKeyPem) as forge.pki.rsa.PublicKey;
}

/** forge view of the private key (needed e.g. for PKCS#12 export). Signing uses node:crypto instead. */
export function toForgePrivateKey(pair: RsaKeyPair): forge.pki.rsa.PrivateKey {
  return forge.pki.privateKeyFromPem(pair.privateKeyPem) as forge.pki.rsa.PrivateKey;
}

export interface KeyPoolOptions {
  bits?: number;
  /** Most distinct keys the pool generates; after that keys are handed out round-robin. */
  size: number;
}

/**
 * Pre-generated keys reused across many devices. Lazy: a key is generated the first time the
 * pool needs one more, and never before. Once `size` keys exist, `take()` cycles through them —
 * fine for emulated devices (each still gets its own certificate), never for real secrets.
 */
export class KeyPool {
  readonly bits: number;
  readonly size: number;
  private readonly keys: Array<Promise<RsaKeyPair>> = [];
  private next = 0;

  constructor(opts: KeyPoolOptions) {
    this.bits = opts.bits ?? 2048;
    checkBits(this.bits);
    if (!Number.isInteger(opts.size) || opts.size < 1 || opts.size > 100_000) {
      throw new AmtError('BAD_INPUT', `key pool size must be an integer 1..100000, got ${opts.size}`);
    }
    this.size = opts.size;
  }

  /** Keys generated (or being generated) so far. */
  get generated(): number {
    return this.keys.length;
  }

  /** The next key: a fresh one while the pool is below `size`, then a reused one. */
  take(): Promise<RsaKeyPair> {
    const i = this.next % this.size;
    this.next++;
    if (i >= this.keys.length) {
      const p = generateRsaKeyPair(this.bits);
      // A failed generation must not poison the slot forever.
      p.catch(() => {
        if (this.keys[i] === p) this.keys.length = i;
      });
      this.keys.push(p);
      return p;
    }
    return this.keys[i] as Promise<RsaKeyPair>;
  }

  /** Generate up to `count` keys now (e.g. before a fleet boots), bounded by `size`. */
  async warm(count = this.size): Promise<void> {
    const target = Math.min(count, this.size);
    const pending: Array<Promise<RsaKeyPair>> = [];
    while (this.keys.length < target) {
      const p = generateRsaKeyPair(this.bits);
      this.keys.push(p);
      pending.push(p);
    }
    await Promise.all(pending);
  }
}
