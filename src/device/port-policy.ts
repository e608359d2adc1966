/**
 * Which of the device's ports answer, and to whom (reference §6.1): by power, provisioning
 * state, the configuration window, the firmware profile's plain/TLS rules and environment
 * detection. Local = the host OS (LMS) on the device's own address; remote = anyone else.
 */
import type { NvramImage, ProvisioningState } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';

export type Origin = 'local' | 'remote';

/** What the rules look at: a read-only view of the device. */
export interface PortView {
  powered: boolean;
  state: ProvisioningState;
  profile: FirmwareProfile;
  image: Readonly<NvramImage>;
  /** Environment detection found the PC outside its home domains (seed 004). */
  outsideHome: boolean;
  windowOpen: boolean;
}

export function portAnswers(d: PortView, port: number, origin: Origin): boolean {
  if (!d.powered) return false;
  const p = d.profile.network;
  const state = d.state;
  const plainOk = origin === 'local' ? !p.tlsEnforcedLocal : p.nonTlsRemotePorts;
  if (origin === 'local') {
    if (port === 16992) return plainOk;
    if (port === 16993) return true;
    if (port === 16994) return state === 'Post' && plainOk;
    if (port === 16995) return state === 'Post';
    return false;
  }
  // Seed 004: outside the home domains the network interface is closed to remote peers.
  if (d.outsideHome) return false;
  if (state === 'Post') {
    const remoteTls = d.image.tls.remote;
    const nonSecureAllowed = !remoteTls.enabled || remoteTls.acceptNonSecureConnections;
    if (port === 16992 || port === 16994 || port === 623) return plainOk && nonSecureAllowed;
    return port === 16993 || port === 16995;
  }
  if (state === 'In' && d.windowOpen && !d.image.provisioning.window.hostBased) {
    // The SCA's mutual-TLS session (PKI) or, for TLS-PSK and SMB, the plain port.
    if (port === 16993) return true;
    if (port === 16992) return d.image.provisioning.mode === 'SMB' || Boolean(d.image.setup.pid);
  }
  // RMCP presence pong answers before provisioning too: amtscanner reads Pre/In/Post from it (§6.4).
  if (port === 623) return plainOk;
  return false;
}
