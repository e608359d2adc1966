/**
 * Host-based activation over the device's local WS-Man port the way RPS drives it through the
 * OS agent (reference §5.2): LSA digest account on 16992, GeneralSettings Get for the realm, then
 * CCM `Setup(2, md5hex)` or ACM `HostBasedSetupService` Get (nonce) → AddNextCertInChain leaf…root
 * → `AdminSetup` with McNonce and an RSA-SHA256 signature over ConfigurationNonce‖McNonce (§5.3).
 */
import { randomBytes, sign, X509Certificate } from 'node:crypto';
import { pemToDerList } from '../pki/hashes.js';
import { digestHa1 } from './digest.js';
import { expectZero, ProvisioningStepError, step, type StepEmitter } from './steps.js';
import { WsmanClient } from './wsman-client.js';

export interface HostBasedActivation {
  address: string;
  /** Default 16992 (the LMS plain port). */
  port?: number;
  /** The Local System Account from CFG_GetLocalSystemAccount (`$$OsAdmin`). */
  lsa: { username: string; password: string };
  mode: 'ccm' | 'acm';
  adminPassword: string;
  /** ACM only: the provisioning chain (leaf first) and the leaf key. */
  chain?: { chainPem: string; keyPem: string };
  /** Use TLS to the port (CSME 19 TLS-enforced devices); default plain. */
  tls?: boolean;
  timeoutMs?: number;
  localAddress?: string;
  /** Injectable for reproducible runs. */
  random?: (n: number) => Buffer;
}

export interface HostBasedResult {
  mode: 'ccm' | 'acm';
  digestRealm: string;
  /** ACM: the control mode the device already had, when it was already ACM. */
  alreadyAcm?: boolean;
}

/** Message signed for AdminSetup: ConfigurationNonce (device) ‖ McNonce (client), RSA PKCS#1 v1.5 SHA-256 (§5.3). */
export function signAdminSetupNonces(configurationNonce: Buffer, mcNonce: Buffer, keyPem: string): Buffer {
  return sign('sha256', Buffer.concat([configurationNonce, mcNonce]), keyPem);
}

export async function activateHostBased(a: HostBasedActivation, emit: StepEmitter): Promise<HostBasedResult> {
  const random = a.random ?? ((n: number) => randomBytes(n));
  const client = new WsmanClient({
    host: a.address,
    port: a.port ?? 16992,
    username: a.lsa.username,
    password: a.lsa.password,
    ...(a.tls ? { tls: {} } : {}),
    ...(a.timeoutMs ? { timeoutMs: a.timeoutMs } : {}),
    ...(a.localAddress ? { localAddress: a.localAddress } : {}),
  });
  try {
    const general = await step(emit, 'wsman.get-general-settings', () => client.get(client.amt.GeneralSettings.Get(), 'AMT_GeneralSettings'), (g) => ({ digestRealm: g.DigestRealm }));
    const realm = general.DigestRealm;
    if (!realm) throw new ProvisioningStepError('wsman.get-general-settings', 'WSMAN_BAD_RESPONSE', 'AMT_GeneralSettings has no DigestRealm');
    const adminHash = digestHa1('admin', realm, a.adminPassword);

    if (a.mode === 'ccm') {
      await step(emit, 'ips.setup', async () => {
        const r = await client.invoke(client.ips.HostBasedSetupService.Setup(2, adminHash), 'Setup');
        expectZero('Setup', r.returnValue);
      }, () => ({ adminPassEncryptionType: 2 }));
      return { mode: 'ccm', digestRealm: realm };
    }

    if (!a.chain) throw new ProvisioningStepError('ips.admin-setup', 'BAD_INPUT', 'ACM host-based activation needs a provisioning chain');
    const svc = await step(emit, 'ips.get-host-based-setup', () => client.get(client.ips.HostBasedSetupService.Get(), 'IPS_HostBasedSetupService'),
      (s) => ({ currentControlMode: s.CurrentControlMode, allowedControlModes: s.AllowedControlModes }));
    if (svc.CurrentControlMode === '2') {
      emit('ips.admin-setup', true, { skipped: 'device is already in ACM' });
      return { mode: 'acm', digestRealm: realm, alreadyAcm: true };
    }
    const nonce = Buffer.from(svc.ConfigurationNonce ?? '', 'base64');
    if (nonce.length === 0) throw new ProvisioningStepError('ips.get-host-based-setup', 'WSMAN_BAD_RESPONSE', 'IPS_HostBasedSetupService has no ConfigurationNonce');

    const ders = pemToDerList(a.chain.chainPem, 'provisioning chain');
    for (let i = 0; i < ders.length; i++) {
      const isLeaf = i === 0;
      const isRoot = i === ders.length - 1;
      await step(emit, 'ips.add-next-cert-in-chain', async () => {
        const r = await client.invoke(client.ips.HostBasedSetupService.AddNextCertInChain(ders[i]!.toString('base64'), isLeaf, isRoot), 'AddNextCertInChain');
        expectZero('AddNextCertInChain', r.returnValue);
      }, () => ({ index: i, isLeaf, isRoot, subject: new X509Certificate(ders[i]!).subject.replace(/\n/g, ', ') }));
    }
    const mcNonce = random(20);
    const signature = signAdminSetupNonces(nonce, mcNonce, a.chain.keyPem);
    await step(emit, 'ips.admin-setup', async () => {
      const r = await client.invoke(
        client.ips.HostBasedSetupService.AdminSetup(2, adminHash, mcNonce.toString('base64'), 2, signature.toString('base64')),
        'AdminSetup',
      );
      expectZero('AdminSetup', r.returnValue);
    }, () => ({ signingAlgorithm: 'RSA_SHA-2_256' }));
    return { mode: 'acm', digestRealm: realm };
  } finally {
    client.close();
  }
}
