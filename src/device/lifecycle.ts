/**
 * The provisioning lifecycle as data: which moves between factory (Pre), setup (In) and
 * configured (Post) are legal, and what each unprovision keeps. Illegal moves are coded
 * errors, never silent no-ops (issue 3 item 6; reference §0, §5.5).
 */
import { AmtError } from '../common/errors.js';
import type { ControlMode, NvramImage, ProvisioningState } from '../nvram/image.js';

export type LifecycleReason =
  | 'mebxPassword'
  | 'pidPps'
  | 'usbSetup'
  | 'startConfiguration'
  | 'stopConfiguration'
  | 'startConfigurationHBased'
  | 'remoteConfiguration'
  | 'hostBasedCCM'
  | 'hostBasedACM'
  | 'upgradeToAdmin'
  | 'partialUnprovision'
  | 'fullUnprovision'
  | 'manualSetup';

/** Legal (from → to) moves per reason. A reason not listed for the current state is illegal. */
const LEGAL: Record<LifecycleReason, Array<[ProvisioningState, ProvisioningState]>> = {
  mebxPassword: [['Pre', 'In']],
  pidPps: [['Pre', 'In']],
  usbSetup: [['Pre', 'In'], ['Pre', 'Post']],
  startConfiguration: [['Pre', 'In'], ['In', 'In']],
  stopConfiguration: [['In', 'Pre']],
  startConfigurationHBased: [['Pre', 'In']],
  remoteConfiguration: [['In', 'Post']],
  // Host-based setup runs from Pre (RPS/MeshCentral) or from In after StartConfigurationHBased.
  hostBasedCCM: [['Pre', 'Post'], ['In', 'Post']],
  hostBasedACM: [['Pre', 'Post'], ['In', 'Post']],
  upgradeToAdmin: [['Post', 'Post']],
  partialUnprovision: [['Post', 'In'], ['In', 'In']],
  fullUnprovision: [['Post', 'Pre'], ['In', 'Pre']],
  manualSetup: [['Pre', 'Post'], ['In', 'Post']],
};

export function checkTransition(from: ProvisioningState, to: ProvisioningState, reason: LifecycleReason): void {
  if (!LEGAL[reason].some(([f, t]) => f === from && t === to)) {
    throw new AmtError('ILLEGAL_TRANSITION', `${reason} cannot move a device from ${stateName(from)} to ${stateName(to)}`, { from, to, reason });
  }
}

/** The states a reason may start from (for error messages and the API). */
export function allowedFrom(reason: LifecycleReason): ProvisioningState[] {
  return [...new Set(LEGAL[reason].map(([f]) => f))];
}

export function stateName(s: ProvisioningState): string {
  return s === 'Pre' ? 'factory (Pre)' : s === 'In' ? 'setup (In)' : 'configured (Post)';
}

/** What a provisioning profile is: cleared by both unprovisions (reference §5.5). */
function clearProfile(img: NvramImage, controlMode: ControlMode): void {
  img.provisioning.controlMode = controlMode;
  img.tls.remote = { enabled: false, mutualAuthentication: false, acceptNonSecureConnections: true, trustedCn: [] };
  img.tls.local = { enabled: false, mutualAuthentication: false, acceptNonSecureConnections: true, trustedCn: [] };
  img.tls.keyPairs = [];
  img.tls.certificates = [];
  delete img.tls.credentialContext;
  delete img.setup.otp;
  // Redirection enablement and the consent policy belong to the configuration (docs/reference-user-consent.md §5).
  delete img.redirection;
  delete img.userConsent;
}

/**
 * PartialUnprovision keeps "Admin ACL settings (name and password), TLS-PSK keys, Host name,
 * Provisioning server IP and port number, Domain name" (LMS header via reference §5.5), and the
 * hash table (issue 3). It reopens the 6-hour window (HP), which the device does after this.
 */
export function applyPartialUnprovision(img: NvramImage): void {
  clearProfile(img, 'none');
  img.provisioning.state = 'In';
}

/**
 * Full unprovision returns to factory: credentials cleared, custom hashes removed and default
 * hashes restored, MEBx password back to 'admin'. The device identity (UUID, MACs, firmware),
 * the one-time bare-metal window flag (Altiris: later starts open only 6 h) and the last audit
 * record stay.
 */
export function applyFullUnprovision(img: NvramImage, factory: NvramImage): void {
  const keep = {
    deviceId: img.deviceId,
    uuid: img.uuid,
    firmware: img.firmware,
    macs: img.macs,
    wiredLan: img.network.wiredLan,
    bareMetalUsed: img.provisioning.window.bareMetalUsed,
    auditRecord: img.auditRecord,
    generation: img.generation,
    remoteConfigTimerHours: img.provisioning.remoteConfigTimerHours,
  };
  Object.assign(img, structuredClone(factory));
  if (!factory.redirection) delete img.redirection; // Object.assign keeps keys the factory image lacks
  if (!factory.userConsent) delete img.userConsent;
  img.deviceId = keep.deviceId;
  img.uuid = keep.uuid;
  img.firmware = keep.firmware;
  img.macs = keep.macs;
  img.network.wiredLan = keep.wiredLan;
  img.provisioning.window.bareMetalUsed = keep.bareMetalUsed;
  img.provisioning.remoteConfigTimerHours = keep.remoteConfigTimerHours;
  img.auditRecord = keep.auditRecord;
  img.generation = keep.generation;
}
