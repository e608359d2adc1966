/**
 * AMT_PublicKeyManagementService, AMT_PublicKeyCertificate, AMT_PublicPrivateKeyPair — the
 * certificate store MeshCentral fills during TLS setup (reference §1.3 step 5.5: GenerateKeyPair
 * → Enum key pairs → sign → AddCertificate). Keys are generated natively (node:crypto).
 * Return values (PT_STATUS): 0 SUCCESS, 1 INTERNAL_ERROR, 23 MAX_LIMIT_REACHED,
 * 36 INVALID_PARAMETER, 2058 DUPLICATE.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { generateRsaKeyPair } from '../../../pki/keys.js';
import type { CertificateRecord, KeyPairRecord } from '../../../nvram/image.js';
import { epr } from '../envelope.js';
import { Faults } from '../faults.js';
import { instance, param, selectInstance, uriOf, type MethodResult, type WsmanClass, type WsmanContext } from '../types.js';

/** choice: the firmware store size is not in the reference; AMT documents room for a handful of certificates. */
const MAX_CERTIFICATES = 16;
const MAX_KEYS = 16;
const KEY_PREFIX = 'Intel(r) AMT Key: Handle: ';
const CERT_PREFIX = 'Intel(r) AMT Certificate: Handle: ';

function nextHandle(ids: string[], prefix: string): number {
  let max = -1;
  for (const id of ids) {
    const n = Number(id.slice(prefix.length));
    if (id.startsWith(prefix) && Number.isInteger(n) && n > max) max = n;
  }
  return max + 1;
}

/** "C=US,O=…,CN=…" as AMT prints Subject/Issuer. */
function dn(text: string): string {
  return text.split('\n').filter(Boolean).join(',');
}

function certInstance(c: CertificateRecord) {
  let subject = '';
  let issuer = '';
  try {
    const x = new X509Certificate(Buffer.from(c.x509, 'base64'));
    subject = dn(x.subject);
    issuer = dn(x.issuer);
  } catch {
    // Stored certificates were parsed on the way in; a damaged one still lists with empty names.
  }
  return instance('AMT_PublicKeyCertificate', {
    ElementName: 'Intel(r) AMT Certificate',
    InstanceID: c.instanceId,
    Issuer: issuer,
    ReadOnlyCertificate: false,
    Subject: subject,
    // Sic: the firmware's property name carries this typo (TWM/GWM models).
    TrustedRootCertficate: c.trustedRoot,
    X509Certificate: c.x509,
  });
}

function keyInstance(k: KeyPairRecord) {
  return instance('AMT_PublicPrivateKeyPair', { DERKey: k.publicKeyDer, ElementName: 'Intel(r) AMT Key', InstanceID: k.instanceId });
}

function addCertificate(ctx: WsmanContext, blob: string, trustedRoot: boolean): MethodResult {
  const img = ctx.device.nvram;
  const b64 = blob.replace(/\s+/g, '');
  let x: X509Certificate;
  try {
    x = new X509Certificate(Buffer.from(b64, 'base64'));
  } catch {
    return { returnValue: 36 };
  }
  const der = x.raw.toString('base64');
  if (img.tls.certificates.some((c) => c.x509 === der)) return { returnValue: 2058 };
  if (img.tls.certificates.length >= MAX_CERTIFICATES) return { returnValue: 23 };
  const spki = x.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const keyPair = img.tls.keyPairs.find((k) => k.publicKeyDer === spki);
  // AddCertificate is for a certificate whose private key the device holds (§1.3 step 5.5).
  if (!trustedRoot && !keyPair) return { returnValue: 36 };
  const instanceId = CERT_PREFIX + nextHandle(img.tls.certificates.map((c) => c.instanceId), CERT_PREFIX);
  ctx.device.update((im) => {
    im.tls.certificates.push({ instanceId, x509: der, trustedRoot, ...(keyPair ? { keyPairId: keyPair.instanceId } : {}) });
  });
  return { returnValue: 0, out: { CreatedCertificate: epr(uriOf('AMT_PublicKeyCertificate'), { InstanceID: instanceId }) } };
}

export const publicKeyManagementService: WsmanClass = {
  className: 'AMT_PublicKeyManagementService',
  get: () =>
    instance('AMT_PublicKeyManagementService', {
      CreationClassName: 'AMT_PublicKeyManagementService',
      ElementName: 'Intel(r) AMT Public Key Management Service',
      EnabledState: 5,
      Name: 'Intel(r) AMT Public Key Management Service',
      RequestedState: 12,
      SystemCreationClassName: 'CIM_ComputerSystem',
      SystemName: 'Intel(r) AMT',
    }),
  methods: {
    GenerateKeyPair: async (ctx, input) => {
      const alg = param(input, 'KeyAlgorithm') ?? '0';
      const bits = Number(param(input, 'KeyLength') ?? '2048');
      if (alg !== '0' || ![2048, 3072].includes(bits)) return { returnValue: 36 };
      if (ctx.device.nvram.tls.keyPairs.length >= MAX_KEYS) return { returnValue: 23 };
      const pair = await ctx.device.clock.track(generateRsaKeyPair(bits));
      const instanceId = KEY_PREFIX + nextHandle(ctx.device.nvram.tls.keyPairs.map((k) => k.instanceId), KEY_PREFIX);
      ctx.device.update((img) => {
        img.tls.keyPairs.push({ instanceId, privateKeyPem: pair.privateKeyPem, publicKeyDer: pair.publicKeyDer.toString('base64') });
      });
      return { returnValue: 0, out: { KeyPair: epr(uriOf('AMT_PublicPrivateKeyPair'), { InstanceID: instanceId }) } };
    },
    AddTrustedRootCertificate: (ctx, input) => addCertificate(ctx, param(input, 'CertificateBlob') ?? '', true),
    AddCertificate: (ctx, input) => addCertificate(ctx, param(input, 'CertificateBlob') ?? '', false),
    AddKey: (ctx, input) => {
      const blob = (param(input, 'KeyBlob') ?? '').replace(/\s+/g, '');
      try {
        createPrivateKey({ key: Buffer.from(blob, 'base64'), format: 'der', type: 'pkcs1' });
      } catch {
        return { returnValue: 36 };
      }
      // choice: key import is not modelled yet; the device answers INTERNAL_ERROR rather than pretend.
      return { returnValue: 1 };
    },
  },
};

export const publicKeyCertificate: WsmanClass = {
  className: 'AMT_PublicKeyCertificate',
  get: (ctx, sel) => selectInstance(ctx.device.nvram.tls.certificates.map(certInstance), sel) ?? Faults.invalidSelectors(),
  enumerate: (ctx) => ctx.device.nvram.tls.certificates.map(certInstance),
  delete: (ctx, sel) => {
    const id = sel['InstanceID'];
    const img = ctx.device.nvram;
    if (!id || !img.tls.certificates.some((c) => c.instanceId === id)) return Faults.invalidSelectors();
    if (img.tls.credentialContext === id) return Faults.accessDenied('The certificate is in use by the TLS credential context.');
    ctx.device.update((im) => {
      im.tls.certificates = im.tls.certificates.filter((c) => c.instanceId !== id);
    });
    return undefined;
  },
};

export const publicPrivateKeyPair: WsmanClass = {
  className: 'AMT_PublicPrivateKeyPair',
  get: (ctx, sel) => selectInstance(ctx.device.nvram.tls.keyPairs.map(keyInstance), sel) ?? Faults.invalidSelectors(),
  enumerate: (ctx) => ctx.device.nvram.tls.keyPairs.map(keyInstance),
  delete: (ctx, sel) => {
    const id = sel['InstanceID'];
    if (!id || !ctx.device.nvram.tls.keyPairs.some((k) => k.instanceId === id)) return Faults.invalidSelectors();
    ctx.device.update((im) => {
      im.tls.keyPairs = im.tls.keyPairs.filter((k) => k.instanceId !== id);
    });
    return undefined;
  },
};
