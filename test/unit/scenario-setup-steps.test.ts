/**
 * The scenario surface for the manual and offline setup paths (issue 10 item 7): usbSetup files
 * checked at load time with file:line:column, mebx parameters checked by the shared MEBx table
 * (src/device/mebx-ops.ts) and located at the offending key or value, TLS-PSK device fields and
 * the reference server's PSK pairs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MEBX_OP_NAMES } from '../../src/device/mebx-ops.js';
import { loadScenarioFile, loadScenarioText, scenarioSchema, ScenarioLoadError, type ScenarioProblem } from '../../src/scenario/loader.js';

const dir = mkdtempSync(join(tmpdir(), 'amtemu-setup-steps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(file: string, text: string): ScenarioProblem[] {
  const path = join(dir, file);
  writeFileSync(path, text);
  try {
    loadScenarioFile(path);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioLoadError);
    return (e as ScenarioLoadError).problems;
  }
  throw new Error('expected the scenario to be rejected');
}

const head = 'name: t\ndevices:\n  - {id: pc1}\nsteps:\n';

describe('usbSetup steps: the file is checked when the scenario loads', () => {
  writeFileSync(join(dir, 'key.bin'), Buffer.alloc(1024));
  mkdirSync(join(dir, 'keys'));

  it('a path relative to the scenario file that exists loads, in both spellings', () => {
    writeFileSync(join(dir, 'ok.yaml'), `${head}  - usbSetup: key.bin\n  - usbSetup: {file: key.bin, expectCode: SETUP_BIN_INVALID}\n`);
    const l = loadScenarioFile(join(dir, 'ok.yaml'));
    expect(l.baseDir).toBe(dir);
    expect(l.scenario.steps.map((s) => s.usbSetup)).toEqual(['key.bin', { file: 'key.bin', expectCode: 'SETUP_BIN_INVALID' }]);
  });

  it('a missing file is one line at the file value, naming where it looked', () => {
    const p = problemsOf('missing.yaml', `${head}  - power: on\n  - device: pc1\n    usbSetup: {file: files/nope.bin}\n`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ line: 7, column: 22 });
    expect(p[0]!.message).toBe(`setup.bin "files/nope.bin" does not exist (looked for ${join(dir, 'files/nope.bin')}; paths are relative to the scenario file)`);
  });

  it('a directory is refused at the shorthand value', () => {
    const p = problemsOf('dir.yaml', `${head}  - usbSetup: keys\n`);
    expect(p).toEqual([{ file: join(dir, 'dir.yaml'), line: 5, column: 15, message: `setup.bin "keys" is not a regular file (looked for ${join(dir, 'keys')}; paths are relative to the scenario file)` }]);
  });

  it('expectCode must look like a code', () => {
    const p = problemsOf('code.yaml', `${head}  - usbSetup: {file: key.bin, expectCode: invalid}\n`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ line: 5 });
    expect(p[0]!.message).toContain('expectCode');
  });
});

/** 1-based column of `needle` on `line` (1-based) of `text`: where an editor puts the cursor. */
function col(text: string, line: number, needle: string): number {
  return text.split('\n')[line - 1]!.indexOf(needle) + 1;
}

function problems(text: string): ScenarioProblem[] {
  try {
    loadScenarioText(text, 'x.yaml');
  } catch (e) {
    return (e as ScenarioLoadError).problems;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('mebx steps: parameters checked by the shared MEBx table', () => {
  it('the schema lists exactly the operations of src/device/mebx-ops.ts', () => {
    const step = (scenarioSchema()['definitions'] as Record<string, { properties: Record<string, { properties?: Record<string, { enum?: string[] }> }> }>)['step']!;
    expect(step.properties['mebx']!.properties!['op']!.enum).toEqual([...MEBX_OP_NAMES]);
  });

  it('accepts an operation with its parameters beside op and password', () => {
    const l = loadScenarioText(`${head}  - mebx: {op: provisioning-server, password: "Mebx!2pass", server: provisioningServer, port: 9971}\n`, 'x.yaml');
    expect(l.scenario.steps[0]!.mebx).toMatchObject({ op: 'provisioning-server', port: 9971 });
  });

  it('an unknown parameter points at its key, in the words the CLI uses', () => {
    const t = `${head}  - mebx: {op: password, password: admin, newPasword: "Mebx!2pass"}\n`;
    expect(problems(t)).toEqual([{ file: 'x.yaml', line: 5, column: col(t, 5, 'newPasword'), message: 'mebx password: unknown parameter newPasword; it takes newPassword' }]);
  });

  it('a missing parameter points at the step, a bad value at the value', () => {
    expect(problems(`${head}  - mebx: {op: hash-add, password: "Mebx!2pass", name: corp}\n`)).toEqual([
      { file: 'x.yaml', line: 5, column: col(`${head}  - mebx: {`, 5, '{'), message: 'mebx hash-add: missing hash (hex SHA-1/256/384 of the root certificate)' },
    ]);
    const t = `${head}  - mebx: {op: provisioning-server, password: "Mebx!2pass", server: 10.0.0.5, port: 70000}\n`;
    expect(problems(t)).toEqual([
      { file: 'x.yaml', line: 5, column: col(t, 5, '70000'), message: 'mebx provisioning-server: port must be a port 1-65535, got 70000' },
    ]);
    expect(problems(`${head}  - mebx: {op: mode, password: "Mebx!2pass", mode: Small}\n`)[0]!.message).toBe("mebx mode: mode 'Small' is not one of SMB, Enterprise");
  });

  it('an unknown op lists the operations; hash: reference needs the reference server', () => {
    const op = problems(`${head}  - mebx: {op: reboot, password: x}\n`);
    expect(op).toHaveLength(1);
    expect(op[0]!.message).toContain('"password", "hostname"');
    const t = `${head}  - mebx: {op: hash-add, password: "Mebx!2pass", name: corp, hash: reference}\n`;
    expect(problems(t)).toEqual([
      { file: 'x.yaml', line: 5, column: col(t, 5, 'reference'), message: 'hash: reference needs provisioningServer: {reference: …}' },
    ]);
  });
});

describe('TLS-PSK and environment-detection fields', () => {
  const PPS = 'ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789';

  it('accepts pid/pps, homeDomains and the reference server pairs', () => {
    const l = loadScenarioText(`name: t
provisioningServer: {reference: {pskPairs: [{pid: PSK1-0001, pps: ${PPS}}]}}
devices:
  - {id: pc1, profile: amt6, pid: PSK1-0001, pps: ${PPS}, homeDomains: [corp.example.test]}
steps:
  - expect: {nvram: {pid: PSK1-0001, mode: Enterprise, adminPassword: "x"}}
`, 'x.yaml');
    expect(l.scenario.devices![0]).toMatchObject({ pid: 'PSK1-0001', homeDomains: ['corp.example.test'] });
  });

  it('pid without pps, PID/PPS in factory state, a bad PPS and a PID listed twice are located', () => {
    const t1 = `name: t\ndevices:\n  - {id: pc1, profile: amt6, pid: PSK1-0001}\nsteps:\n  - power: on\n`;
    expect(problems(t1)).toEqual([
      { file: 'x.yaml', line: 3, column: col(t1, 3, 'pid'), message: 'a TLS-PSK device needs both pid and pps (this one has only pid)' },
    ]);
    const t2 = `name: t\ndevices:\n  - {id: pc1, state: factory, pid: PSK1-0001, pps: ${PPS}}\nsteps:\n  - power: on\n`;
    expect(problems(t2)).toEqual([
      { file: 'x.yaml', line: 3, column: col(t2, 3, 'factory'), message: 'a device with PID/PPS is not in factory state (entering them moves it to setup); leave state out or say setup' },
    ]);
    const t2b = `name: t\ndevices:\n  - {id: pc1, state: factory, mebxPassword: Tech!Mebx1}\nsteps:\n  - power: on\n`;
    expect(problems(t2b)).toEqual([
      { file: 'x.yaml', line: 3, column: col(t2b, 3, 'factory'), message: "a device whose MEBx password was changed is not in factory state (the first change moves it to setup); leave state out or say setup, or use a mebx step" },
    ]);
    const t3 = `name: t\ndevices:\n  - {id: pc1, pid: PSK1-0001, pps: short}\nsteps:\n  - power: on\n`;
    const bad = problems(t3);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ line: 3, column: col(t3, 3, 'short') });
    const t4 = `name: t\nprovisioningServer:\n  reference:\n    pskPairs:\n      - {pid: PSK1-0001, pps: ${PPS}}\n      - {pid: psk10001, pps: ${PPS}}\nsteps:\n  - advance: 1s\n`;
    expect(problems(t4)).toEqual([
      { file: 'x.yaml', line: 6, column: col(t4, 6, 'psk10001'), message: 'PID psk10001 is listed twice (first at pskPairs[0]); the server finds one PPS per PID' },
    ]);
  });
});
