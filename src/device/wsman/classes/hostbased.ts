/**
 * IPS_HostBasedSetupService (reference §5.2–§5.4, §5.6): host-based CCM (Setup), ACM with a
 * signed nonce (AddNextCertInChain… + AdminSetup), and UpgradeClientToAdmin.
 * Return values (GWM `ips/hostbasedsetup/decoder.go`): 0 Success, 1 InternalError,
 * 2 InvalidState, 3 InvalidParam, 4 MethodDisabled, 5 AuthFailed, 6 FlashWriteLimitExceeded.
 */
import { CONTROL_MODE_NUMBER } from '../../../nvram/image.js';
import { verifyAdminSetupSignature } from '../../../pki/signature.js';
import { Faults } from '../faults.js';
import { instance, boolText, param, type MethodInput, type MethodResult, type WsmanClass, type WsmanContext } from '../types.js';
import { normalizeDigestHash } from './authorization.js';

const NAME = 'Intel(r) AMT Host Based Setup Service';
const RV = { Success: 0, InternalError: 1, InvalidState: 2, InvalidParam: 3, MethodDisabled: 4, AuthFailed: 5 } as const;

function current(ctx: WsmanContext) {
  const img = ctx.device.nvram;
  return instance('IPS_HostBasedSetupService', {
    // §5.6: AllowedControlModes 2 then 1.
    AllowedControlModes: img.provisioning.state === 'Post' && img.provisioning.controlMode === 'CCM' ? [2] : img.provisioning.state === 'Post' ? [] : [2, 1],
    CertChainStatus: ctx.state.certChain.status,
    ConfigurationNonce: img.configurationNonce,
    CreationClassName: 'IPS_HostBasedSetupService',
    CurrentControlMode: CONTROL_MODE_NUMBER[img.provisioning.controlMode],
    ElementName: NAME,
    EnabledState: 5,
    Name: NAME,
    RequestedState: 12,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
  });
}

function setupAllowed(ctx: WsmanContext): boolean {
  const d = ctx.device;
  if (d.controlMode !== 'none' || d.state === 'Post') return false;
  // From Pre (RPS/MeshCentral) or from In after StartConfigurationHBased (lifecycle.ts).
  return d.state === 'Pre' || d.nvram.provisioning.window.hostBased === true;
}

function readPassword(input: MethodInput): string | undefined {
  if (param(input, 'NetAdminPassEncryptionType') !== '2') return undefined; // 2 = HTTP Digest MD5(A1), §5.3
  return normalizeDigestHash(param(input, 'NetworkAdminPassword') ?? '');
}

/** The signed nonce check shared by AdminSetup and UpgradeClientToAdmin (§5.3). */
function checkSignedNonce(ctx: WsmanContext, input: MethodInput): MethodResult | undefined {
  const chain = ctx.state.certChain;
  const leaf = chain.leafDer;
  if (!leaf || !chain.info) return { returnValue: RV.InvalidState };
  const mc = Buffer.from(param(input, 'McNonce') ?? '', 'base64');
  const ok = verifyAdminSetupSignature({
    leafDer: leaf,
    configurationNonce: Buffer.from(ctx.device.nvram.configurationNonce, 'base64'),
    mcNonce: mc,
    signatureB64: param(input, 'DigitalSignature') ?? '',
    signingAlgorithm: Number(param(input, 'SigningAlgorithm') ?? '0'),
  });
  if (!ok) {
    ctx.device.record('hostbased.signature-rejected', { leafCn: chain.info.leafCn }, 'BAD_SIGNATURE');
    return { returnValue: RV.AuthFailed };
  }
  return undefined;
}

function auditFromChain(ctx: WsmanContext) {
  const info = ctx.state.certChain.info;
  if (!info) return {};
  return {
    certificateCn: info.leafCn,
    provServerFqdn: info.matchedIdentifier,
    selectedHashType: info.selectedHash.algorithm,
    selectedHash: info.selectedHash.hash,
    hashIsOemDefault: info.selectedHash.isDefault,
    caCertificateSerials: info.caSerials,
    additionalCaSerialNums: info.additionalCaSerialNums,
    secureDns: info.secureDns,
    isTimeValid: info.isTimeValid,
  };
}

export const hostBasedSetupService: WsmanClass = {
  className: 'IPS_HostBasedSetupService',
  get: (ctx) => current(ctx),
  enumerate: (ctx) => [current(ctx)],
  methods: {
    Setup: (ctx, input) => {
      const d = ctx.device;
      if (!d.profile.setup.hostBased) return { returnValue: RV.MethodDisabled };
      if (!setupAllowed(ctx)) return { returnValue: RV.InvalidState };
      const hash = readPassword(input);
      if (!hash) return { returnValue: RV.InvalidParam };
      d.completeHostBasedSetup('CCM', hash, { provServerIp: ctx.conn.peerAddress });
      ctx.state.certChain.reset();
      return { returnValue: RV.Success };
    },
    AddNextCertInChain: (ctx, input) => {
      const d = ctx.device;
      if (!d.profile.setup.hostBased) return { returnValue: 2 }; // AddNextCertInChain: 2 InternalError
      if (d.controlMode === 'ACM') return { returnValue: 3 }; // 3 InvalidState
      const b64 = (param(input, 'NextCertificate') ?? '').replace(/\s+/g, '');
      const isLeaf = boolText(param(input, 'IsLeafCertificate'));
      const isRoot = boolText(param(input, 'IsRootCertificate'));
      if (!b64 || isLeaf === undefined || isRoot === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { returnValue: 1 };
      const lease = d.lease;
      const r = ctx.state.certChain.add(Buffer.from(b64, 'base64'), isLeaf, isRoot, {
        hashes: d.nvram.certHashes,
        profile: d.profile,
        now: d.clock.date(),
        pkiDnsSuffix: d.nvram.setup.pkiDnsSuffix,
        ...(lease?.domain ? { dhcpDomain: lease.domain } : {}),
      });
      if (r.code) d.record('hostbased.chain-rejected', { message: r.message, returnValue: r.returnValue }, r.code);
      else if (r.info) d.record('hostbased.chain-accepted', { leafCn: r.info.leafCn, selectedHash: r.info.selectedHash.hash });
      return { returnValue: r.returnValue };
    },
    AdminSetup: (ctx, input) => {
      const d = ctx.device;
      // §5.3: AdminSetup is removed from CSME 19 (TLS-enforced) firmware.
      if (!d.profile.setup.hostBased || !d.profile.setup.hostBasedAdminSetup) return Faults.actionNotSupported('AdminSetup');
      if (!setupAllowed(ctx)) return { returnValue: RV.InvalidState };
      const hash = readPassword(input);
      if (!hash) return { returnValue: RV.InvalidParam };
      const bad = checkSignedNonce(ctx, input);
      if (bad) return bad;
      d.completeHostBasedSetup('ACM', hash, { ...auditFromChain(ctx), provServerIp: ctx.conn.peerAddress });
      ctx.state.certChain.reset();
      return { returnValue: RV.Success };
    },
    UpgradeClientToAdmin: (ctx, input) => {
      const d = ctx.device;
      if (d.state !== 'Post' || d.controlMode !== 'CCM') return { returnValue: RV.InvalidState };
      const bad = checkSignedNonce(ctx, input);
      if (bad) return bad;
      d.upgradeClientToAdmin();
      ctx.state.certChain.reset();
      return { returnValue: RV.Success };
    },
  },
};
