/**
 * (a) Start a fleet: Emulator.start, addDevices(N), powerOnAll, run virtual time until every
 * device holds its DHCP lease from the fake server over real loopback UDP. Wall time, and RSS
 * growth per device after a forced GC. Devices are in factory state so the figure is the cost
 * of existing and taking a lease, not of saying hello (that is (b)).
 */
import { VirtualClock } from '../src/clock/virtual-clock.js';
import { Emulator } from '../src/fleet/emulator.js';
import { collectGarbage, judge, note, round, type Figure, type Scale } from './lib.js';

export async function benchFleetStart(scale: Scale): Promise<Figure[]> {
  const n = scale.startDevices;
  collectGarbage();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const clock = new VirtualClock();
  const t0 = performance.now();
  const emu = await Emulator.start({
    clock,
    seed: 'bench-a',
    network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'bench.example.test', ipBase: '127.90.0.10' },
  });
  const tStarted = performance.now();
  emu.addDevices(n, { state: 'factory', prefix: 'a' });
  const tAdded = performance.now();
  let leased = 0;
  // Count leases from the timeline: a predicate scanning every device after every timer is O(n²).
  const unsubscribe = emu.timeline.subscribe((e) => {
    if (e.type === 'dhcp.lease' && e.data['renewed'] === false) leased++;
  });
  emu.powerOnAll();
  const ok = await clock.runUntil(() => leased >= n, 10 * 60_000);
  const tLeased = performance.now();
  unsubscribe();
  collectGarbage();
  const rss1 = process.memoryUsage().rss;
  const heap1 = process.memoryUsage().heapUsed;
  const events = emu.timeline.length;
  await emu.stop();

  const wallMs = tLeased - t0;
  const rssPerDevice = (rss1 - rss0) / n;
  note(`(a) ${n} devices: start ${round(tStarted - t0, 0)} ms, addDevices ${round(tAdded - tStarted, 0)} ms, power-on → all leased ${round(tLeased - tAdded, 0)} ms (virtual ${clock.now()} ms); RSS +${round((rss1 - rss0) / 1e6, 1)} MB`);
  const notes = ['factory-state devices; leases over real loopback UDP from the fake DHCP server, virtual time', 'RSS measured after a forced GC, including the timeline of the start'];
  if (!ok) notes.push(`only ${leased}/${n} devices leased within 10 virtual minutes`);
  const detail = {
    devices: n,
    leased,
    phasesMs: { emulatorStart: round(tStarted - t0, 1), addDevices: round(tAdded - tStarted, 1), powerOnToLease: round(tLeased - tAdded, 1) },
    virtualMs: clock.now(),
    rssBytes: rss1 - rss0,
    heapBytesPerDevice: round((heap1 - heap0) / n, 0),
    timelineEvents: events,
  };
  return [
    { id: 'a.wall', title: `start ${n} devices to lease: wall time`, value: round(wallMs / 1000), unit: 's', target: { of: 'value', op: '<', value: 5 }, met: ok && judge(wallMs / 1000, '<', 5), detail, notes },
    { id: 'a.rss', title: `start ${n} devices: RSS per device`, value: round(rssPerDevice / 1024, 1), unit: 'KB', target: { of: 'value', op: '<', value: 100 }, met: judge(rssPerDevice / 1024, '<', 100), detail: { devices: n }, notes: [] },
  ];
}
