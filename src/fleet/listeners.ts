/**
 * Attach the shared port listeners to an Emulator: WS-Man on 16992/16993, redirection on
 * 16994/16995 and the RMCP presence pong on UDP 623. One socket per TCP port serves the whole
 * fleet and routes by local address; RMCP needs a socket per device address (Node's dgram does
 * not report the destination address), opened when a device takes a lease and closed when it
 * loses it. The device certificate store is shared so 16993 and 16995 present the same cert.
 */
import { DeviceCertStore } from '../pki/device-cert.js';
import { KeyPool } from '../pki/keys.js';
import { PortListeners, type FaultHook } from '../network/listeners.js';
import { DeviceTlsContexts } from '../network/port-tls.js';
import { RedirectionListener } from '../network/redirection-listener.js';
import { RmcpResponder } from '../network/rmcp.js';
import type { AmtDevice } from '../device/device.js';
import type { Emulator } from './emulator.js';

/** Distinct device TLS keys per fleet before they are reused (see ListenerPorts.keyPoolSize). */
export const DEFAULT_KEY_POOL_SIZE = 8;

export interface ListenerPorts {
  /** 0 picks a free port (tests); null disables that listener. */
  http: number;
  https: number;
  redirection?: number | null;
  redirectionTls?: number | null;
  /** UDP presence pong; null disables it (binding 623 needs root). */
  rmcp?: number | null;
  /**
   * Distinct RSA keys behind the devices' TLS certificates (DESIGN "Keys are the expensive
   * part"): the first N devices get their own key, later ones reuse them round-robin — each
   * still has its own certificate. Keys are made on first use. Default 64.
   */
  keyPoolSize?: number;
  /** Fault rules applied to WS-Man requests (scenario `fault:` steps, the control API). */
  faults?: FaultHook;
}

export interface AttachedListeners {
  wsman: PortListeners;
  redirection: RedirectionListener | undefined;
  rmcp: RmcpResponder | undefined;
  ports: { http: number; https: number; redirection?: number; redirectionTls?: number; rmcp?: number };
  describe(): string;
  close(): Promise<void>;
}

export async function attachListeners(emu: Emulator, ports: ListenerPorts): Promise<AttachedListeners> {
  // A 2048-bit keygen costs ~80 ms here: a few hundred PCs configured at once would otherwise
  // spend most of their time generating keys nobody compares across devices.
  const certs = new DeviceCertStore(new KeyPool({ bits: 2048, size: ports.keyPoolSize ?? DEFAULT_KEY_POOL_SIZE }));
  const tls = new DeviceTlsContexts(certs);
  const wsman = new PortListeners({ lookup: (a) => emu.deviceAt(a), httpPort: ports.http, tlsPort: ports.https, tls, ...(ports.faults ? { faults: ports.faults } : {}) });
  await wsman.start();
  emu.tlsCertificateOf = async (d) => (await tls.identity(d)).certDer;
  let redirection: RedirectionListener | undefined;
  let rmcp: RmcpResponder | undefined;
  const unsubscribe: Array<() => void> = [];
  // Firmware RAM (digest nonces, TLS settings waiting for CommitChanges) and every open
  // connection are gone at power-off.
  unsubscribe.push(
    emu.timeline.subscribe((e) => {
      if (e.type !== 'power.off') return;
      const d = emu.devices.get(e.deviceId);
      if (!d) return;
      wsman.http.reset(d);
      const address = emu.plannedAddress(d.id);
      if (address) {
        wsman.disconnect(address);
        redirection?.disconnect(address);
      }
    }),
  );
  try {
    if (ports.redirection !== null && ports.redirection !== undefined) {
      redirection = new RedirectionListener({
        deviceAt: (a) => emu.deviceAt(a),
        plainPort: ports.redirection,
        tlsPort: ports.redirectionTls ?? null,
        // The redirection listener only hands back devices our own lookup gave it.
        tlsIdentity: (d) => tls.identity(d as AmtDevice),
      });
      await redirection.start();
    }
    if (ports.rmcp !== null && ports.rmcp !== undefined) {
      const responder = new RmcpResponder({ port: ports.rmcp, deviceAt: (a) => emu.deviceAt(a) });
      rmcp = responder;
      unsubscribe.push(
        emu.timeline.subscribe((e) => {
          const address = e.data['address'];
          if (typeof address !== 'string') return;
          if (e.type === 'dhcp.lease') void responder.open(address);
          else if (e.type === 'dhcp.released') void responder.close(address);
        }),
      );
      for (const d of emu.devices.values()) if (d.address) await responder.open(d.address);
    }
  } catch (e) {
    await wsman.stop();
    await redirection?.stop();
    throw e;
  }
  const out: AttachedListeners['ports'] = { http: wsman.httpPort, https: wsman.tlsPort };
  if (redirection) {
    out.redirection = redirection.ports.plain;
    if (redirection.ports.tls !== undefined) out.redirectionTls = redirection.ports.tls;
  }
  if (rmcp) out.rmcp = rmcp.udpPort;
  return {
    wsman,
    redirection,
    rmcp,
    ports: out,
    describe: () =>
      [`http ${out.http}`, `https ${out.https}`, out.redirection !== undefined ? `redirection ${out.redirection}` : '', out.redirectionTls !== undefined ? `redirection-tls ${out.redirectionTls}` : '', out.rmcp !== undefined ? `rmcp udp ${out.rmcp}` : '']
        .filter(Boolean)
        .join(', '),
    close: async () => {
      emu.tlsCertificateOf = undefined;
      for (const u of unsubscribe) u();
      await wsman.stop();
      await redirection?.stop();
      await rmcp?.closeAll();
    },
  };
}
