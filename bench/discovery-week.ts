/**
 * (b) N setup-state devices × 7 virtual days of discovery with the provisioning server down:
 * every hello (5 one-minute, 11 five-minute, 23 hourly = 39 per device in the 24 h bare-metal
 * window, reference §2.1) resolves ProvisionServer.<domain> through the fake DNS server and
 * is refused by a loopback port nobody listens on; DHCP renews at T1 for the whole week.
 *
 * Two variants, reported separately and labelled:
 * - `real`: the Emulator on real loopback sockets (UDP DHCP/DNS, TCP connect per hello) in
 *   virtual time. Bounded by a wall-time budget; when it runs out the run stops and the figure
 *   is a projection from the attempts made so far (`completed: false`).
 * - `memory`: the same firmware on an in-memory network (no sockets): firmware + clock cost.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { Packet } from 'dns2';
import { VirtualClock } from '../src/clock/virtual-clock.js';
import type { Timeline } from '../src/common/timeline.js';
import { Emulator } from '../src/fleet/emulator.js';
import { boundedLoop, collectGarbage, judge, note, refusedPort, round, sourceAddress, type Figure, type Scale } from './lib.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Hellos a device sends in its 24 h bare-metal window (5 + 11 + 23). */
const HELLOS_PER_WINDOW = 39;
/** Virtual step between wall-budget checks: a whole fleet's hellos fall on the same minutes. */
const STEP_MS = 60_000;
/** Issue #8 (b): a week of 10,000 PCs in under 30 s of wall time, for either transport. */
const target = { of: 'value', op: '<' as const, value: 30 };

interface Counts {
  attempts: number;
  refused: number;
  dnsAnswers: number;
  renewals: number;
}

function counter(timeline: Timeline): { counts: Counts; stop: () => void } {
  const counts: Counts = { attempts: 0, refused: 0, dnsAnswers: 0, renewals: 0 };
  const stop = timeline.subscribe((e) => {
    if (e.type === 'hello.failed') {
      counts.attempts++;
      counts.refused++;
    } else if (e.type === 'hello.sent') counts.attempts++;
    else if (e.type === 'dns.answer') counts.dnsAnswers++;
    else if (e.type === 'dhcp.lease' && e.data['renewed'] === true) counts.renewals++;
  });
  return { counts, stop };
}

interface WeekRun {
  wallMs: number;
  virtualMs: number;
  completed: boolean;
  projectedMs: number;
  counts: Counts;
  emu: Emulator;
}

/**
 * One transport's week: N setup-state devices powered on together, virtual time advanced in
 * one-minute steps so the wall-time budget is checked often; an unfinished run is projected from
 * the share of the week's attempts made (hellos dominate). The Emulator is returned running.
 */
async function runWeek(scale: Scale, n: number, label: string, network: { ipBase: string; helloPort: number; transport: 'kernel' | 'memory' }): Promise<WeekRun> {
  const clock = new VirtualClock();
  const emu = await Emulator.start({
    clock,
    seed: 'bench-b',
    network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'bench.example.test', provisionServer: '127.0.0.1', ipBase: network.ipBase, transport: network.transport },
  });
  emu.addDevices(n, { state: 'setup', helloPort: network.helloPort, prefix: 'b' });
  const { counts, stop } = counter(emu.timeline);
  const target = scale.weekDays * DAY;
  const t0 = performance.now();
  emu.powerOnAll();
  let completed = true;
  for (let step = 0; clock.now() < target && step <= target / STEP_MS; step++) {
    if (performance.now() - t0 > scale.weekBudgetMs) {
      completed = false;
      break;
    }
    await clock.advance(Math.min(STEP_MS, target - clock.now()));
    if (step % 1440 === 1439) note(`(${label}) virtual day ${Math.round(clock.now() / DAY)}: ${counts.attempts} hello attempts, ${round((performance.now() - t0) / 1000, 1)} s`);
  }
  const wallMs = performance.now() - t0;
  stop();
  const projectedMs = completed ? wallMs : wallMs * ((n * HELLOS_PER_WINDOW) / Math.max(1, counts.attempts));
  return { wallMs, virtualMs: clock.now(), completed, projectedMs, counts, emu };
}

/** The figures both transports report about their week. */
function weekDetail(run: Omit<WeekRun, 'emu'>, devices: number): Record<string, unknown> {
  return {
    devices,
    completed: run.completed,
    measuredWallS: round(run.wallMs / 1000, 2),
    virtualDaysReached: round(run.virtualMs / DAY, 3),
    helloAttempts: run.counts.attempts,
    expectedAttempts: devices * HELLOS_PER_WINDOW,
    attemptsPerSecond: round(run.counts.attempts / (run.wallMs / 1000), 0),
  };
}

async function realWeek(scale: Scale): Promise<Omit<WeekRun, 'emu'> & { rssMB: number; timelineEvents: number }> {
  // Real loopback sockets: fake DHCP/DNS over UDP, and hellos to a port nobody listens on.
  const { emu, ...run } = await runWeek(scale, scale.weekDevices, 'b real', { ipBase: '127.91.0.10', helloPort: await refusedPort(), transport: 'kernel' });
  const rssMB = process.memoryUsage().rss / 1e6;
  const timelineEvents = emu.timeline.length;
  await emu.stop();
  return { ...run, rssMB, timelineEvents };
}

async function memoryWeek(scale: Scale): Promise<Omit<WeekRun, 'emu'> & { refusedByNetwork: number; datagrams: number }> {
  // The whole Emulator on the in-process LAN: the same fake DHCP/DNS servers, firmware DHCP
  // client, resolver and packets as b.real; only the wire is memory (src/network/memory-lan.ts).
  const { emu, ...run } = await runWeek(scale, scale.weekMemoryDevices, 'b memory', { ipBase: '127.92.0.10', helloPort: 9971, transport: 'memory' });
  const lan = emu.lan!.stats;
  await emu.stop();
  return { ...run, refusedByNetwork: lan.refused, datagrams: lan.datagrams };
}

/** Attempts in the raw-floor baseline (bounded in count and by the loop budget). */
const FLOOR_ATTEMPTS = 40_000;
/** Same-instant timers fire in batches of up to 256 (virtual-clock.ts): the floor gets that much overlap. */
const FLOOR_CONCURRENCY = 256;

/**
 * Baseline, side by side: what one hello attempt costs the kernel and node with nothing of ours
 * in the way — a fresh UDP socket bound to a 127.x source sends the same ProvisionServer query to
 * a bare dgram server that answers with fixed bytes, then a TCP connect from the same source to
 * the refused port. Returns attempts per second.
 */
async function rawAttemptFloor(budgetMs: number): Promise<{ rate: number; done: number }> {
  const q = new Packet();
  q.header.rd = 1;
  q.questions.push({ name: 'ProvisionServer.bench.example.test', type: 1, class: 1 } as never);
  const query = q.toBuffer();
  const a = Packet.createResponseFromRequest(Packet.parse(query));
  const rr = new Packet.Resource('ProvisionServer.bench.example.test', 1, 1, 300);
  rr.address = '127.0.0.1';
  a.answers.push(rr);
  const answer = a.toBuffer();
  const server = dgram.createSocket('udp4');
  server.on('message', (_m, r) => server.send(answer, r.port, r.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const dnsPort = server.address().port;
  const port = await refusedPort();
  const attempt = (i: number): Promise<void> => {
    const from = sourceAddress('127.88', i, 10_000);
    return new Promise<void>((resolve, reject) => {
      const u = dgram.createSocket('udp4');
      // A lost datagram must not hang the loop: the firmware's resolver would time out too.
      const lost = setTimeout(() => {
        u.close();
        reject(new Error('DNS answer lost'));
      }, 2000);
      u.once('message', () => {
        clearTimeout(lost);
        u.close();
        const c = net.connect({ host: '127.0.0.1', port, localAddress: from });
        c.once('error', () => resolve());
        c.once('connect', () => {
          c.destroy();
          reject(new Error('connected to a port that should refuse'));
        });
      });
      u.bind(0, from, () => u.send(query, dnsPort, '127.0.0.1'));
    });
  };
  const r = await boundedLoop(FLOOR_ATTEMPTS, FLOOR_CONCURRENCY, budgetMs, attempt);
  server.close();
  return { rate: r.done / (r.ms / 1000), done: r.done };
}

/** (b), real loopback sockets, with the raw floor measured in the same process. */
export async function benchDiscoveryWeekReal(scale: Scale): Promise<Figure[]> {
  const real = await realWeek(scale);
  note(`(b real) ${scale.weekDevices} devices: ${real.completed ? 'completed' : 'STOPPED at budget'} virtual ${round(real.virtualMs / DAY, 2)} d in ${round(real.wallMs / 1000, 1)} s, ${real.counts.attempts} attempts`);
  collectGarbage();
  const floor = await rawAttemptFloor(scale.loopBudgetMs);
  const expectedReal = scale.weekDevices * HELLOS_PER_WINDOW;
  const realRate = real.counts.attempts / (real.wallMs / 1000);
  note(`(b real) raw floor: ${round(floor.rate, 0)} attempts/s (${floor.done} raw attempts) → ${round(expectedReal / floor.rate, 1)} s for the week's ${expectedReal} attempts; emulator ${round(realRate, 0)}/s`);
  const realNotes = [
    'real loopback sockets: UDP DHCP/DNS to the fake servers, one TCP connect per hello refused by a closed port; VirtualClock',
    real.completed ? 'completed the whole virtual week' : `NOT completed: stopped at the ${scale.weekBudgetMs / 1000} s wall budget; value is a projection (wall × expected/made attempts)`,
  ];
  return [
    {
      id: 'b.real',
      title: `${scale.weekDevices} devices × ${scale.weekDays} virtual days, server down, real sockets: wall time${real.completed ? '' : ' (PROJECTED)'}`,
      value: round(real.projectedMs / 1000, 2),
      unit: 's',
      baseline: {
        value: round(expectedReal / floor.rate, 2),
        unit: 's',
        what: `raw floor: the same ${expectedReal} attempts as bare node:dgram query/answer + refused node:net connect from 127.x sources, ${FLOOR_CONCURRENCY} in flight (${floor.done} measured, rate extrapolated)`,
      },
      ratio: round(real.projectedMs / 1000 / (expectedReal / floor.rate), 2),
      target,
      met: real.completed && judge(real.wallMs / 1000, target.op, target.value),
      detail: {
        variant: 'real-sockets',
        ...weekDetail(real, scale.weekDevices),
        rawFloorAttemptsPerSecond: round(floor.rate, 0),
        dnsAnswers: real.counts.dnsAnswers,
        dhcpRenewals: real.counts.renewals,
        rssMB: round(real.rssMB, 0),
        timelineEvents: real.timelineEvents,
      },
      notes: realNotes,
    },
  ];
}

/** (b), the in-process LAN transport; its own child process, so b.real's heap does not weigh on it. */
export async function benchDiscoveryWeekMemory(scale: Scale): Promise<Figure[]> {
  collectGarbage();
  const mem = await memoryWeek(scale);
  note(`(b memory) ${scale.weekMemoryDevices} devices: ${mem.completed ? 'completed' : 'STOPPED at budget'} virtual ${round(mem.virtualMs / DAY, 2)} d in ${round(mem.wallMs / 1000, 1)} s, ${mem.counts.attempts} attempts`);
  return [
    {
      id: 'b.memory',
      title: `${scale.weekMemoryDevices} devices × ${scale.weekDays} virtual days, server down, in-process LAN transport (no kernel sockets): wall time${mem.completed ? '' : ' (PROJECTED)'}`,
      value: round(mem.projectedMs / 1000, 2),
      unit: 's',
      target,
      met: mem.completed && judge(mem.wallMs / 1000, target.op, target.value),
      detail: {
        variant: 'in-memory',
        ...weekDetail(mem, scale.weekMemoryDevices),
        refusedByNetwork: mem.refusedByNetwork,
        dnsAnswers: mem.counts.dnsAnswers,
        lanDatagrams: mem.datagrams,
        dhcpRenewals: mem.counts.renewals,
      },
      notes: [
        'Emulator with network.transport memory (src/network/memory-lan.ts): the same fake DHCP/DNS servers, firmware DHCP client, resolver and packets as b.real, delivered in process; hellos refused (nobody listens on the LAN)',
        mem.completed ? 'completed the whole virtual week' : `NOT completed: stopped at the ${scale.weekBudgetMs / 1000} s wall budget; value is a projection`,
      ],
    },
  ];
}
