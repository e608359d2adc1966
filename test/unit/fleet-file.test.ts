/**
 * The fleet file loader: the example fleets load, every kind of mistake comes back as
 * file:line:column with a message naming what is wrong, and duplicate UUIDs load on purpose.
 */
import { describe, expect, it } from 'vitest';
import { FileLoadError } from '../../src/common/yaml-location.js';
import { loadFleetFile, loadFleetText } from '../../src/fleet/fleet-file.js';

function problem(text: string): string {
  try {
    loadFleetText(text, 'fleet.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(FileLoadError);
    expect((e as FileLoadError).code).toBe('BAD_INPUT');
    return (e as FileLoadError).message;
  }
  throw new Error('expected the fleet file to be refused');
}

describe('fleet file', () => {
  it('expands templates × count with per-device overrides, later layers winning', () => {
    const f = loadFleetText(
      [
        'templates:',
        '  desk: { profile: amt12, state: setup, provisioningServer: { fqdn: rcs.corp.example.test } }',
        'devices:',
        '  - template: desk',
        '    count: 3',
        '    trigger: listen',
        '    overrides:',
        '      desk2: { state: configured, macs: ["00-16-3E-00-00-02"], provisioningServer: { port: 9999 } }',
        '  - id: solo',
        '    profile: amt19',
      ].join('\n'),
    );
    expect(f.devices.map((d) => d.id)).toEqual(['desk1', 'desk2', 'desk3', 'solo']);
    expect(f.devices[0]!.fields).toEqual({ profile: 'amt12', state: 'setup', trigger: 'listen', provisioningServer: { fqdn: 'rcs.corp.example.test' } });
    expect(f.devices[1]!.fields).toMatchObject({ state: 'configured', macs: ['00-16-3E-00-00-02'], provisioningServer: { fqdn: 'rcs.corp.example.test', port: 9999 } });
    expect(f.devices[3]!.fields).toEqual({ profile: 'amt19' });
  });

  it('loads the example fleets, reporting (not refusing) duplicate UUIDs', () => {
    const lab = loadFleetFile('fleets/lab.yaml');
    expect(lab.devices).toHaveLength(13);
    expect(lab.duplicateUuids).toEqual([{ uuid: '4c4c4544-0042-3910-8051-c7c04f4d3232', devices: ['clone-a', 'clone-b'] }]);
    expect(loadFleetFile('fleets/trust-edge-cases.yaml').devices).toHaveLength(5);
    expect(loadFleetFile('fleets/large.yaml').devices).toHaveLength(2000);
    const week = loadFleetFile('fleets/week-server-down.yaml');
    expect(week.devices).toHaveLength(10000);
    expect(week.spec.network?.transport).toBe('memory');
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(problem('devices:\n  - id: a\n    state: [setup\n')).toMatch(/^fleet\.yaml:\d+:\d+: YAML: /);
    expect(problem('devices:\n  - id: a\n    id: b\n')).toMatch(/^fleet\.yaml:3:5: YAML: .*unique/i);
  });

  it('reports schema errors at the offending key or value', () => {
    expect(problem('devices:\n  - id: a\n    stat: setup\n')).toMatch(/^fleet\.yaml:3:5: unknown key "stat" in devices\[0\] \(allowed: profile, state, /);
    expect(problem('devices:\n  - id: a\n    state: broken\n')).toBe('fleet.yaml:3:12: devices[0].state must be one of "factory", "setup" or "configured"');
    expect(problem('devices:\n  - count: 0\n')).toBe('fleet.yaml:2:12: devices[0].count must be >= 1');
    expect(problem('network:\n  ipBase: 10.0.0\ndevices: [{id: a}]\n')).toMatch(/^fleet\.yaml:2:11: network\.ipBase must match pattern .*\(got "10\.0\.0"\)$/);
    expect(problem('name: x\n')).toBe('fleet.yaml:1:1: the fleet file needs "devices"');
    expect(problem('')).toBe('fleet.yaml:1:1: the fleet file is empty (it needs "devices")');
    expect(problem('devices:\n  - id: a\n    uuid: not-a-uuid\n')).toMatch(/^fleet\.yaml:3:11: devices\[0\]\.uuid must match pattern/);
    expect(problem('network:\n  transport: udp\ndevices: [{id: a}]\n')).toBe('fleet.yaml:2:14: network.transport must be "kernel" or "memory"');
    expect(loadFleetText('network:\n  transport: memory\ndevices: [{id: a}]\n', 'fleet.yaml').spec.network?.transport).toBe('memory');
  });

  it('reports semantic problems where they are written', () => {
    expect(problem('devices:\n  - id: a\n    template: nope\n')).toBe('fleet.yaml:3:15: unknown template "nope" (the file has no templates)');
    expect(problem('devices:\n  - id: a\n  - id: a\n')).toBe('fleet.yaml:3:5: device id "a" is already used by devices[0]');
    expect(problem('devices:\n  - count: 2\n  - count: 1\n')).toBe('fleet.yaml:3:5: device id "pc1" is already used by devices[0]; give this group its own "prefix"');
    expect(problem('devices:\n  - id: a\n    count: 2\n')).toBe('fleet.yaml:3:5: a device entry has either "id" (one device) or "count" (a group), not both');
    expect(problem('devices:\n  - template: t\ntemplates:\n  t: {}\n')).toBe('fleet.yaml:2:5: a device entry needs "id" (one device) or "count" (a group)');
    expect(problem('devices:\n  - count: 2\n    overrides:\n      pc9: { state: setup }\n')).toBe('fleet.yaml:4:7: override for "pc9", which this entry does not make (it makes pc1, pc2)');
    expect(problem('devices:\n  - count: 2\n    macs: ["00:16:3e:00:00:01"]\n')).toMatch(/^fleet\.yaml:3:5: "macs" on a group of 2 would give them all the same MAC/);
    expect(problem('devices:\n  - id: a\n    macs: ["00:16:3e:00:00:01"]\n  - id: b\n    macs: ["00:16:3E:00:00:01"]\n')).toBe(
      "fleet.yaml:5:11: MAC 00:16:3e:00:00:01 of b is already a's (the fake DHCP server reserves addresses by MAC)",
    );
    expect(problem('network: { ipBase: 127.255.255.250 }\ndevices:\n  - count: 10\n')).toMatch(/^fleet\.yaml:1:20: network\.ipBase/);
  });

  it('dry-runs hash edits against the firmware rules and points at the layer that set them', () => {
    const tpl = 'templates:\n  t:\n    profile: amt16\n    hashes: { add: [{ name: old, algorithm: SHA1, hash: "' + 'ab'.repeat(20) + '" }] }\ndevices:\n  - { id: a, template: t }\n';
    expect(problem(tpl)).toMatch(/^fleet\.yaml:4:13: a: hashes\.add\[0\]: SHA1 hashes cannot be added on amt16/);
    expect(problem('devices:\n  - id: a\n    hashes: { add: [{ name: x, hash: "abcd" }] }\n')).toMatch(/^fleet\.yaml:3:13: a: hashes\.add\[0\]: SHA256 hash must be 64 hex characters/);
    expect(problem('devices:\n  - id: a\n    hashes: { add: [{ name: x }] }\n')).toMatch(/needs exactly one of "hash" or "root"/);
    expect(problem('provisioningServer: { address: 127.0.0.9 }\ndevices:\n  - id: a\n    hashes: { add: [{ name: x, root: builtin }] }\n')).toMatch(/root "builtin" needs provisioningServer: builtin/);
    expect(problem('devices:\n  - id: a\n    hashes: { deactivate: [no-such-root] }\n')).toMatch(/^fleet\.yaml:3:13: a: hashes\.deactivate "no-such-root": /);
  });

  it('allows duplicate UUIDs and says which devices share one', () => {
    const f = loadFleetText('devices:\n  - { id: a, uuid: 4C4C4544-0042-3910-8051-C7C04F4D3232 }\n  - { id: b, uuid: 4c4c4544-0042-3910-8051-c7c04f4d3232 }\n  - { id: c }\n');
    expect(f.devices).toHaveLength(3);
    expect(f.duplicateUuids).toEqual([{ uuid: '4c4c4544-0042-3910-8051-c7c04f4d3232', devices: ['a', 'b'] }]);
  });

  it('says so when the file cannot be read', () => {
    expect(() => loadFleetFile('/nonexistent/fleet.yaml')).toThrow('/nonexistent/fleet.yaml:1:1: cannot read fleet file: no such file');
  });
});

describe('complex YAML keys (a fuzz counterexample)', () => {
  it('still give one line per problem with file:line:column, in fleet and scenario files', async () => {
    const { loadFleetText } = await import('../../src/fleet/fleet-file.js');
    const { loadScenarioText } = await import('../../src/scenario/loader.js');
    // fleets/lab.yaml with a line turned into an explicit complex key by the fuzzer: yaml renders
    // the key as a flow map wrapped over several lines.
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../fixtures/fleet-complex-key.yaml', import.meta.url), 'utf8');
    for (const load of [() => loadFleetText(text, 'f.yaml'), () => loadScenarioText(text, 'f.yaml')]) {
      let message = '';
      try {
        load();
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toBe('');
      for (const line of message.split('\n')) expect(line).toMatch(/^f\.yaml:\d+:\d+: \S/);
    }
  });
});
