/**
 * network.transport in scenario files: the schema takes kernel or memory, an external
 * provisioning server on the in-process LAN is refused at load time with file:line:column (it
 * could never receive a hello there), and a run's device count is bounded per transport.
 */
import { describe, expect, it } from 'vitest';
import { formatProblem, loadScenarioText, type ScenarioProblem } from '../../src/scenario/loader.js';
import { scenarioProblems } from '../helpers/scenario-problems.js';

const problems = (text: string): ScenarioProblem[] => scenarioProblems(text, 'lan.yaml');

describe('network.transport', () => {
  it('kernel and memory load; kernel is what an absent transport means', () => {
    for (const t of ['kernel', 'memory']) {
      const l = loadScenarioText(`name: x\nnetwork:\n  transport: ${t}\ndevices:\n  - {id: pc, count: 3}\nsteps:\n  - power: on\n`, 'lan.yaml');
      expect(l.scenario.network?.transport).toBe(t);
    }
  });

  it('an unknown transport names the two choices at the value', () => {
    const p = problems('name: x\nnetwork:\n  transport: netns\nsteps:\n  - power: on\n');
    expect(p).toHaveLength(1);
    expect(formatProblem(p[0]!)).toBe('lan.yaml:3:14: network.transport must be "kernel" or "memory"');
  });

  it('external on the memory LAN: one located line at the external key', () => {
    const text = [
      'name: outside server on the in-process LAN',
      'network:',
      '  transport: memory',
      '  dhcp: {domain: corp.example.test}',
      'provisioningServer:',
      '  external: {address: 127.0.0.1, port: 9971}',
      'devices:',
      '  - {id: pc1, state: setup}',
      'steps:',
      '  - power: on',
      '',
    ].join('\n');
    const p = problems(text);
    expect(p).toHaveLength(1);
    expect(formatProblem(p[0]!)).toBe(
      'lan.yaml:6:3: provisioningServer: external cannot be reached on network.transport: memory (the in-process LAN has no route out of this process); use transport: kernel, or provisioningServer: down to simulate a server nobody can reach',
    );
    // The same server on the kernel transport is fine.
    expect(loadScenarioText(text.replace('transport: memory', 'transport: kernel'), 'lan.yaml').scenario.provisioningServer).toEqual({ external: { address: '127.0.0.1', port: 9971 } });
  });

  it('device count: at most 1000 per run on kernel (its /22 block), 20000 on memory, reported where the total crosses', () => {
    const kernel = problems('name: x\ndevices:\n  - {id: a, count: 600}\n  - {id: b, count: 600}\n  - {id: c, count: 5}\nsteps:\n  - power: on\n');
    expect(kernel.map(formatProblem)).toEqual([
      'lan.yaml:4:20: this entry brings the run to 1200 devices; network.transport: kernel takes at most 1000 (each run owns a /22 of loopback addresses); use network.transport: memory for discovery runs of up to 20000',
    ]);
    expect(loadScenarioText('name: x\nnetwork: {transport: memory}\ndevices:\n  - {id: a, count: 600}\n  - {id: b, count: 600}\nsteps:\n  - power: on\n').scenario.devices).toHaveLength(2);
    const memory = problems('name: x\nnetwork: {transport: memory}\ndevices:\n  - {id: a, count: 20000}\n  - {id: b}\nsteps:\n  - power: on\n');
    expect(memory.map(formatProblem)).toEqual(['lan.yaml:5:10: this entry brings the run to 20001 devices; network.transport: memory takes at most 20000']);
    expect(problems('name: x\ndevices:\n  - {id: a, count: 20001}\nsteps:\n  - power: on\n')[0]!.message).toBe('devices[0].count must be <= 20000');
  });
});
