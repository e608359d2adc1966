/**
 * Optional TLS setup during remote configuration, as MeshCentral's `attemptTlsSync` does it
 * (reference §1.3 step 5.5): the device generates a key pair, the server signs a certificate
 * for it with its CA, AddCertificate, a TLS credential context, and TLS on the remote port
 * (the local LMS instance is left alone: enabling it "will succeed but be ignored").
 */
import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { issueCertificate } from '../pki/cert-builder.js';
import { rsaKeyPairFromPem, type RsaKeyPair } from '../pki/keys.js';
import { expectZero, ProvisioningStepError, step, type StepEmitter } from './steps.js';
import type { WsmanClient } from './wsman-client.js';
import { eprSelector } from './wsman-xml.js';

export interface TlsCa {
  certPem: string;
  keyPem: string;
}

const REMOTE_TLS_INSTANCE = 'Intel(r) AMT 802.3 TLS Settings';
const GENERATE_ATTEMPTS = 3;

/** AMT_PublicPrivateKeyPair.DERKey: SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey on some firmware. */
function publicKeyFromDerKey(b64: string): RsaKeyPair {
  const der = Buffer.from(b64, 'base64');
  let pub;
  try {
    pub = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    pub = createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
  }
  // Only the public half is used to issue a certificate for the device's key.
  return {
    bits: pub.asymmetricKeyDetails?.modulusLength ?? 0,
    publicKey: pub,
    privateKey: pub,
    privateKeyPem: '',
    publicKeyPem: pub.export({ type: 'spki', format: 'pem' }).toString(),
    publicKeyDer: pub.export({ type: 'spki', format: 'der' }),
  };
}

function subjectCn(certPem: string): string {
  const subject = new X509Certificate(certPem).subject;
  return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1] ?? 'amtemu provisioning CA';
}

export async function configureDeviceTls(client: WsmanClient, ca: TlsCa, now: Date, emit: StepEmitter): Promise<void> {
  const contexts = await step(emit, 'tls.enum-credential-context', () =>
    client.enumerate(client.amt.TLSCredentialContext.Enumerate(), (c) => client.amt.TLSCredentialContext.Pull(c), 'AMT_TLSCredentialContext'),
    (v) => ({ count: v.length }));
  if (contexts.length > 0) {
    emit('tls.skipped', true, { reason: 'device already has a TLS credential context' });
    return;
  }
  let keyHandle: string | undefined;
  await step(emit, 'tls.generate-key-pair', async () => {
    for (let attempt = 1; attempt <= GENERATE_ATTEMPTS && !keyHandle; attempt++) {
      const r = await client.invoke(client.amt.PublicKeyManagementService.GenerateKeyPair({ KeyAlgorithm: 0, KeyLength: 2048 }), 'GenerateKeyPair');
      if (r.returnValue === 0) keyHandle = eprSelector(r.output.KeyPair);
      else if (attempt === GENERATE_ATTEMPTS) expectZero('GenerateKeyPair', r.returnValue);
    }
    if (!keyHandle) throw new ProvisioningStepError('tls.generate-key-pair', 'WSMAN_BAD_RESPONSE', 'GenerateKeyPair returned no KeyPair reference');
    return keyHandle;
  }, (h) => ({ keyPair: h }));
  const pairs = await step(emit, 'tls.enum-key-pairs', () =>
    client.enumerate(client.amt.PublicPrivateKeyPair.Enumerate(), (c) => client.amt.PublicPrivateKeyPair.Pull(c), 'AMT_PublicPrivateKeyPair'),
    (v) => ({ count: v.length }));
  const derKey = pairs.find((p) => p.InstanceID === keyHandle)?.DERKey;
  if (!derKey) {
    emit('tls.sign-certificate', false, { reason: `key pair ${keyHandle} not listed` }, 'WSMAN_BAD_RESPONSE');
    throw new ProvisioningStepError('tls.sign-certificate', 'WSMAN_BAD_RESPONSE', `key pair ${keyHandle} not in AMT_PublicPrivateKeyPair`);
  }
  const cert = await step(emit, 'tls.sign-certificate', async () => {
    const caKey = rsaKeyPairFromPem(ca.keyPem);
    const DAY = 86_400_000;
    return issueCertificate({
      subject: { cn: `IntelAMT-${randomBytes(6).toString('hex')}`, o: 'amtemu' },
      subjectKey: publicKeyFromDerKey(derKey),
      issuer: { name: { cn: subjectCn(ca.certPem) }, key: caKey },
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + 3650 * DAY),
      eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    });
  }, (c) => ({ cn: c.subject.cn, serial: c.serialHex }));
  const certHandle = await step(emit, 'tls.add-certificate', async () => {
    const r = await client.invoke(client.amt.PublicKeyManagementService.AddCertificate({ CertificateBlob: cert.der.toString('base64') }), 'AddCertificate');
    expectZero('AddCertificate', r.returnValue);
    const h = eprSelector(r.output.CreatedCertificate);
    if (!h) throw new ProvisioningStepError('tls.add-certificate', 'WSMAN_BAD_RESPONSE', 'AddCertificate returned no CreatedCertificate reference');
    return h;
  }, (h) => ({ certificate: h }));
  await step(emit, 'tls.create-credential-context', () => client.send(client.amt.TLSCredentialContext.Create(certHandle)));
  await step(emit, 'tls.put-remote-settings', () =>
    client.send(client.amt.TLSSettingData.Put({
      ElementName: REMOTE_TLS_INSTANCE,
      InstanceID: REMOTE_TLS_INSTANCE,
      Enabled: true,
      MutualAuthentication: false,
      AcceptNonSecureConnections: true,
    } as Parameters<typeof client.amt.TLSSettingData.Put>[0])));
}
