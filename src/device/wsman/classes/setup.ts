/**
 * AMT_SetupAndConfigurationService (reference §1.3 step 5, §1.4, §5.5, §5.6).
 * CommitChanges ends PKI remote configuration (In → Post/ACM) and applies pending TLS settings;
 * return maps from GWM `setupandconfiguration/types.go`:
 *   CommitChanges {0 SUCCESS, 1 INTERNAL_ERROR, 38 FLASH_WRITE_LIMIT_EXCEEDED, 2057 DATA_MISSING}
 *   SetMEBxPassword {0, 1, 16 NOT_PERMITTED, 2054 INVALID_PASSWORD}
 *   Unprovision {0, 1, 16, 36 INVALID_PARAMETER, 2076 BLOCKING_COMPONENT}; PartialUnprovision {0, 1, 16, 2076}
 */
import { isAmtError } from '../../../common/errors.js';
import { PROVISIONING_STATE_NUMBER } from '../../../nvram/image.js';
import type { RemoteSetupSession } from '../../device.js';
import { uuidToGuidBytes } from '../../hello.js';
import { instance, param, type MethodResult, type WsmanClass, type WsmanContext } from '../types.js';

const NAME = 'Intel(r) AMT Setup and Configuration Service';

function current(ctx: WsmanContext) {
  const d = ctx.device;
  const img = d.nvram;
  const otp = img.setup.otp ? Buffer.from(img.setup.otp, 'hex') : Buffer.alloc(8);
  return instance('AMT_SetupAndConfigurationService', {
    CreationClassName: 'AMT_SetupAndConfigurationService',
    ElementName: NAME,
    EnabledState: 5,
    Name: NAME,
    PasswordModel: 1,
    // Reference §0: "Starting from Release 7.0, this enumeration indicates whether AMT is deployed in
    // Admin control mode or Client control mode" (GWM: 1 AdminControlMode, 4 ClientControlMode; the
    // ACM fixture shows 1). Before 7.0 it was the setup mode: 1 Enterprise, 2 Small Business.
    ProvisioningMode: d.profile.amtMajor >= 7 ? (img.provisioning.controlMode === 'CCM' ? 4 : 1) : img.provisioning.mode === 'SMB' ? 2 : 1,
    ProvisioningServerOTP: otp.toString('base64'),
    ProvisioningState: PROVISIONING_STATE_NUMBER[img.provisioning.state],
    RequestedState: 12,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
    ZeroTouchConfigurationEnabled: img.provisioning.zeroTouchEnabled,
    ConfigurationServerFQDN: img.setup.provisioningServer.fqdn ?? undefined,
    DhcpDNSSuffix: d.lease?.domain ?? undefined,
    TrustedDNSSuffix: img.setup.pkiDnsSuffix || undefined,
  });
}

/** Apply TLS settings Put earlier (they wait for CommitChanges, reference §6.1). */
export function applyPendingTls(ctx: WsmanContext): boolean {
  const p = ctx.state.pendingTls;
  if (!p.remote && !p.local) return false;
  ctx.device.update((img) => {
    if (p.remote) img.tls.remote = p.remote;
    if (p.local) img.tls.local = p.local;
  });
  ctx.device.record('tls.settings-applied', { remote: p.remote ?? null, local: p.local ?? null });
  ctx.state.pendingTls = {};
  return true;
}

/** What the audit record keeps of the session that configured the device (§4.4). */
function sessionAudit(s: RemoteSetupSession) {
  return {
    ...(s.provServerFqdn ? { provServerFqdn: s.provServerFqdn } : {}),
    ...(s.certificateCn ? { certificateCn: s.certificateCn } : {}),
    ...(s.selectedHash ? { selectedHashType: s.selectedHash.algorithm, selectedHash: s.selectedHash.hash, hashIsOemDefault: s.selectedHash.isDefault } : {}),
    ...(s.caSerials ? { caCertificateSerials: s.caSerials } : {}),
    ...(s.additionalCaSerialNums !== undefined ? { additionalCaSerialNums: s.additionalCaSerialNums } : {}),
    ...(s.secureDns !== undefined ? { secureDns: s.secureDns } : {}),
  };
}

function commitChanges(ctx: WsmanContext): MethodResult {
  const d = ctx.device;
  if (d.state === 'In') {
    const s = d.remoteSession;
    if (ctx.account !== 'pki' || !s) {
      d.record('wsman.commit-refused', { reason: 'no authenticated remote-configuration session' }, 'NOT_PERMITTED');
      return { returnValue: 1 };
    }
    // rpc-go: CommitChanges returns 2057 PT_STATUS_DATA_MISSING without a MEBx password (§5.4).
    if (!d.nvram.mebx.passwordChanged) return { returnValue: 2057 };
    if (s.method === 'hostBasedTls') return commitHostBasedTls(ctx, s);
    applyPendingTls(ctx);
    d.completeRemoteConfiguration({
      kind: s.method === 'psk' ? 'psk' : 'pki',
      provServerIp: ctx.conn.peerAddress,
      hostInitiated: ctx.conn.origin === 'local',
      ...sessionAudit(s),
    });
    return { returnValue: 0 };
  }
  applyPendingTls(ctx);
  return { returnValue: 0 };
}

/**
 * Secure host-based ACM ends here (reference §5.4, rpc-go activateACMWithTLS: GeneralSettings →
 * SetAdminAclEntryEx → SetMEBxPassword → CommitChanges). choice: an admin ACL still at its
 * default is DATA_MISSING (2057) like a missing MEBx password — no source says what firmware
 * answers, and an ACM device without an admin password could not be managed. Audit record:
 * kind hostBasedACM (IPS_AdminProvisioningRecord, records.ts) with HostInitiated and the chain
 * data PKI-CH selected — the host-based ACM record; no source names a separate one for TLS.
 */
function commitHostBasedTls(ctx: WsmanContext, s: RemoteSetupSession): MethodResult {
  const d = ctx.device;
  if (!d.nvram.adminAcl.digestHash) {
    d.record('wsman.commit-refused', { reason: 'admin ACL not set (SetAdminAclEntryEx first)' }, 'DATA_MISSING');
    return { returnValue: 2057 };
  }
  applyPendingTls(ctx);
  // §5.4: "CommitChanges is the step where the firmware restarts the AMT/LMS local port stack …
  // tears down the LMS relay connection while the HTTP response is still in flight": rpc-go then
  // reads the control mode over HECI. The commit itself is done; only the answer is lost.
  ctx.conn.dropAfter = 'CommitChanges restarts the local port stack';
  d.completeHostBasedTlsSetup({
    provServerIp: ctx.conn.peerAddress,
    ...sessionAudit(s),
  });
  return { returnValue: 0 };
}

/** AMT strong-password rule: 8–32 chars with upper, lower, digit and a non-alphanumeric (MEBx/SDK). */
export function isStrongPassword(p: string): boolean {
  return p.length >= 8 && p.length <= 32 && /[a-z]/.test(p) && /[A-Z]/.test(p) && /[0-9]/.test(p) && /[^A-Za-z0-9]/.test(p) && !/[:,"]/.test(p);
}

function unprovision(ctx: WsmanContext, kind: 'partial' | 'full'): MethodResult {
  const d = ctx.device;
  if (ctx.account === 'lsa') return { returnValue: 16 };
  try {
    d.unprovision(kind);
    ctx.state.certChain.reset();
    ctx.state.pendingTls = {};
    return { returnValue: 0 };
  } catch (e) {
    if (isAmtError(e)) return { returnValue: 16 };
    throw e;
  }
}

export const setupAndConfigurationService: WsmanClass = {
  className: 'AMT_SetupAndConfigurationService',
  get: (ctx) => current(ctx),
  enumerate: (ctx) => [current(ctx)],
  methods: {
    CommitChanges: (ctx) => commitChanges(ctx),
    Unprovision: (ctx, input) => {
      const mode = param(input, 'ProvisioningMode') ?? '1';
      // Clients send 1 (GWM service.go); 0 is accepted as "current mode".
      if (mode !== '1' && mode !== '0') return { returnValue: 36 };
      return unprovision(ctx, 'full');
    },
    PartialUnprovision: (ctx) => unprovision(ctx, 'partial'),
    SetMEBxPassword: (ctx, input) => {
      const d = ctx.device;
      const pw = param(input, 'Password') ?? '';
      if (d.state === 'Pre') return { returnValue: 16 };
      if (d.state === 'In' && ctx.account !== 'pki') return { returnValue: 16 };
      if (!isStrongPassword(pw)) return { returnValue: 2054 };
      d.setMebxPassword(pw, 'wsman');
      return { returnValue: 0 };
    },
    GetUuid: (ctx) => ({ returnValue: 0, out: { UUID: uuidToGuidBytes(ctx.device.nvram.uuid).toString('base64') } }),
    ExtendProvisioningPeriod: (ctx, input) => {
      const hours = Number(param(input, 'Duration') ?? '');
      const r = ctx.device.host.extendProvisioningPeriod(hours, 'wsman');
      return { returnValue: r.status === 0 ? 0 : r.status === 36 ? 36 : 16 };
    },
    GetUnprovisionBlockingComponents: () => ({ returnValue: 0, out: { UnprovisionBlockingComponents: [] } }),
  },
};
