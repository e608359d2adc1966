/**
 * TLS for 16993: per-device secure contexts (the device's own RSA certificate, TLS versions
 * from the firmware profile) and the PKI-CH check of the provisioning server's client chain
 * (reference §1.3 step 4, §1.4 step 3, §4.3).
 */
import { createSecureContext, DEFAULT_CIPHERS, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { AmtDevice, RemoteSetupSession } from '../device/device.js';
import { validateHostBasedTlsChain } from '../device/hbased-tls.js';
import { validateSetupChain, type SetupChainInfo } from '../device/pkich.js';
import { acceptPskSession, PSK_CIPHERS, pskKeyForIdentity, pskKeyMismatch } from '../device/psk.js';
import { DeviceCertStore, type DeviceTlsIdentity } from '../pki/device-cert.js';

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export class DeviceTlsContexts {
  private readonly contexts = new Map<string, { fingerprint: string; ctx: SecureContext }>();

  constructor(readonly certs: DeviceCertStore = new DeviceCertStore()) {}

  async identity(device: AmtDevice): Promise<DeviceTlsIdentity> {
    const img = device.nvram;
    return this.certs.get(device.id, { uuid: img.uuid, hostname: img.network.hostname, now: device.clock.date() });
  }

  async contextFor(device: AmtDevice): Promise<SecureContext> {
    const id = await this.identity(device);
    const cached = this.contexts.get(device.id);
    if (cached && cached.fingerprint === id.fingerprintSha256) return cached.ctx;
    const versions = device.profile.network.tlsVersions.slice().sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
    const min = versions[0] ?? 'TLSv1.2';
    const max = versions[versions.length - 1] ?? 'TLSv1.3';
    const ctx = createSecureContext({
      key: id.keyPem,
      cert: id.certPem,
      // No CA store. The firmware holds root HASHES, not root certificates, and PKI-CH hashes
      // the root the server sent (reference §1.3, §5.4). Without this, node:tls fills the peer
      // chain from its default store (Node's bundled public roots, NODE_EXTRA_CA_CERTS): a server
      // that leaves out a public root such as DigiCert's would pass here and fail on a real PC.
      ca: [],
      minVersion: min,
      maxVersion: max,
      // Old firmware profiles speak TLS 1.0/1.1, which OpenSSL 3 refuses at its default level.
      // PSK suites are listed for the TLS-PSK setup session (src/device/psk.ts); OpenSSL only picks
      // them on a connection that has a PSK callback, i.e. a remote setup connection. Node's
      // default list ends in '!PSK', which would remove them for good, so that term is dropped.
      ciphers: ORDER.indexOf(min) < 2 ? `DEFAULT:${PSK_CIPHERS}:@SECLEVEL=0` : `${DEFAULT_CIPHERS.replace(':!PSK', '')}:${PSK_CIPHERS}`,
    });
    this.contexts.set(device.id, { fingerprint: id.fingerprintSha256, ctx });
    return ctx;
  }

  forget(deviceId: string): void {
    this.contexts.delete(deviceId);
    this.certs.forget(deviceId);
  }
}

/** The peer's chain as DER, leaf first, following issuerCertificate links (bounded). */
export function peerChainDer(sock: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let c: PeerCertificate | undefined = sock.getPeerCertificate(true);
  const seen = new Set<string>();
  for (let i = 0; c && c.raw && i < 10; i++) {
    const fp = c.fingerprint256;
    if (seen.has(fp)) break;
    seen.add(fp);
    out.push(Buffer.from(c.raw));
    const next: PeerCertificate | undefined = (c as { issuerCertificate?: PeerCertificate }).issuerCertificate;
    if (!next || next === c) break;
    c = next;
  }
  return out;
}

/** Whether this connection is the one that may run PKI-CH remote configuration. */
export function expectsSetupChain(device: AmtDevice, origin: 'local' | 'remote'): boolean {
  const p = device.nvram.provisioning;
  if (device.state !== 'In' || p.window.kind === 'closed') return false;
  // Host-based TLS (StartConfigurationHBased) is local only; bare-metal/agent windows are remote (§5.4, §6.1).
  return p.window.hostBased ? origin === 'local' : true;
}

/**
 * TLS-PSK acceptance for one connection in the remote setup window (seed 001/002, issue 10).
 * `tlsOptions` go into the TLSSocket; after 'secure' `onSecure` says whether the session is a
 * PSK one (and records it); on a handshake error `onError` reports a wrong PPS.
 */
export interface PskAcceptor {
  tlsOptions: { pskCallback: (socket: TLSSocket, identity: string) => Buffer | null };
  onSecure(t: TLSSocket): RemoteSetupSession | undefined;
  onError(err: Error): void;
}

export function pskAcceptor(device: AmtDevice, origin: 'local' | 'remote', peerAddress: string): PskAcceptor | undefined {
  // TLS-PSK setup is the remote SCA's session; host-based windows are local-only (§5.4).
  if (!expectsSetupChain(device, origin) || device.nvram.provisioning.window.hostBased) return undefined;
  let offered: string | undefined;
  let keyGiven = false;
  let secured = false;
  let reported = false;
  return {
    tlsOptions: {
      pskCallback: (_socket, identity) => {
        offered = identity;
        const key = pskKeyForIdentity(device, identity, peerAddress);
        keyGiven = key !== undefined;
        return key ?? null;
      },
    },
    onSecure: (t) => {
      secured = true;
      const cipher = t.getCipher().name;
      if (offered === undefined || !keyGiven || !/PSK/.test(cipher)) return undefined;
      return acceptPskSession(device, offered, peerAddress);
    },
    onError: (err) => {
      // The identity was ours but the handshake failed: the keys differ (bad record MAC / decrypt).
      if (reported || secured || !keyGiven || offered === undefined) return;
      reported = true;
      pskKeyMismatch(device, offered, peerAddress, (err as NodeJS.ErrnoException).code ?? err.message);
    },
  };
}

/** What PKI-CH judges a chain against: the device's hash table, suffixes, profile and clock. */
function chainCheckInput(device: AmtDevice, chain: Buffer[]): Parameters<typeof validateSetupChain>[0] {
  const domain = device.lease?.domain;
  return {
    chain,
    hashes: device.nvram.certHashes,
    pkiDnsSuffix: device.nvram.setup.pkiDnsSuffix,
    ...(domain ? { dhcpDomain: domain } : {}),
    profile: device.profile,
    now: device.clock.date(),
  };
}

/**
 * Validate the client's chain against the device's trusted hashes and DNS suffix. Success sets
 * device.remoteSession; failure records `pkich.rejected` and leaves NVRAM untouched.
 */
export function runPkiCh(device: AmtDevice, chain: Buffer[], peerAddress: string): RemoteSetupSession | undefined {
  if (device.nvram.provisioning.window.hostBased) return runHostBasedTls(device, chain, peerAddress);
  if (!device.nvram.network.wiredLan) {
    // Seed 001 ("over the wired (only) production network") and seed 004 (no wired LAN → host-based or manual only).
    device.record('pkich.rejected', { peerAddress, message: 'remote configuration needs the wired LAN; this platform has none' }, 'REMOTE_CONFIG_NEEDS_WIRED_LAN');
    return undefined;
  }
  if (chain.length === 0) {
    device.record('pkich.rejected', { peerAddress, message: 'the provisioning server sent no client certificate' }, 'NO_CLIENT_CERT');
    return undefined;
  }
  const r = validateSetupChain(chainCheckInput(device, chain));
  if (!r.ok) {
    device.record('pkich.rejected', { peerAddress, message: r.message, ...(r.detail ?? {}) }, r.code);
    return undefined;
  }
  return openSetupSession(device, r.value, peerAddress, 'pki', r.value.leafCn, { secureDns: r.value.secureDns });
}

/**
 * The local mutual-TLS session after CFG_StartConfigurationHBased (reference §5.4): the leaf must
 * be the pinned one, then the PKI-CH rules (src/device/hbased-tls.ts says why). No wired-LAN rule:
 * host-based setup is what a PC without one has left (seed 004).
 */
function runHostBasedTls(device: AmtDevice, chain: Buffer[], peerAddress: string): RemoteSetupSession | undefined {
  const r = validateHostBasedTlsChain({ ...chainCheckInput(device, chain), pin: device.hostBasedPin });
  if (!r.ok) {
    device.record('pkich.rejected', { peerAddress, hostBased: true, message: r.message, ...(r.detail ?? {}) }, r.code);
    return undefined;
  }
  return openSetupSession(device, r.value, peerAddress, 'hostBasedTls', r.value.matchedIdentifier, { hostBased: true, serverCertHash: device.hostBasedPin?.serverCertHash });
}

/**
 * A chain PKI-CH accepted becomes the session that may configure the device (device.remoteSession)
 * and a `pkich.accepted` event; `extra` adds what is particular to the path.
 */
function openSetupSession(device: AmtDevice, v: SetupChainInfo, peerAddress: string, method: RemoteSetupSession['method'], provServerFqdn: string, extra: Record<string, unknown>): RemoteSetupSession {
  const session: RemoteSetupSession = {
    method,
    peerAddress,
    provServerFqdn,
    certificateCn: v.leafCn,
    selectedHash: { algorithm: v.selectedHash.algorithm, hash: v.selectedHash.hash, isDefault: v.selectedHash.isDefault },
    caSerials: v.caSerials,
    additionalCaSerialNums: v.additionalCaSerialNums,
    secureDns: v.secureDns,
    startedAt: device.clock.now(),
  };
  device.remoteSession = session;
  device.record('pkich.accepted', {
    peerAddress,
    leafCn: v.leafCn,
    matchedIdentifier: v.matchedIdentifier,
    suffixUsed: v.suffixUsed,
    selectedHash: v.selectedHash.hash,
    hashName: v.selectedHash.name,
    ...extra,
  });
  return session;
}
