/**
 * The loopback rig the provisioning integration tests share: a VirtualClock, a test PKI, the
 * devices' WS-Man listeners (16992/16993 on free ports, routed by address to `devices`) and the
 * reference provisioning server pointed at them. Each test file says only what differs: the
 * server's profiles, PSK pairs, reverse lookup, TLS CA.
 */
import net from 'node:net';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { ProvisioningServer, type DeviceRecord, type ProvisioningServerConfig } from '../../src/provisioning/server.js';

type FixedFields = 'clock' | 'helloPort' | 'bind' | 'deviceWsmanPort';
export type RigServerConfig = Partial<Omit<ProvisioningServerConfig, FixedFields>>;

export interface ProvisioningRig {
  clock: VirtualClock;
  pki: TestPki;
  listeners: PortListeners;
  server: ProvisioningServer;
  helloPort: number;
  devices: Map<string, AmtDevice>;
  stop(): Promise<void>;
}

/** `server` may depend on the clock and PKI (e.g. a TLS CA issued at the clock's date). */
export async function startProvisioningRig(server: RigServerConfig | ((r: { clock: VirtualClock; pki: TestPki }) => Promise<RigServerConfig> | RigServerConfig) = {}): Promise<ProvisioningRig> {
  const clock = new VirtualClock({ epoch: Date.now() });
  const pki = await createTestPki({ variants: [], now: clock.date() });
  const devices = new Map<string, AmtDevice>();
  const listeners = new PortListeners({ lookup: (a) => devices.get(a), httpPort: 0, tlsPort: 0 });
  await listeners.start();
  const extra = typeof server === 'function' ? await server({ clock, pki }) : server;
  const srv = new ProvisioningServer({
    reverseLookup: async () => undefined,
    profiles: [],
    chains: [{ name: 'test-pki', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
    wsmanTimeoutMs: 10_000,
    ...extra,
    clock,
    helloPort: 0,
    bind: '127.0.0.1',
    deviceWsmanPort: listeners.tlsPort,
  });
  const { port } = await srv.start();
  return {
    clock, pki, listeners, server: srv, helloPort: port, devices,
    stop: async () => {
      await srv.stop();
      await listeners.stop();
    },
  };
}

/** One hello as the firmware sends it: connect from `from`, write the bytes, close. */
export function sendHelloFrom(from: string, port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => s.end(bytes));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

/** Advance virtual time in quarter seconds until the server's session for `ip` ends (bounded). */
export async function runUntilDone(clock: VirtualClock, server: ProvisioningServer, ip: string): Promise<DeviceRecord | undefined> {
  for (let i = 0; i < 400; i++) {
    const r = server.record(ip);
    if (r && r.status !== 'in-progress') return r;
    await clock.advance(250);
    await new Promise((r2) => setTimeout(r2, 5));
  }
  return server.record(ip);
}
