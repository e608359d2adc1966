/**
 * A fault rule for one device (`device:` on a `fault: {rule}` step) fires only for that device,
 * and a `reset` on the TLS port 16993 resets the TCP connection — it used to throw
 * ERR_INVALID_HANDLE_TYPE from the TLS socket and take the whole process down.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/scenario/runner.js';
import { loadScenarioText } from '../../src/scenario/loader.js';

describe('per-device fault rules', () => {
  it('reset on 16993 for pc2 only: pc1 answers, pc2 sees a TCP reset, the run goes on', async () => {
    const text = [
      'name: per-device reset',
      'network: {dhcp: {domain: corp.example.test}}',
      'devices:',
      '  - {id: pc1, state: configured}',
      '  - {id: pc2, state: configured}',
      'steps:',
      '  - power: on',
      '  - advance: 1m',
      '  - device: pc2',
      '    fault: {rule: {port: 16993, effect: reset, firstN: 1}}',
      '  - {device: pc1, wsman: {get: AMT_GeneralSettings}}',
      '  - {device: pc2, wsman: {get: AMT_GeneralSettings, expectCode: WSMAN_CLOSED}}',
      '  - {device: pc2, wsman: {get: AMT_GeneralSettings}}',
      '  - expect: {device: pc2, events: [{type: fault.reset, count: 1}]}',
      '  - expect: {device: pc1, noEvents: [fault.]}',
      '',
    ].join('\n');
    const r = await runScenario(loadScenarioText(text, 'per-device-reset.yaml'));
    expect(r.failures.map((f) => f.message)).toEqual([]);
    expect(r.steps[4]!.message).toMatch(/ECONNRESET/);
  }, 60_000);

  it('refuses device: on a fault step that is not only a rule', () => {
    expect(() => loadScenarioText('name: x\ndevices: [{id: pc1}]\nsteps:\n  - device: pc1\n    fault: {dhcp: {nak: true}}\n', 'x.yaml')).toThrow(/device applies to a fault step with only a rule/);
  });
});
