/**
 * (e) Digest-authenticated WS-Man Gets per second against a configured device on the fleet's
 * 16992 listener (HTTP Digest MD5 qop=auth, reference §6.2), against a bare node:http server
 * on the same machine answering the very bytes the device answered (same status, headers and
 * body, captured first), with no authentication and no WS-Man work. Both sides use the same
 * client (the reference server's WsmanClient: keep-alive, one request in flight per client,
 * nonce counting so the 401 comes once per connection) with the same concurrency.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Clock } from '../src/clock/clock.js';
import { RealClock } from '../src/clock/real-clock.js';
import { Timeline } from '../src/common/timeline.js';
import { AmtDevice } from '../src/device/device.js';
import type { DeviceNetwork } from '../src/device/environment.js';
import { PortListeners } from '../src/network/listeners.js';
import { createFactoryImage } from '../src/nvram/defaults.js';
import { getProfile } from '../src/nvram/profiles.js';
import { digestHa1, digestResponse, parseDigestChallenge } from '../src/provisioning/digest.js';
import { WsmanClient } from '../src/provisioning/wsman-client.js';
import { boundedLoop, judge, note, round, type Figure, type Scale } from './lib.js';

const CONCURRENCY = 4;
const ADDRESS = '127.97.0.10';
const PASSWORD = 'Bench-Adm1n!';

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

interface Captured {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function post(port: number, xml: string, auth?: string): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: ADDRESS, port, method: 'POST', path: '/wsman', agent: false, headers: { 'Content-Type': 'application/soap+xml; charset=utf-8', ...(auth ? { Authorization: auth } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('capture timed out')));
    req.end(xml);
  });
}

/** The device's answer to one authenticated Get, captured with a hand-made Digest exchange. */
async function capture(port: number, xml: string): Promise<Captured> {
  const first = await post(port, xml);
  const challenge = parseDigestChallenge(first.headers['www-authenticate'] ?? '');
  if (first.status !== 401 || !challenge) throw new Error(`expected a 401 Digest challenge, got HTTP ${first.status}`);
  const cnonce = 'bench0cnonce';
  const response = digestResponse({ username: 'admin', password: PASSWORD, method: 'POST', uri: '/wsman', challenge, nc: 1, cnonce });
  const auth = `Digest username="admin", realm="${challenge.realm}", nonce="${challenge.nonce}", uri="/wsman", qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}"${challenge.opaque !== undefined ? `, opaque="${challenge.opaque}"` : ''}`;
  const ok = await post(port, xml, auth);
  if (ok.status !== 200) throw new Error(`authenticated Get answered HTTP ${ok.status}`);
  return ok;
}

async function runGets(count: number, budgetMs: number, port: number, className: string): Promise<Awaited<ReturnType<typeof boundedLoop>>> {
  const free: WsmanClient[] = Array.from({ length: CONCURRENCY }, () => new WsmanClient({ host: ADDRESS, port, username: 'admin', password: PASSWORD, timeoutMs: 10_000 }));
  const all = [...free];
  try {
    return await boundedLoop(count, CONCURRENCY, budgetMs, async () => {
      const c = free.pop()!;
      try {
        const r = await c.get(c.amt.GeneralSettings.Get(), className);
        if (!r['HostName'] && !r['DigestRealm']) throw new Error('Get answer without AMT_GeneralSettings fields');
      } finally {
        free.push(c);
      }
    });
  } finally {
    for (const c of all) c.close();
  }
}

export async function benchWsmanGetRate(scale: Scale): Promise<Figure[]> {
  const clock = new RealClock();
  // AMT 15: the last profile whose 16992 answers remote clients (ME 16+ closes non-TLS remote ports, §6.1).
  const factory = () => createFactoryImage({ deviceId: 'e1', seed: 'bench-e', profile: 'amt15' });
  const image = factory();
  image.provisioning.state = 'Post';
  image.provisioning.controlMode = 'ACM';
  image.mebx = { password: 'Mebx-Passw0rd!', passwordChanged: true };
  image.adminAcl = { username: 'admin', digestHash: digestHa1('admin', image.digestRealm, PASSWORD) };
  const device = new AmtDevice({ image, profile: getProfile(image.firmware.profile), clock, timeline: new Timeline(clock), network: fixedNetwork(ADDRESS, clock), factoryImage: factory });
  device.powerOn();
  await new Promise((r) => setTimeout(r, 20));
  const listeners = new PortListeners({ lookup: (a) => (a === ADDRESS ? device : undefined), httpPort: 0, tlsPort: 0 });
  await listeners.start();
  const sockets = new Set<net.Socket>();
  let bare: http.Server | undefined;
  try {
    const probe = new WsmanClient({ host: ADDRESS, port: listeners.httpPort, username: 'admin', password: PASSWORD });
    const xml = probe.amt.GeneralSettings.Get();
    const answer = await capture(listeners.httpPort, xml);
    const replyHeaders: Record<string, string> = {};
    for (const k of ['content-type', 'server']) if (answer.headers[k]) replyHeaders[k] = answer.headers[k]!;
    bare = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(answer.status, replyHeaders);
        res.end(answer.body);
      });
    });
    bare.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    bare.keepAliveTimeout = 30_000;
    // Listen on the device's address so both runs connect to the same kind of endpoint.
    await new Promise<void>((resolve) => bare!.listen(0, ADDRESS, resolve));
    const barePort = (bare.address() as net.AddressInfo).port;

    const half = Math.max(1, Math.floor(scale.gets / 2));
    const budget = scale.loopBudgetMs / 4;
    const base = { done: 0, failed: 0, ms: 0 };
    const emu = { done: 0, failed: 0, ms: 0 };
    const errors: string[] = [];
    for (let r = 0; r < 2; r++) {
      const b = await runGets(half, budget, barePort, 'AMT_GeneralSettings');
      const e = await runGets(half, budget, listeners.httpPort, 'AMT_GeneralSettings');
      for (const [acc, x] of [[base, b], [emu, e]] as const) {
        acc.done += x.done;
        acc.failed += x.failed;
        acc.ms += x.ms;
        if (x.firstError) errors.push(x.firstError);
      }
    }
    const baseRate = base.done / (base.ms / 1000);
    const emuRate = emu.done / (emu.ms / 1000);
    const ratio = emuRate / baseRate;
    note(`(e) bare node:http ${round(baseRate, 0)}/s, device digest WS-Man Get ${round(emuRate, 0)}/s, ratio ${round(ratio, 3)}`);
    return [
      {
        id: 'e.gets',
        title: 'digest-authenticated WS-Man Gets per second (AMT_GeneralSettings) vs a bare node:http server answering the same bytes',
        value: round(emuRate, 0),
        unit: 'gets/s',
        baseline: { value: round(baseRate, 0), unit: 'gets/s', what: 'node:http server replying the captured status, Content-Type, Server and body; no auth, no WS-Man' },
        ratio: round(ratio),
        target: { of: 'ratio', op: '>=', value: 0.5 },
        met: emu.failed === 0 && base.done > 0 && judge(ratio, '>=', 0.5),
        detail: { concurrency: CONCURRENCY, responseBytes: answer.body.length, emulator: emu, baselineRun: base, errors: errors.slice(0, 3) },
        notes: ['same WsmanClient on both sides; keep-alive connections; one Digest challenge per connection'],
      },
    ];
  } finally {
    for (const s of sockets) s.destroy();
    if (bare) await new Promise<void>((resolve) => bare!.close(() => resolve()));
    await listeners.stop();
    device.powerOff();
  }
}
