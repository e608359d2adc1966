/**
 * (c) Hellos per second over real TCP: the emulator's hello transport (src/network/hello-transport.ts,
 * connect from the device's own 127.x address, one write, FIN) against a raw node:net
 * connect-write-close loop sending the same bytes from the same source addresses to the same
 * sink, with the same concurrency. Rounds alternate (baseline, emulator, baseline, emulator) so
 * load from the shared machine falls on both sides alike.
 */
import net from 'node:net';
import { RealClock } from '../src/clock/real-clock.js';
import { Timeline } from '../src/common/timeline.js';
import { AmtDevice } from '../src/device/device.js';
import { sendHello } from '../src/network/hello-transport.js';
import { createFactoryImage } from '../src/nvram/defaults.js';
import { getProfile } from '../src/nvram/profiles.js';
import { boundedLoop, judge, note, round, sourceAddress, type Figure, type Scale } from './lib.js';

const CONCURRENCY = 8;
/** Source addresses used round-robin (each keeps its TIME_WAIT ports far below the ephemeral range). */
const SOURCES = 64;

interface Sink {
  port: number;
  received: number;
  bytes: number;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const sockets = new Set<net.Socket>();
  const sink: Sink = { port: 0, received: 0, bytes: 0, close: async () => undefined };
  const server = net.createServer((s) => {
    sockets.add(s);
    let n = 0;
    s.on('data', (d) => (n += d.length));
    s.on('end', () => {
      sink.received++;
      sink.bytes += n;
      s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, resolve));
  sink.port = (server.address() as net.AddressInfo).port;
  sink.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return sink;
}

function rawHello(port: number, from: string, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    s.once('error', (e) => {
      s.destroy();
      reject(e);
    });
    s.once('connect', () => s.end(bytes, () => resolve()));
    s.on('data', () => undefined);
  });
}

export async function benchHelloRate(scale: Scale): Promise<Figure[]> {
  const clock = new RealClock();
  const factory = () => createFactoryImage({ deviceId: 'c1', seed: 'bench-c' });
  const device = new AmtDevice({ image: factory(), profile: getProfile('amt16'), clock, timeline: new Timeline(clock), factoryImage: factory });
  const bytes = device.buildHello(0);
  const sink = await startSink();
  const perRound = Math.max(1, Math.floor(scale.hellos / 2));
  const budget = scale.loopBudgetMs / 4;
  const base = { done: 0, failed: 0, ms: 0 };
  const emu = { done: 0, failed: 0, ms: 0 };
  const errors: string[] = [];
  let warmed = 0;
  try {
    // Warm-up, not counted: JIT, the listen backlog and first use of each source address.
    const warm = Math.min(200, perRound);
    await boundedLoop(warm, CONCURRENCY, budget, (i) => rawHello(sink.port, sourceAddress('127.93', i, SOURCES), bytes));
    await boundedLoop(warm, CONCURRENCY, budget, (i) => sendHello({ clock }, sourceAddress('127.94', i, SOURCES), { host: '127.0.0.1', port: sink.port }, bytes).then(() => undefined));
    warmed = sink.received;
    for (let round = 0; round < 2; round++) {
      const b = await boundedLoop(perRound, CONCURRENCY, budget, (i) => rawHello(sink.port, sourceAddress('127.93', i, SOURCES), bytes));
      const e = await boundedLoop(perRound, CONCURRENCY, budget, async (i) => {
        const r = await sendHello({ clock }, sourceAddress('127.94', i, SOURCES), { host: '127.0.0.1', port: sink.port }, bytes);
        if (!r.ok) throw new Error(r.message);
      });
      for (const [acc, r] of [[base, b], [emu, e]] as const) {
        acc.done += r.done;
        acc.failed += r.failed;
        acc.ms += r.ms;
        if (r.firstError) errors.push(r.firstError);
      }
    }
    // Let the last FINs reach the sink before counting what it received.
    for (let i = 0; i < 100 && sink.received < warmed + base.done + emu.done; i++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await sink.close();
  }
  const baseRate = base.done / (base.ms / 1000);
  const emuRate = emu.done / (emu.ms / 1000);
  const ratio = emuRate / baseRate;
  note(`(c) raw node:net ${round(baseRate, 0)}/s, emulator hello transport ${round(emuRate, 0)}/s, ratio ${round(ratio, 3)}`);
  return [
    {
      id: 'c.hellos',
      title: 'hellos per second over real TCP (emulator transport vs raw node:net connect-write-close)',
      value: round(emuRate, 0),
      unit: 'hellos/s',
      baseline: { value: round(baseRate, 0), unit: 'hellos/s', what: 'raw node:net connect + end(bytes) loop, same payload, sources, sink and concurrency' },
      ratio: round(ratio),
      target: { of: 'ratio', op: '>=', value: 0.8 },
      met: emu.failed === 0 && base.done > 0 && judge(ratio, '>=', 0.8),
      detail: { payloadBytes: bytes.length, concurrency: CONCURRENCY, emulator: emu, baselineRun: base, sinkReceived: sink.received - warmed, sinkBytes: sink.bytes, errors: errors.slice(0, 3) },
      notes: ['hello transport with a RealClock (connect timer + virtual-time reply window are part of its cost)'],
    },
  ];
}
