/**
 * The runner on real loopback sockets in virtual time: a passing scenario, a deliberately failing
 * expectation (expected vs actual and the timeline excerpt), setup errors as failed results, the
 * JUnit XML shape and the `amtemu run` command's exit codes and output.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/run-command.js';
import { formatResult, toJUnit } from '../../src/scenario/report.js';
import { loadScenarioFile } from '../../src/scenario/loader.js';
import { runLoaded, runScenario } from '../../src/scenario/runner.js';
import type { Scenario } from '../../src/scenario/types.js';

const dir = mkdtempSync(join(tmpdir(), 'amtemu-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const passing: Scenario = {
  name: 'five hellos in five minutes',
  network: { dhcp: { domain: 'corp.example.test' } },
  devices: [{ id: 'pc1', state: 'setup' }],
  steps: [{ power: 'on' }, { expect: { device: 'pc1', window: 'bareMetal', events: [{ type: 'hello.sent', count: 5, within: '4m30s' }] } }],
};

const failingYaml = `name: deliberately wrong
network:
  dhcp: {domain: corp.example.test}
devices:
  - {id: pc1, state: setup}
steps:
  - power: on
  - advance: 10m
  - expect:
      device: pc1
      state: configured
      hellos: 3
`;

describe('scenario runner', () => {
  it('passes a scenario given as an object, with per-step results and the timeline', async () => {
    const r = await runScenario(passing);
    expect(r.passed, formatResult(r)).toBe(true);
    expect(r.file).toBe('<inline>');
    expect(r.steps.map((s) => [s.index, s.kind, s.ok])).toEqual([[0, 'power', true], [1, 'expect', true]]);
    expect(r.durationVirtualMs).toBe(270_000);
    expect(r.timeline.filter((e) => e.type === 'hello.sent')).toHaveLength(5);
    expect(r.failures).toEqual([]);
  });

  it('a failed expectation reports expected vs actual, the step line and the device timeline around it', async () => {
    const file = join(dir, 'wrong.yaml');
    writeFileSync(file, failingYaml);
    const r = await runScenario(file);
    expect(r.passed).toBe(false);
    expect(r.failures).toHaveLength(1);
    const f = r.failures[0]!;
    expect(f).toMatchObject({ step: 2, line: 9, deviceId: 'pc1', t: 600_000 });
    expect(f.checks).toEqual([
      { deviceId: 'pc1', what: 'state', expected: 'configured', actual: 'setup', ok: false },
      { deviceId: 'pc1', what: 'hellos sent', expected: '3', actual: '7', ok: false },
    ]);
    expect(f.message).toBe('expectation failed: pc1 state: expected configured, got setup; pc1 hellos sent: expected 3, got 7');
    expect(f.excerpt.length).toBeGreaterThan(0);
    expect(f.excerpt.length).toBeLessThanOrEqual(16);
    expect(f.excerpt.every((l) => l.includes(' pc1 '))).toBe(true);
    expect(f.excerpt.at(-1)).toContain('hello.sent');
    const text = formatResult(r);
    expect(text).toContain('✗ deliberately wrong');
    expect(text).toContain(`step 3 (${file}:9): expect`);
    expect(text).toMatch(/expected: configured\n\s+actual: {3}setup/);
    expect(text).toContain('timeline of pc1 around +10m');
  });

  it('a bad file and a setup error become failed results, not exceptions', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nsteps:\n  - advance: later\n');
    const r = await runScenario(bad);
    expect(r.passed).toBe(false);
    expect(r.failures[0]).toMatchObject({ step: -1 });
    expect(r.failures[0]!.message).toBe(`${bad}:3:14: bad duration "later": cannot read "later" (units: ms, s, m, h, d — e.g. "90s", "6h", "1d 2h")`);
    const setup = await runScenario({
      name: 'SHA-1 hash on amt16',
      devices: [{ id: 'pc1', profile: 'amt16', hashes: { add: [{ name: 'old', algorithm: 'SHA1', hash: 'aa'.repeat(20) }] } }],
      steps: [{ power: 'on' }],
    });
    expect(setup.passed).toBe(false);
    expect(setup.failures[0]!.message).toContain('device pc1: hashes.add[0]: SHA1 hashes cannot be added on amt16');
  });

  it('JUnit XML: testsuites/testsuite/testcase with failure and error elements, escaped', async () => {
    const a = await runScenario(passing);
    const b = await runScenario(join(dir, 'wrong.yaml'));
    const c = await runScenario({ name: 'broken <&> "file"', steps: [{ advance: 'x' }] } as Scenario);
    const xml = toJUnit([a, b, c]);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as {
      testsuites: { tests: string; failures: string; errors: string; testsuite: { testcase: Array<Record<string, unknown>> } };
    };
    expect(doc.testsuites).toMatchObject({ tests: '3', failures: '1', errors: '1' });
    const cases = doc.testsuites.testsuite.testcase;
    expect(cases.map((tc) => tc['name'])).toEqual(['five hellos in five minutes', 'deliberately wrong', 'broken <&> "file"']);
    expect(cases[0]!['failure']).toBeUndefined();
    expect((cases[1]!['failure'] as { type: string }).type).toBe('ExpectationFailed');
    expect((cases[2]!['error'] as { type: string }).type).toBe('ScenarioError');
    expect(xml).not.toMatch(/\x1b/);
  });

  it('amtemu run: exit 0/1/2, ✓/✗ lines, JUnit and Mermaid files', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'name: good\nnetwork: {dhcp: {domain: corp.example.test}}\ndevices: [{id: pc1, state: setup}]\nsteps:\n  - power: on\n  - expect: {device: pc1, hellos: 1}\n');
    let out = '';
    let err = '';
    const io = { write: (s: string) => void (out += s), writeErr: (s: string) => void (err += s) };
    expect(await runCommand([good], { jobs: 2, junit: join(dir, 'j.xml'), mermaid: join(dir, 'mmd'), ...io })).toBe(0);
    expect(out).toMatch(/^✓ good {2}\(/);
    expect(out).toContain('1 passed (1 scenario)');
    expect(readFileSync(join(dir, 'j.xml'), 'utf8')).toContain('<testcase classname=');
    expect(readFileSync(join(dir, 'mmd', 'good.mmd'), 'utf8')).toMatch(/^sequenceDiagram/);
    out = '';
    expect(await runCommand([good, join(dir, 'wrong.yaml')], { jobs: 2, ...io })).toBe(1);
    expect(out).toContain('✗ deliberately wrong');
    expect(out).toContain('1 passed, 1 failed (2 scenarios)');
    out = '';
    expect(await runCommand([good, join(dir, 'bad.yaml')], { jobs: 1, ...io })).toBe(2);
    expect(err).toBe(`${join(dir, 'bad.yaml')}:3:14: bad duration "later": cannot read "later" (units: ms, s, m, h, d — e.g. "90s", "6h", "1d 2h")\n`);
    await expect(runCommand([join(dir, 'missing.yaml')], { jobs: 1, ...io })).rejects.toThrow(/no such file or directory/);
  });
});

describe('mebx and usbSetup steps: expectCode', () => {
  it('success, the expected refusal, a different code and an unexpected refusal each read plainly', async () => {
    const r = await runScenario({
      name: 'mebx outcomes',
      devices: [{ id: 'pc1' }],
      steps: [
        { mebx: { op: 'hostname', password: 'admin', hostname: 'pc1', expectCode: 'NOT_PERMITTED' } },
        { mebx: { op: 'password', password: 'admin', newPassword: 'Mebx!2pass', expectCode: 'INVALID_PASSWORD' } },
        { mebx: { op: 'password', password: 'Mebx!2pass', newPassword: 'weak' } },
        { mebx: { op: 'password', password: 'wrong', newPassword: 'Mebx!3pass', expectCode: 'INVALID_PASSWORD' } },
        { expect: { device: 'pc1', state: 'setup', nvram: { mebxPasswordChanged: true }, events: [{ type: 'mebx.refused', count: 3 }] } },
      ],
    });
    expect(r.steps.map((s) => s.ok)).toEqual([true, false, false, false, true]);
    expect(r.steps[0]!.message).toBe("pc1: mebx hostname refused as expected: NOT_PERMITTED (the default MEBx password 'admin' must be changed first (mebx password))");
    expect(r.failures.map((f) => [f.step, f.deviceId, f.message])).toEqual([
      [1, 'pc1', 'pc1 mebx password: expected refusal INVALID_PASSWORD, but it succeeded (done; state setup)'],
      [2, 'pc1', 'pc1 mebx password refused: INVALID_PASSWORD: MEBx password must be 8-32 characters with an upper-case and a lower-case letter, a digit and a non-alphanumeric character (not : , ")'],
      [3, 'pc1', 'pc1 mebx password: expected INVALID_PASSWORD, got MEBX_PASSWORD_WRONG: current MEBx password incorrect'],
    ]);
    // The refusal the step reports is the one the device recorded, at the step's time.
    expect(r.timeline.filter((e) => e.type === 'mebx.refused').map((e) => e.code)).toEqual(['NOT_PERMITTED', 'INVALID_PASSWORD', 'MEBX_PASSWORD_WRONG']);
    expect(r.failures[0]!.excerpt.some((l) => l.includes('mebx.password-set'))).toBe(true);
  });

  it('a setup.bin that goes away after loading, or is damaged, fails the step with its reason, never the run', async () => {
    const bin = join(dir, 'gone.bin');
    writeFileSync(bin, Buffer.alloc(512, 7));
    const file = join(dir, 'usb.yaml');
    writeFileSync(file, 'name: usb\ndevices: [{id: pc1}]\nsteps:\n  - usbSetup: gone.bin\n  - usbSetup: gone.bin\n  - expect: {device: pc1, state: factory}\n');
    const loaded = loadScenarioFile(file);
    const first = await runLoaded(loaded);
    expect(first.failures.map((f) => f.message)).toEqual([
      'pc1 usbSetup gone.bin refused: SETUP_BIN_INVALID: gone.bin: offset 0: unknown file-type GUID 07070707070707070707070707070707 (not a setup.bin)',
      'pc1 usbSetup gone.bin refused: SETUP_BIN_INVALID: gone.bin: offset 0: unknown file-type GUID 07070707070707070707070707070707 (not a setup.bin)',
    ]);
    expect(first.failures[0]!.line).toBe(4);
    expect(first.steps[2]!.ok).toBe(true);
    rmSync(bin);
    const second = await runLoaded(loaded);
    expect(second.failures[0]!.message).toBe('usbSetup: cannot read gone.bin (ENOENT)');
    expect(second.steps).toHaveLength(3);
  });
});
