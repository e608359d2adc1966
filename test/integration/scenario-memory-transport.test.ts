/**
 * Scenarios on the in-process LAN (network.transport: memory). The same steps, expectations and
 * firmware as on loopback sockets: library scenarios that cover every step kind pass unchanged
 * on it; a run with network faults, a link flap and a clock jump gives the same device timeline
 * on both transports; the sink and `down` endpoints sit on the LAN (its counters move, nothing
 * is bound in the kernel); and an external server, which the LAN cannot reach, is refused.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatResult } from '../../src/scenario/report.js';
import { loadScenarioFile } from '../../src/scenario/loader.js';
import { startNetwork } from '../../src/scenario/network-api.js';
import { runScenario } from '../../src/scenario/runner.js';
import type { NetworkTransport, Scenario } from '../../src/scenario/types.js';
import { buildWorld } from '../../src/scenario/world.js';

const dir = join(import.meta.dirname, '../../scenarios');

describe('library scenarios on network.transport: memory', () => {
  // Between them: sink, down/up faults, reference (PKI), agent, remote (host-based, real TCP to
  // the WS-Man listener), WS-Man fault rules, unprovision, mebx, usbSetup, DNS failures.
  const files = [
    'provisioning-server-down.yaml',
    'bare-metal-success.yaml',
    'agent-initiated-success.yaml',
    'host-based-acm.yaml',
    'admin-setup-fails-once.yaml',
    'partial-unprovision-then-reprovision.yaml',
    'mebx-manual-smb-setup.yaml',
    'usb-setup-factory-success.yaml',
    'dns-nxdomain-keeps-schedule.yaml',
  ];
  for (const f of files) {
    it(f, async () => {
      const loaded = loadScenarioFile(join(dir, f));
      expect(loaded.scenario.network?.transport, 'the library file runs on the kernel').toBeUndefined();
      loaded.scenario.network = { ...loaded.scenario.network, transport: 'memory' };
      const r = await runScenario(loaded);
      expect(r.passed, formatResult(r)).toBe(true);
    }, 60_000);
  }
});

function faulty(transport: NetworkTransport): Scenario {
  return {
    name: 'network faults, a link flap and a clock jump',
    seed: 'same-on-both',
    network: { transport, dhcp: { domain: 'corp.example.test' } },
    provisioningServer: 'sink',
    devices: [{ id: 'pc1', state: 'setup' }],
    steps: [
      { fault: { dns: { 'ProvisionServer.corp.example.test': 'nxdomain' } } },
      { power: 'on' },
      { expect: { device: 'pc1', hellos: 0, events: [{ type: 'hello.skipped', code: 'DNS_NXDOMAIN', count: 5, within: '4m30s' }] } },
      { fault: { dns: { 'ProvisionServer.corp.example.test': 'ok' } } },
      { advance: '6m' },
      // Minutes 5 and 10 of the schedule (reference §2.1).
      { expect: { device: 'pc1', hellos: 2, server: { hellos: 2 } } },
      { fault: { dhcp: { nak: true } } },
      { link: 'down' },
      { link: 'up' },
      { advance: '2m' },
      { fault: { dhcp: 'reset' } },
      { advance: '10m' },
      { fault: { clockJump: '2h' } },
      { fault: { provisioningServer: 'down' } },
      { advance: '1h' },
      { expect: { device: 'pc1', events: [{ type: 'hello.failed', code: 'HELLO_CONNECT_FAILED', min: 1 }, { type: 'dhcp.lease', min: 2 }] } },
    ],
  };
}

describe('a run with network faults on either transport', () => {
  it('passes on both and gives the device the same timeline (time, event, code)', async () => {
    const kernel = await runScenario(faulty('kernel'));
    const memory = await runScenario(faulty('memory'));
    expect(kernel.passed, formatResult(kernel)).toBe(true);
    expect(memory.passed, formatResult(memory)).toBe(true);
    const shape = (r: typeof kernel): string[] => r.timeline.filter((e) => e.deviceId === 'pc1').map((e) => `${e.t} ${e.type}${e.code ? ` ${e.code}` : ''}`);
    expect(shape(memory)).toEqual(shape(kernel));
  }, 60_000);
});

describe('hello endpoints on the in-process LAN', () => {
  it('sink hears hellos as a LAN listener; down unregisters it, so connects are refused; up brings it back', async () => {
    const world = await buildWorld({
      name: 'sink on the LAN',
      network: { transport: 'memory', dhcp: { domain: 'corp.example.test' } },
      provisioningServer: 'sink',
      devices: [{ id: 'pc1', state: 'setup' }],
      steps: [{ power: 'on' }],
    });
    try {
      const lan = world.emu.lan!;
      expect(lan).toBeDefined();
      // The LAN is the run's own: the endpoint takes the firmware's default port.
      expect(world.endpoint.port).toBe(9971);
      world.emu.device('pc1').powerOn();
      await world.virtual!.advance(4 * 60_000 + 30_000);
      const address = world.emu.plannedAddress('pc1')!;
      expect(world.endpoint.hellosFrom(address)).toBe(5);
      expect(lan.stats).toMatchObject({ hellos: 5, refused: 0 });
      await world.endpoint.down();
      expect(world.endpoint.listening).toBe(false);
      await world.virtual!.advance(60_000);
      expect(lan.stats).toMatchObject({ hellos: 5, refused: 1 });
      await world.endpoint.up();
      await world.virtual!.advance(5 * 60_000);
      expect(world.endpoint.hellosFrom(address)).toBe(6);
    } finally {
      await world.close();
    }
  });

  it('down registers nothing: every hello is refused on the LAN', async () => {
    const world = await buildWorld({
      name: 'down on the LAN',
      network: { transport: 'memory', dhcp: { domain: 'corp.example.test' } },
      provisioningServer: 'down',
      devices: [{ id: 'pc1', state: 'setup' }],
      steps: [{ power: 'on' }],
    });
    try {
      world.emu.device('pc1').powerOn();
      await world.virtual!.advance(10 * 60_000);
      expect(world.emu.lan!.stats).toMatchObject({ hellos: 0, refused: 7 });
    } finally {
      await world.close();
    }
  });

  it('an external server on the LAN is refused before anything starts (API path, which skips the loader)', async () => {
    await expect(startNetwork({ network: { transport: 'memory' }, provisioningServer: { external: { address: '127.0.0.1' } } })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('provisioningServer: external cannot be reached on network.transport: memory'),
    });
  });
});
