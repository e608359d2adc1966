/**
 * (d) Complete PKI-CH activations per second: a device in setup sends its hello over TCP to the
 * reference provisioning server, which connects back with mutual TLS (its Client Setup chain)
 * to the fleet's 16993 listener, the device runs PKI-CH on that chain, and the server's WS-Man
 * sequence ends with CommitChanges; an activation counts when the device is in Post/ACM
 * (reference §1.3). The server's 5 s post-commit wait (MeshCentral's, not work) is excluded.
 *
 * Baseline, side by side: raw node:tls mutual-TLS handshakes with the same device certificate
 * and key (2048-bit RSA), the same TLS versions (the device's secure context) and the same
 * 2048-bit client chain, each followed by a one-byte echo so the server side has finished too.
 * Both sides load their PEM keys once (secure contexts built before timing), as the fleet
 * listener and the provisioning server's WS-Man client do.
 *
 * Wire floor, side by side too (bench/activation-floor.ts): the same hello, handshake and HTTP
 * exchanges, byte for byte as one warm-up activation made them, between bare node servers and
 * node's own HTTP client — what an activation would cost if firmware and server did nothing.
 * Device certificates are issued before timing (a real PC has its certificate before it boots).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../src/clock/clock.js';
import { RealClock } from '../src/clock/real-clock.js';
import { Timeline } from '../src/common/timeline.js';
import { AmtDevice } from '../src/device/device.js';
import type { DeviceNetwork } from '../src/device/environment.js';
import { PortListeners } from '../src/network/listeners.js';
import { DeviceTlsContexts } from '../src/network/port-tls.js';
import { createFactoryImage } from '../src/nvram/defaults.js';
import { getProfile } from '../src/nvram/profiles.js';
import { DeviceCertStore } from '../src/pki/device-cert.js';
import { KeyPool } from '../src/pki/keys.js';
import { createTestPki } from '../src/pki/test-ca.js';
import { ProvisioningServer } from '../src/provisioning/server.js';
import { captureExchanges, startWireFloor, type CapturedExchange, type WireFloor } from './activation-floor.js';
import { boundedLoop, judge, note, round, sourceAddress, type Figure, type Scale } from './lib.js';

const CONCURRENCY = 4;
const KEY_BITS = 2048;
const ACTIVATION_LIMIT_MS = 20_000;
/**
 * Untimed runs of each side before its timed loop. Why: the activation path is mostly
 * JavaScript (WS-Man, HTTP, device logic) that V8 compiles while it runs, the handshake
 * mostly native code; with 20–60 timed samples the first few cold activations dominated the
 * figure. Every timed activation still does the whole path.
 */
const WARMUP = 8;

/** A lease at once on a fixed address; hellos the firmware schedules itself go nowhere (we send the one that counts). */
function fixedNetwork(address: string, clock: Clock): DeviceNetwork {
  return {
    startDhcp: (_id, events) => {
      const t = clock.setTimer(0, () => events.onLease({ address, dnsServers: ['127.0.0.1'], domain: 'corp.example.test', leaseSeconds: 86_400 }));
      return { stop: () => clock.cancel(t) };
    },
    resolve: async () => ({ ok: false, code: 'DNS_NXDOMAIN', message: 'no DNS in this benchmark' }),
    sendHello: async () => ({ ok: true, value: undefined }),
  };
}

function sendHelloBytes(from: string, port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => s.end(bytes));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

export async function benchActivationRate(scale: Scale): Promise<Figure[]> {
  const clock = new RealClock();
  const timeline = new Timeline(clock);
  const n = scale.activations;
  const total = n + WARMUP; // devices [n, n + WARMUP) are the warm-up ones
  const pki = await createTestPki({ variants: [], keyBits: KEY_BITS, fqdn: 'prov.corp.example.test', now: clock.date() });
  const pool = new KeyPool({ bits: KEY_BITS, size: Math.min(total, 8) });
  await pool.warm();
  const contexts = new DeviceTlsContexts(new DeviceCertStore(pool));
  const byAddress = new Map<string, AmtDevice>();
  const devices: AmtDevice[] = [];
  for (let i = 0; i < total; i++) {
    const address = sourceAddress('127.95', i, 60_000);
    const factory = () => createFactoryImage({ deviceId: `d${i + 1}`, seed: 'bench-d' });
    const image = factory();
    image.provisioning.state = 'In';
    image.provisioning.remoteConfigTimerHours = 0;
    image.mebx = { password: 'Mebx-0ld!', passwordChanged: true };
    image.certHashes = [{ name: 'bench root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: true }, ...image.certHashes.slice(0, 8)];
    const device = new AmtDevice({ image, profile: getProfile(image.firmware.profile), clock, timeline, network: fixedNetwork(address, clock), factoryImage: factory });
    byAddress.set(address, device);
    devices.push(device);
  }
  for (const d of devices) d.powerOn();
  await new Promise((r) => setTimeout(r, 20));
  for (const d of devices) d.openWindow('bareMetal', 24 * 3_600_000, 'benchmark: power-on in setup');
  await Promise.all(devices.map((d) => contexts.contextFor(d)));

  const listeners = new PortListeners({ lookup: (a) => byAddress.get(a), httpPort: 0, tlsPort: 0, tls: contexts });
  await listeners.start();
  const server = new ProvisioningServer({
    clock,
    helloPort: 0,
    bind: '127.0.0.1',
    deviceWsmanPort: listeners.tlsPort,
    reverseLookup: async () => undefined,
    profiles: [{ name: 'acm', adminPassword: 'Adm1n!pass', mebxPassword: 'Mebx!2pass', tls: false }],
    chains: [{ name: 'bench-pki', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
    wsmanTimeoutMs: 15_000,
  });
  const { port: helloPort } = await server.start();
  const waiters = new Map<string, () => void>();
  const unsubscribe = timeline.subscribe((e) => {
    if (e.type === 'lifecycle.transition' && e.data['to'] === 'Post') waiters.get(e.deviceId)?.();
  });

  // Baseline server: the same secure context the fleet listener gives the first device, wrapped
  // the way the listener wraps accepted sockets (tls.createServer({ secureContext }) would not
  // pick a signature algorithm with it on OpenSSL 3: "no suitable signature algorithm").
  const ctx = await contexts.contextFor(devices[0]!);
  const baseSockets = new Set<net.Socket>();
  const baseServer = net.createServer((raw) => {
    baseSockets.add(raw);
    raw.on('close', () => baseSockets.delete(raw));
    raw.on('error', () => raw.destroy());
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx, requestCert: true, rejectUnauthorized: false });
    s.on('error', () => s.destroy());
    s.once('data', () => s.end('k'));
  });
  await new Promise<void>((resolve) => baseServer.listen(0, '127.0.0.1', resolve));
  const basePort = (baseServer.address() as net.AddressInfo).port;
  // The client chain and key are loaded once, as the provisioning server's WS-Man client does
  // (one SecureContext per chain): re-parsing the PEM key per connection is not handshake work,
  // and a baseline that did it while the measured path does not would flatter the ratio.
  const clientCtx = tls.createSecureContext({ cert: pki.valid.chainPem, key: pki.valid.keyPem });
  const handshake = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      // tls.connect hands localAddress to net.connect; its typings just do not list it.
      const options: tls.ConnectionOptions & { localAddress: string } = { host: '127.0.0.1', port: basePort, localAddress: sourceAddress('127.96', i, 64), secureContext: clientCtx, rejectUnauthorized: false };
      const s = tls.connect(options);
      s.once('secureConnect', () => s.write('x'));
      s.once('data', () => {
        s.destroy();
        resolve();
      });
      s.once('error', (e) => {
        s.destroy();
        reject(e);
      });
    });

  const activate = async (device: AmtDevice): Promise<void> => {
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${device.id}: not configured within ${ACTIVATION_LIMIT_MS} ms`)), ACTIVATION_LIMIT_MS);
      waiters.set(device.id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await sendHelloBytes(device.address!, helloPort, device.buildHello(0));
    await done;
    if (device.controlMode !== 'ACM') throw new Error(`${device.id} ended in ${device.state}/${device.controlMode}`);
  };

  let base = { done: 0, failed: 0, ms: 0 } as Awaited<ReturnType<typeof boundedLoop>>;
  let act = base;
  let floor = base;
  let warm = { handshakes: base, activations: base, floor: base };
  let exchanges: CapturedExchange[] = [];
  let wire: WireFloor | undefined;
  try {
    warm = {
      handshakes: await boundedLoop(WARMUP, CONCURRENCY, scale.loopBudgetMs / 2, (i) => handshake(n + i)),
      activations: await boundedLoop(WARMUP - 1, CONCURRENCY, scale.loopBudgetMs / 2, (i) => activate(devices[n + i]!)),
      floor: base,
    };
    // The last warm-up activation runs alone, so the capture holds exactly its exchanges.
    const captured = devices[n + WARMUP - 1]!;
    exchanges = await captureExchanges(() => activate(captured));
    wire = await startWireFloor({
      exchanges,
      deviceContext: ctx,
      clientContext: clientCtx,
      hello: captured.buildHello(0),
      helloSource: (i) => sourceAddress('127.97', i, 64),
      tlsSource: (i) => sourceAddress('127.98', i, 64),
    });
    const replay = wire.replay;
    warm.floor = await boundedLoop(WARMUP, CONCURRENCY, scale.loopBudgetMs / 2, (i) => replay(n + i));
    base = await boundedLoop(n, CONCURRENCY, scale.loopBudgetMs / 2, handshake);
    floor = await boundedLoop(n, CONCURRENCY, scale.loopBudgetMs / 2, replay);
    act = await boundedLoop(n, CONCURRENCY, scale.loopBudgetMs / 2, (i) => activate(devices[i]!));
  } finally {
    unsubscribe();
    await wire?.close();
    for (const s of baseSockets) s.destroy();
    await new Promise<void>((resolve) => baseServer.close(() => resolve()));
    await server.stop();
    await listeners.stop();
    for (const d of devices) d.powerOff();
  }
  const baseRate = base.done / (base.ms / 1000);
  const actRate = act.done / (act.ms / 1000);
  const ratio = actRate / baseRate;
  const floorRate = floor.done / (floor.ms / 1000);
  const failures = server.records().filter((r) => r.status === 'failed').map((r) => `${r.deviceIp} ${r.code}`);
  note(`(d) raw mutual-TLS handshakes ${round(baseRate, 1)}/s, PKI-CH activations ${round(actRate, 1)}/s (${act.done} ok, ${act.failed} failed), ratio ${round(ratio, 3)}; wire floor ${round(floorRate, 1)}/s (ratio ${round(floorRate / baseRate, 3)})`);
  return [
    {
      id: 'd.activations',
      title: 'complete PKI-CH activations per second (hello → mutual TLS → WS-Man → Post/ACM) vs raw node:tls mutual-TLS handshakes',
      value: round(actRate, 2),
      unit: 'activations/s',
      baseline: { value: round(baseRate, 2), unit: 'handshakes/s', what: `node:tls mutual TLS, RSA ${KEY_BITS} device cert and client chain (contexts built once), same TLS versions, 1-byte echo` },
      ratio: round(ratio),
      target: { of: 'ratio', op: '>=', value: 0.5 },
      met: act.failed === 0 && warm.activations.failed === 0 && base.done > 0 && Number.isFinite(ratio) && judge(ratio, '>=', 0.5),
      detail: {
        concurrency: CONCURRENCY,
        warmup: warm,
        activations: act,
        handshakes: base,
        // The same wire work with no firmware or server logic: the best ratio node allows here.
        wireFloor: {
          value: round(floorRate, 2),
          unit: 'replayed activations/s',
          ratioToHandshakes: round(floorRate / baseRate),
          activationsOfFloor: round(actRate / floorRate),
          exchanges: exchanges.length,
          endsWithCommit: exchanges.at(-1)?.body.includes('CommitChanges') ?? false,
          requestBytes: exchanges.reduce((a, x) => a + x.body.length, 0),
          responseBytes: exchanges.reduce((a, x) => a + x.responseBody.length, 0),
          run: floor,
        },
        serverFailures: failures.slice(0, 5),
      },
      notes: ['RealClock; the server\'s 5 s post-commit wait is not counted (it is a timer, not work)', 'device certificates issued before timing', `${WARMUP} untimed handshakes and ${WARMUP} untimed activations (other devices) run first, so neither figure includes JIT warm-up`, 'detail.wireFloor: the captured exchanges of one activation replayed between bare node servers and node\'s HTTP client (bench/activation-floor.ts)'],
    },
  ];
}
