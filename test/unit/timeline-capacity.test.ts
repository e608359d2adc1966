/**
 * Timeline capacity for big simulations: the oldest tenth is dropped when full and counted, the
 * capacity is a setting of the Emulator, fleet files, `serve` and scenarios (validated at each
 * edge), and JSON reports can leave passing scenarios' timelines out.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { FileLoadError } from '../../src/common/yaml-location.js';
import { Timeline } from '../../src/common/timeline.js';
import { loadFleetText } from '../../src/fleet/fleet-file.js';
import { Emulator } from '../../src/fleet/emulator.js';
import { toJsonReport } from '../../src/scenario/report.js';
import { runScenario, type ScenarioResult } from '../../src/scenario/runner.js';
import { loadScenarioText } from '../../src/scenario/loader.js';
import { planServeArgs } from '../helpers/serve-plan.js';

const servePlan = planServeArgs;

describe('timeline capacity', () => {
  it('drops the oldest tenth when full and counts what it dropped', () => {
    const clock = new VirtualClock();
    const t = new Timeline(clock, 1000);
    for (let i = 0; i < 1001; i++) t.record('pc1', 'hello.sent', { i });
    expect(t.length).toBe(900);
    expect(t.dropped).toBe(101);
    expect(t.all()[0]!.data['i']).toBe(101);
    expect(t.capacity).toBe(1000);
  });

  it('is an Emulator option, refused outside 1,000–10,000,000', async () => {
    const network = { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, ipBase: '127.88.0.10' };
    const emu = await Emulator.start({ clock: new VirtualClock(), network, timelineCapacity: 5000 });
    try {
      expect(emu.timeline.capacity).toBe(5000);
    } finally {
      await emu.stop();
    }
    await expect(Emulator.start({ clock: new VirtualClock(), network, timelineCapacity: 10 })).rejects.toThrow(/timelineCapacity must be a whole number from 1000 to 10000000, got 10/);
  });

  it('is a fleet file setting with located errors, and `serve --timeline-capacity` wins over it', () => {
    const f = loadFleetText('timeline: {capacity: 20000}\ndevices: [{id: pc1}]\n', 'fleet.yaml');
    expect(f.spec.timeline).toEqual({ capacity: 20000 });
    try {
      loadFleetText('devices: [{id: pc1}]\ntimeline:\n  capacity: 12\n', 'fleet.yaml');
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(FileLoadError);
      expect((e as Error).message).toMatch(/^fleet\.yaml:3:13: timeline\.capacity must be >= 1000/);
    }
    expect(servePlan(['--count', '1']).timelineCapacity).toBeUndefined();
    expect(servePlan(['--count', '1', '--timeline-capacity', '50000']).timelineCapacity).toBe(50000);
    expect(() => servePlan(['--count', '1', '--timeline-capacity', '5'])).toThrow(/--timeline-capacity must be a whole number from 1000 to 10000000, got "5"/);
  });

  it('is a scenario setting; the result says how many events the run dropped', async () => {
    const text = [
      'name: many PCs, small timeline',
      'timeline: {capacity: 1000}',
      'network: {transport: memory, dhcp: {domain: corp.example.test}}',
      'devices:',
      ...Array.from({ length: 30 }, (_, i) => `  - {id: pc${i + 1}, state: setup}`),
      'steps:',
      '  - power: on',
      '  - advance: 6h',
      '',
    ].join('\n');
    const r = await runScenario(loadScenarioText(text, 'small-timeline.yaml'));
    expect(r.failures).toEqual([]);
    expect(r.timelineDropped).toBeGreaterThan(0);
    expect(r.timeline.length).toBeLessThanOrEqual(1000);
  });
});

describe('JSON report', () => {
  const result = (name: string, passed: boolean, events: number): ScenarioResult => ({
    file: `${name}.yaml`, name, passed, durationVirtualMs: 60_000, wallMs: 3, steps: [], failures: [], timelineDropped: 0,
    timeline: Array.from({ length: events }, (_, i) => ({ t: i, deviceId: 'pc1', type: 'hello.sent', data: { note: 'quote " and \\ backslash' } })),
  });

  it('is the same data as JSON.stringify, one timeline event per line', () => {
    const results = [result('a', true, 3), result('b', false, 2)];
    const text = toJsonReport(results);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify({ passed: false, results })));
    const eventLines = text.split('\n').filter((l) => l.includes('"type":"hello.sent"'));
    expect(eventLines).toHaveLength(5);
  });

  it('leaves passing scenarios\' timelines out with --json-timeline failed, and all with none', () => {
    const results = [result('a', true, 3), result('b', false, 2)];
    const failed = JSON.parse(toJsonReport(results, { timeline: 'failed' })) as { results: Array<{ timeline: unknown[]; timelineLeftOut?: number }> };
    expect(failed.results[0]).toMatchObject({ timeline: [], timelineLeftOut: 3 });
    expect(failed.results[1]!.timeline).toHaveLength(2);
    expect(failed.results[1]!.timelineLeftOut).toBeUndefined();
    const none = JSON.parse(toJsonReport(results, { timeline: 'none' })) as typeof failed;
    expect(none.results.map((r) => r.timelineLeftOut)).toEqual([3, 2]);
  });

  it('cannot be confused by a scenario name that looks like its placeholder', () => {
    const r = result('\u0000timeline:0', true, 1);
    expect(JSON.parse(toJsonReport([r])).results[0].name).toBe('\u0000timeline:0');
  });
});
