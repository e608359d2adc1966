// Child process for hardening-nvram-fleet.test.ts: an Emulator with a data directory and 50
// devices in virtual time. Each round advances the clock a minute (DHCP, DNS, hellos, window
// bookkeeping — the firmware's own NVRAM writes) and makes one NVRAM change per device, then
// prints every device's durable generation as one JSON line. The test SIGKILLs it at random.
// Bounded: stops after 20 s or 10,000 rounds even if nobody kills it.
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Emulator } from '../../src/fleet/emulator.js';

const [dataDir, ipBase] = process.argv.slice(2);
if (!dataDir || !ipBase) {
  process.stderr.write('usage: hardening-fleet-writer.ts <dataDir> <ipBase>\n');
  process.exit(2);
}
try {
  const clock = new VirtualClock();
  const emu = await Emulator.start({
    clock,
    seed: 'crash-fleet',
    dataDir,
    network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', ipBase },
  });
  const devices = emu.addDevices(50, { state: 'setup', helloPort: 9 });
  emu.powerOnAll();
  const deadline = Date.now() + 20_000;
  for (let round = 0; round < 10_000 && Date.now() < deadline; round++) {
    await clock.advance(60_000);
    for (const d of devices) d.update((img) => void (img.network.domain = round % 2 ? 'a.example.test' : ''));
    process.stdout.write(`${JSON.stringify(Object.fromEntries(devices.map((d) => [d.id, d.nvram.generation])))}\n`);
  }
  await emu.stop();
} catch (e) {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`${err.code ?? 'ERROR'}: ${err.message ?? String(e)}\n`);
  process.exit(1);
}
