/**
 * PKI remote configuration over the mutual-TLS WS-Man session, step by step as MeshCentral's
 * bare-metal flow does it (reference §1.3 step 5; Intel's order in §1.4: SetMEBxPassword before
 * CommitChanges). No AdminSetup: in PKI remote configuration CommitChanges ends In-provisioning.
 */
import type { Clock } from '../clock/clock.js';
import { digestHa1 } from './digest.js';
import { expectZero, ProvisioningStepError, step, type StepEmitter } from './steps.js';
import { configureDeviceTls, type TlsCa } from './tls-setup.js';
import { xmlEscape, type WsmanClient } from './wsman-client.js';
import { text } from './wsman-xml.js';

export interface RemoteConfigProfile {
  name: string;
  adminPassword: string;
  mebxPassword: string;
  tls: boolean;
}

export interface RemoteConfigResult {
  digestRealm: string;
  amtVersion?: string;
  provisioningState?: string;
}

/** MeshCentral waits 5 s after CommitChanges before treating the device as ACM (the server does that wait on its Clock). */
export const COMMIT_SETTLE_MS = 5000;
/** Set the device clock when it is this far off (MeshCentral attemptSyncClock). */
export const CLOCK_SKEW_LIMIT_S = 10;

/** RPS `isDigestRealmValid`: "Digest:" followed by 32 hex characters (reference §5.2 step 3). */
export function isDigestRealmValid(realm: string): boolean {
  return /^Digest:[0-9A-Fa-f]{32}$/.test(realm);
}

export async function runRemoteConfiguration(
  client: WsmanClient,
  profile: RemoteConfigProfile,
  opts: { clock: Clock; tlsCa?: TlsCa; track: <T>(p: Promise<T>) => Promise<T> },
  emit: StepEmitter,
): Promise<RemoteConfigResult> {
  const io = opts.track;
  const general = await step(emit, 'wsman.get-general-settings', () => io(client.get(client.amt.GeneralSettings.Get(), 'AMT_GeneralSettings')),
    (g) => ({ digestRealm: g.DigestRealm, hostName: g.HostName }));
  const realm = general.DigestRealm;
  if (!realm) {
    emit('wsman.digest-realm', false, { reason: 'AMT_GeneralSettings has no DigestRealm' }, 'WSMAN_BAD_RESPONSE');
    throw new ProvisioningStepError('wsman.digest-realm', 'WSMAN_BAD_RESPONSE', 'AMT_GeneralSettings has no DigestRealm');
  }
  const identities = await step(emit, 'wsman.enum-software-identity', () =>
    io(client.enumerate(client.cim.SoftwareIdentity.Enumerate(), (c) => client.cim.SoftwareIdentity.Pull(c), 'CIM_SoftwareIdentity')),
    (v) => ({ count: v.length }));
  const amtVersion = identities.find((i) => i.InstanceID === 'AMT')?.VersionString
    ?? client.serverHeader?.replace(/^Intel\(R\) Active Management Technology /, '');
  const setup = await step(emit, 'wsman.get-setup-and-configuration', () =>
    io(client.get(client.amt.SetupAndConfigurationService.Get(), 'AMT_SetupAndConfigurationService')),
    (s) => ({ provisioningState: s.ProvisioningState, amtVersion }));

  await step(emit, 'wsman.set-mebx-password', async () => {
    const r = await io(client.invoke(client.amt.SetupAndConfigurationService.SetMEBXPassword(xmlEscape(profile.mebxPassword)), 'SetMEBxPassword'));
    expectZero('SetMEBxPassword', r.returnValue);
  });
  await step(emit, 'wsman.set-admin-acl', async () => {
    const r = await io(client.invoke(client.amt.AuthorizationService.SetAdminACLEntryEx('admin', digestHa1('admin', realm, profile.adminPassword)), 'SetAdminAclEntryEx'));
    expectZero('SetAdminAclEntryEx', r.returnValue);
  }, () => ({ username: 'admin' }));

  // Clock: GetLowAccuracyTimeSynch → Ta0; set it when more than 10 s off (MeshCentral).
  const ta0 = await step(emit, 'wsman.get-time', async () => {
    const r = await io(client.invoke(client.amt.TimeSynchronizationService.GetLowAccuracyTimeSynch(), 'GetLowAccuracyTimeSynch'));
    expectZero('GetLowAccuracyTimeSynch', r.returnValue);
    return Number(text(r.output.Ta0));
  }, (v) => ({ ta0: v }));
  const tm1 = Math.floor(opts.clock.date().getTime() / 1000);
  if (!Number.isFinite(ta0) || Math.abs(tm1 - ta0) > CLOCK_SKEW_LIMIT_S) {
    await step(emit, 'wsman.set-time', async () => {
      const tm = Math.floor(opts.clock.date().getTime() / 1000);
      const r = await io(client.invoke(client.amt.TimeSynchronizationService.SetHighAccuracyTimeSynch(Number.isFinite(ta0) ? ta0 : 0, tm, tm), 'SetHighAccuracyTimeSynch'));
      expectZero('SetHighAccuracyTimeSynch', r.returnValue);
    }, () => ({ skewSeconds: Number.isFinite(ta0) ? tm1 - ta0 : null }));
  }

  if (profile.tls) {
    if (!opts.tlsCa) {
      emit('tls.setup', false, { reason: 'profile wants TLS but the server has no tlsCa' }, 'TLS_CA_MISSING');
      throw new ProvisioningStepError('tls.setup', 'TLS_CA_MISSING', 'profile wants TLS but the server has no tlsCa');
    }
    const ca = opts.tlsCa;
    await io(configureDeviceTls(client, ca, opts.clock.date(), emit));
  }

  await step(emit, 'wsman.commit-changes', async () => {
    const r = await io(client.invoke(client.amt.SetupAndConfigurationService.CommitChanges(), 'CommitChanges'));
    expectZero('CommitChanges', r.returnValue);
  });
  client.close();
  const out: RemoteConfigResult = { digestRealm: realm };
  if (amtVersion) out.amtVersion = amtVersion;
  if (setup.ProvisioningState) out.provisioningState = setup.ProvisioningState;
  return out;
}
