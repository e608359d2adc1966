/**
 * The `wsman:` scenario step's file checks (one call per step, expectations that fit the call,
 * class names as AMT spells them, all located) and the admin password a console tries by default.
 */
import { describe, expect, it } from 'vitest';
import { loadScenarioText, type ScenarioProblem } from '../../src/scenario/loader.js';
import { AdminPasswords } from '../../src/scenario/runner.js';
import { scenarioProblems } from '../helpers/scenario-problems.js';

const problems = (text: string): ScenarioProblem[] => scenarioProblems(text, 'w.yaml');

const head = 'name: w\ndevices:\n  - {id: pc1, state: configured}\nsteps:\n';

describe('wsman step in scenario files', () => {
  it('accepts get, enumerate, put and invoke with their expectations', () => {
    const l = loadScenarioText(
      head +
        [
          '  - {device: pc1, wsman: {get: AMT_GeneralSettings, expect: {properties: {DigestRealm: x}}}}',
          '  - {device: pc1, wsman: {enumerate: AMT_EthernetPortSettings, expect: {count: 1}}}',
          '  - {device: pc1, wsman: {put: {class: AMT_RedirectionService, properties: {ListenerEnabled: true}}}}',
          '  - {device: pc1, wsman: {invoke: {class: IPS_OptInService, method: SendOptInCode, input: {OptInCode: "{{consentCode}}"}}, expect: {returnValue: 0}}}',
          '  - {device: pc1, wsman: {get: IPS_OptInService, password: nope, expectCode: WSMAN_AUTH_FAILED}}',
        ].join('\n') +
        '\n',
      'w.yaml',
    );
    expect(l.scenario.steps.map((s) => Object.keys(s.wsman ?? {})[0])).toEqual(['get', 'enumerate', 'put', 'invoke', 'get']);
  });

  it('refuses two calls in one step, and none, where they are', () => {
    const two = problems(head + '  - {device: pc1, wsman: {get: AMT_GeneralSettings, enumerate: AMT_GeneralSettings}}\n');
    expect(two[0]).toMatchObject({ line: 5 });
    expect(two[0]!.message).toContain('wsman does one call: get and enumerate given');
    const none = problems(head + '  - {device: pc1, wsman: {expect: {count: 1}}}\n');
    expect(none[0]!.message).toContain('wsman needs one of get, enumerate, put, invoke');
  });

  it('refuses expectations the call cannot meet, and expect with expectCode', () => {
    const rv = problems(head + '  - {device: pc1, wsman: {get: AMT_GeneralSettings, expect: {returnValue: 0}}}\n');
    expect(rv[0]!.message).toContain("returnValue is a method's answer; get has none");
    const both = problems(head + '  - {device: pc1, wsman: {get: AMT_GeneralSettings, expect: {properties: {A: 1}}, expectCode: WSMAN_FAULT}}\n');
    expect(both[0]!.message).toContain('use expect (the call succeeds) or expectCode (it fails), not both');
  });

  it('refuses a class name AMT would not know, pointing at it', () => {
    const p = problems(head + '  - {device: pc1, wsman: {get: GeneralSettings}}\n');
    expect(p[0]).toMatchObject({ line: 5 });
    expect(p[0]!.message).toMatch(/steps\[0\]\.wsman\.get must match/);
  });
});

describe('default admin password of a wsman step', () => {
  it("is the device's own, else P@ssw0rd for a PC that starts configured, else the reference server's", () => {
    const l = loadScenarioText(
      [
        'name: pw',
        'provisioningServer: {reference: {certificate: valid, adminPassword: Srv-Passw0rd!}}',
        'devices:',
        '  - {id: own, state: configured, adminPassword: Own-Passw0rd!}',
        '  - {id: cfg, state: configured}',
        '  - {id: new, state: setup, count: 2}',
        'steps:',
        '  - power: on',
        '',
      ].join('\n'),
      'pw.yaml',
    );
    const pw = new AdminPasswords(l.scenario);
    expect([pw.of('own'), pw.of('cfg'), pw.of('new-1'), pw.of('new-2')]).toEqual(['Own-Passw0rd!', 'P@ssw0rd', 'Srv-Passw0rd!', 'Srv-Passw0rd!']);
    pw.set('new-1', 'Host-Passw0rd!');
    expect(pw.of('new-1')).toBe('Host-Passw0rd!');
  });
});
