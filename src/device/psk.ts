/**
 * TLS-PSK remote configuration, device side (seed 001, seed 002 "PID/PPS"; reference §1.2 PSK
 * hello). The provisioning server opens TLS to 16993 with a pre-shared-key cipher suite; the PSK
 * identity is the PID and the key comes from the PPS. This module decides, without sockets,
 * whether an offered identity is accepted and records every decision on the timeline.
 *
 * Key derivation (choice, documented): ITJ 2008 v12i4 ("Pre-Shared Key Protocol: Detailed Flow")
 * says the PPS *is* the TLS-PSK shared secret and that PID (8) and PPS (32) are strings of A–Z and
 * 0–9; HP's setup guide adds that the SCS "uses the PPS and PID to generate the TLS Pre-Master
 * Secret", which is exactly what RFC 4279 does with a PSK. No source gives a further
 * transformation, so the key is the 32 ASCII bytes of the PPS as printed, dashes removed and
 * upper-cased (256 bits, a natural PSK length), and the identity is the 8 ASCII characters of
 * the PID without its dash. A real SCS that derives differently would fail the handshake with
 * PSK_MISMATCH, which is visible on the timeline.
 */
import type { AmtDevice, RemoteSetupSession } from './device.js';
import type { AmtErrorCode } from '../common/errors.js';

/** Cipher suites offered for TLS-PSK (RFC 4279 / 5487): CBC for TLS 1.0/1.1 firmware, GCM for 1.2. */
export const PSK_CIPHERS = 'PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:PSK-AES256-CBC-SHA:PSK-AES128-CBC-SHA';

/** Canonical PID/PPS text: dashes and spaces removed, upper case (how setup sheets are typed in). */
export function canonicalPskText(s: string): string {
  return s.replace(/[-\s]/g, '').toUpperCase();
}

/** The TLS-PSK key for a PPS (see the module comment for why it is the ASCII bytes). */
export function pskKeyFromPps(pps: string): Buffer {
  return Buffer.from(canonicalPskText(pps), 'ascii');
}

/** The TLS-PSK identity for a PID. */
export function pskIdentityFromPid(pid: string): string {
  return canonicalPskText(pid);
}

/** Why a device would refuse any TLS-PSK session right now (undefined: it may accept one). */
export function pskRefusal(device: AmtDevice): { code: AmtErrorCode; message: string } | undefined {
  const img = device.nvram;
  if (!device.profile.setup.tlsPsk) {
    // Reference §1.2: the PSK hello and TLS-PSK setup were removed in AMT 11.0.
    return { code: 'PSK_NOT_SUPPORTED', message: `TLS-PSK remote configuration does not exist on ${device.profile.id} (removed in AMT 11)` };
  }
  if (!img.network.wiredLan) {
    // Seed 001/004: remote configuration runs over the wired LAN only.
    return { code: 'REMOTE_CONFIG_NEEDS_WIRED_LAN', message: 'remote configuration needs the wired LAN; this platform has none' };
  }
  if (img.provisioning.mode === 'SMB') {
    return { code: 'SMB_NO_REMOTE_CONFIG', message: 'SMB mode has no remote configuration (seed 001)' };
  }
  if (!img.setup.pid || !img.setup.pps) return { code: 'PSK_MISMATCH', message: 'no PID/PPS in NVRAM' };
  return undefined;
}

/**
 * The server's PSK identity arrived in the TLS handshake: the key to use, or undefined (the
 * handshake then fails) with `pskch.rejected` recorded.
 */
export function pskKeyForIdentity(device: AmtDevice, identity: string, peerAddress: string): Buffer | undefined {
  const refusal = pskRefusal(device);
  if (refusal) {
    device.record('pskch.rejected', { peerAddress, identity, message: refusal.message }, refusal.code);
    return undefined;
  }
  const pid = device.nvram.setup.pid!;
  if (pskIdentityFromPid(identity) !== pid) {
    device.record('pskch.rejected', { peerAddress, identity, message: `PSK identity '${identity}' is not this device's PID` }, 'PSK_MISMATCH');
    return undefined;
  }
  return pskKeyFromPps(device.nvram.setup.pps!);
}

/** The handshake with the right identity failed: the server's key (PPS) differs from ours. */
export function pskKeyMismatch(device: AmtDevice, identity: string, peerAddress: string, detail: string): void {
  device.record('pskch.rejected', { peerAddress, identity, message: `TLS-PSK handshake failed: the provisioning server's PPS does not match (${detail})` }, 'PSK_MISMATCH');
}

/** The TLS-PSK handshake completed: this connection may configure the device (CommitChanges). */
export function acceptPskSession(device: AmtDevice, identity: string, peerAddress: string): RemoteSetupSession {
  const session: RemoteSetupSession = { method: 'psk', peerAddress, startedAt: device.clock.now() };
  device.remoteSession = session;
  device.record('pskch.accepted', { peerAddress, identity });
  return session;
}
