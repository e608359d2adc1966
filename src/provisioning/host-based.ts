/**
 * Host-based activation over the device's local WS-Man port the way RPS drives it through the
 * OS agent (reference §5.2): LSA digest account on 16992, GeneralSettings Get for the realm, then
 * CCM `Setup(2, md5hex)` or ACM `HostBasedSetupService` Get (nonce) → AddNextCertInChain leaf…root
 * → `AdminSetup` with McNonce and an RSA-SHA256 signature over ConfigurationNonce‖McNonce (§5.3).
 *
 * Mode `acm-tls` is secure host-based ("Local-PKI") ACM, the only ACM path on CSME 19 (§5.4,
 * rpc-go `activateACMWithTLS`, MeshCentral `activateIntelAmtTlsAcm*`): the OS agent sends PTHI
 * CFG_StartConfigurationHBased with the hash of the provisioning leaf and gets the device's
 * AMTCertHash; the server opens mutual TLS to the local 16993 with the provisioning chain as
 * client certificate, pins the device leaf to AMTCertHash (MeshCentral), then GeneralSettings Get
 * → AMT_AuthorizationService.SetAdminAclEntryEx('admin', base64 MD5 raw) → SetMEBxPassword →
 * CommitChanges. On a failure after the PTHI command, the agent's CFG_StopConfiguration returns
 * the device to Pre (rpc-go).
 */
import { createHash, randomBytes, sign, X509Certificate } from 'node:crypto';
import { pemToDerList } from '../pki/hashes.js';
import { digestHa1 } from './digest.js';
import { expectZero, ProvisioningStepError, step, type StepEmitter } from './steps.js';
import { WsmanClient, xmlEscape } from './wsman-client.js';
import { WsmanError } from './wsman-xml.js';

/**
 * The host (PTHI) side of secure host-based ACM: what the OS agent does on the PC. The device's
 * HostInterface (src/device/host-interface.ts) has this shape; a real agent would speak MEI.
 */
export interface HostBasedTlsAgent {
  startConfigurationHBased(req: { serverHashAlgorithm: number; serverCertHash: Buffer; hostVpnEnable: boolean; dnsSuffixList: string[] }):
    Promise<{ status: number; value?: { hashAlgorithm: number; amtCertHash: Buffer } }>;
  stopConfiguration(): { status: number };
  getControlMode?(): { status: number; value?: number };
}

export interface HostBasedActivation {
  address: string;
  /** Default 16992 (the LMS plain port); 16993 for acm-tls. */
  port?: number;
  /** The Local System Account from CFG_GetLocalSystemAccount (`$$OsAdmin`). */
  lsa: { username: string; password: string };
  /** acm-tls: secure host-based ACM over the local 16993 (reference §5.4). */
  mode: 'ccm' | 'acm' | 'acm-tls';
  adminPassword: string;
  /** acm-tls: the PTHI side (StartConfigurationHBased / StopConfiguration). */
  agent?: HostBasedTlsAgent;
  /** acm-tls: MEBx password to set; default the admin password (rpc-go does the same). */
  mebxPassword?: string;
  /** acm-tls: 2 SHA-256 (default) or 3 SHA-384 for the server leaf hash. */
  serverHashAlgorithm?: 2 | 3;
  /** acm-tls: the host's DNS suffixes (NetworkDnsSuffixList) and HostVPNEnable. */
  dnsSuffixList?: string[];
  hostVpnEnable?: boolean;
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
  mode: 'ccm' | 'acm' | 'acm-tls';
  digestRealm: string;
  /** ACM: the control mode the device already had, when it was already ACM. */
  alreadyAcm?: boolean;
}

/** Message signed for AdminSetup: ConfigurationNonce (device) ‖ McNonce (client), RSA PKCS#1 v1.5 SHA-256 (§5.3). */
export function signAdminSetupNonces(configurationNonce: Buffer, mcNonce: Buffer, keyPem: string): Buffer {
  return sign('sha256', Buffer.concat([configurationNonce, mcNonce]), keyPem);
}

export async function activateHostBased(a: HostBasedActivation, emit: StepEmitter): Promise<HostBasedResult> {
  if (a.mode === 'acm-tls') return activateAcmWithTls(a, emit);
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

/** Secure host-based ACM (reference §5.4); see the file header. */
async function activateAcmWithTls(a: HostBasedActivation, emit: StepEmitter): Promise<HostBasedResult> {
  const agent = a.agent;
  if (!agent) throw new ProvisioningStepError('pthi.start-configuration-hbased', 'BAD_INPUT', 'TLS host-based ACM needs the OS agent (PTHI) side');
  if (!a.chain) throw new ProvisioningStepError('pthi.start-configuration-hbased', 'BAD_INPUT', 'TLS host-based ACM needs a provisioning chain');
  const ders = pemToDerList(a.chain.chainPem, 'provisioning chain');
  const leaf = ders[0];
  if (!leaf) throw new ProvisioningStepError('pthi.start-configuration-hbased', 'BAD_INPUT', 'the provisioning chain has no certificate');
  const algorithm = a.serverHashAlgorithm ?? 2;
  const nodeAlg = algorithm === 3 ? 'sha384' : 'sha256';
  const serverCertHash = createHash(nodeAlg).update(leaf).digest();
  const request = { serverHashAlgorithm: algorithm, serverCertHash, hostVpnEnable: a.hostVpnEnable ?? false, dnsSuffixList: a.dnsSuffixList ?? [] };

  // PTHI: StartConfigurationHBased. A device left in setup (In) answers INVALID_AMT_MODE (3):
  // StopConfiguration first, then once more (MeshCentral runs stopConfiguration before it).
  const started = await step(emit, 'pthi.start-configuration-hbased', async () => {
    let r = await agent.startConfigurationHBased(request);
    if (r.status === 3 && agent.stopConfiguration().status === 0) r = await agent.startConfigurationHBased(request);
    if (r.status !== 0 || !r.value) throw new ProvisioningStepError('pthi.start-configuration-hbased', 'PTHI_STATUS', `StartConfigurationHBased returned status ${r.status}`, { status: r.status });
    return r.value;
  }, (v) => ({ serverHashAlgorithm: algorithm, serverCertHash: serverCertHash.toString('hex'), amtCertHash: v.amtCertHash.toString('hex') }));

  const client = new WsmanClient({
    host: a.address,
    port: a.port ?? 16993,
    // The mutual-TLS session is authorised by the client chain (reference §1.3 step 4); the LSA is
    // only answered if the device asks for a digest.
    username: a.lsa.username,
    password: a.lsa.password,
    tls: { certPem: a.chain.chainPem, keyPem: a.chain.keyPem, minVersion: 'TLSv1.2', pinLeaf: { algorithm: nodeAlg, hash: started.amtCertHash.toString('hex') } },
    ...(a.timeoutMs ? { timeoutMs: a.timeoutMs } : {}),
    ...(a.localAddress ? { localAddress: a.localAddress } : {}),
  });
  let committed = false;
  try {
    const general = await step(emit, 'wsman.get-general-settings', () => client.get(client.amt.GeneralSettings.Get(), 'AMT_GeneralSettings'), (g) => ({ digestRealm: g.DigestRealm }));
    const realm = general.DigestRealm;
    if (!realm) throw new ProvisioningStepError('wsman.get-general-settings', 'WSMAN_BAD_RESPONSE', 'AMT_GeneralSettings has no DigestRealm');
    // rpc-go: base64 of the raw MD5(admin:realm:password).
    const digestB64 = Buffer.from(digestHa1('admin', realm, a.adminPassword), 'hex').toString('base64');
    await step(emit, 'wsman.set-admin-acl', async () => {
      const r = await client.invoke(client.amt.AuthorizationService.SetAdminACLEntryEx('admin', digestB64), 'SetAdminAclEntryEx');
      expectZero('SetAdminAclEntryEx', r.returnValue);
    }, () => ({ username: 'admin' }));
    await step(emit, 'wsman.set-mebx-password', async () => {
      const r = await client.invoke(client.amt.SetupAndConfigurationService.SetMEBXPassword(xmlEscape(a.mebxPassword ?? a.adminPassword)), 'SetMEBxPassword');
      expectZero('SetMEBxPassword', r.returnValue);
    });
    await step(emit, 'wsman.commit-changes', async () => {
      let r;
      try {
        // Never re-sent: the firmware drops the connection as it commits (§5.4), and the answer
        // is then read over the host interface below, as rpc-go's commitActivation does.
        r = await client.invoke(client.amt.SetupAndConfigurationService.CommitChanges(), 'CommitChanges', { retryOnClose: false });
      } catch (e) {
        if (e instanceof WsmanError && e.code === 'WSMAN_CLOSED') return { connectionDropped: true };
        throw e;
      }
      // 2057 PT_STATUS_DATA_MISSING: no MEBx password (rpc-go), §5.4.
      if (r.returnValue === 2057) throw new ProvisioningStepError('CommitChanges', 'DATA_MISSING', 'CommitChanges returned 2057 DATA_MISSING', { returnValue: 2057 });
      expectZero('CommitChanges', r.returnValue);
      return { connectionDropped: false };
    }, (c) => c);
    committed = true;
    // rpc-go re-reads the control mode over HECI after the commit (the commit may drop the connection).
    if (agent.getControlMode) {
      const cm = agent.getControlMode();
      emit('pthi.get-control-mode', cm.status === 0 && cm.value === 2, { status: cm.status, controlMode: cm.value }, cm.status === 0 && cm.value === 2 ? undefined : 'NOT_ACM');
      if (cm.status !== 0 || cm.value !== 2) throw new ProvisioningStepError('pthi.get-control-mode', 'NOT_ACM', `control mode after CommitChanges is ${String(cm.value)}, not 2 (ACM)`);
    }
    return { mode: 'acm-tls', digestRealm: realm };
  } catch (e) {
    // rpc-go: on an irrecoverable failure, CFG_StopConfiguration returns the device to Pre.
    if (!committed) {
      const st = agent.stopConfiguration();
      emit('pthi.stop-configuration', st.status === 0, { status: st.status });
    }
    throw e;
  } finally {
    client.close();
  }
}
