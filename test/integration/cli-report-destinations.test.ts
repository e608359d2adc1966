/**
 * `amtemu run … --junit/--json/--mermaid` and `amtemu demo --out`: a file that did not load is
 * in the reports (a JUnit <error>, JSON notLoaded, passed false), and a destination that cannot
 * be written is refused before anything runs, with one BAD_INPUT line naming the flag.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { registerDemoCommand } from '../../src/cli/demo-command.js';
import { runCommand } from '../../src/cli/run-command.js';
import { isAmtError } from '../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), `amtemu-reports-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = 'scenarios/admin-setup-fails-once.yaml';
const BAD = join(dir, 'bad.yaml');
writeFileSync(BAD, 'name: a scenario with an unknown key\ndevices: []\nbogus: 1\n');
const A_FILE = join(dir, 'plain-file');
writeFileSync(A_FILE, 'not a directory\n');

async function refusal(paths: string[], opts: Parameters<typeof runCommand>[1]): Promise<{ message: string; wrote: string[] }> {
  const wrote: string[] = [];
  const err = await runCommand(paths, { ...opts, write: (s) => wrote.push(s), writeErr: (s) => wrote.push(s) }).then(() => undefined, (e: unknown) => e);
  expect(isAmtError(err, 'BAD_INPUT'), String(err)).toBe(true);
  return { message: (err as Error).message, wrote };
}

describe('run: a file that did not load is in the reports', () => {
  it('JUnit has an <error> testcase with its problems; JSON says passed false and lists it; exit 2', async () => {
    const junit = join(dir, 'r.xml');
    const json = join(dir, 'r.json');
    const errs: string[] = [];
    const code = await runCommand([GOOD, BAD], { jobs: 2, junit, json, write: () => undefined, writeErr: (s) => errs.push(s) });
    expect(code).toBe(2);
    const problems = errs.join('').trim().split('\n');
    const problem = problems[0]!;
    expect(problem.startsWith(`${BAD}:`)).toBe(true);
    expect(problem).toMatch(/:\d+:\d+: /);

    const xml = readFileSync(junit, 'utf8');
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as {
      testsuites: { tests: string; errors: string; testsuite: { testcase: Array<{ classname: string; error?: { type: string; message: string; '#text': string } }> } };
    };
    expect(doc.testsuites.tests).toBe('2');
    expect(doc.testsuites.errors).toBe('1');
    const cases = doc.testsuites.testsuite.testcase;
    expect(cases.map((c) => c.classname)).toEqual([GOOD, BAD]);
    expect(cases[0]!.error).toBeUndefined();
    expect(cases[1]!.error?.type).toBe('ScenarioLoadError');
    expect(cases[1]!.error?.message).toContain(problem);

    const report = JSON.parse(readFileSync(json, 'utf8')) as { passed: boolean; results: unknown[]; notLoaded: Array<{ file: string; problems: string[] }> };
    expect(report.passed).toBe(false);
    expect(report.results).toHaveLength(1);
    expect(report.notLoaded).toEqual([{ file: BAD, problems }]);
  });
});

describe('run: report destinations are checked before anything runs', () => {
  it('--junit in a directory that does not exist', async () => {
    const r = await refusal([GOOD], { jobs: 1, junit: join(dir, 'no', 'such', 'r.xml') });
    expect(r.message).toBe(`--junit ${join(dir, 'no', 'such', 'r.xml')}: directory ${join(dir, 'no', 'such')} does not exist`);
    expect(r.wrote).toEqual([]); // no scenario ran
  });

  it('--json under a file, --json a directory, --mermaid a file', async () => {
    expect((await refusal([GOOD], { jobs: 1, json: join(A_FILE, 'r.json') })).message).toBe(`--json ${join(A_FILE, 'r.json')}: ${A_FILE} is not a directory`);
    expect((await refusal([GOOD], { jobs: 1, json: dir })).message).toBe(`--json ${dir}: is a directory (give a file name)`);
    const m = await refusal([GOOD], { jobs: 1, mermaid: A_FILE });
    expect(m.message).toBe(`--mermaid ${A_FILE}: is a file, not a directory`);
    expect(m.wrote).toEqual([]);
  });

  it('the check leaves no empty report behind when another destination is refused', async () => {
    const junit = join(dir, 'checked.xml');
    await refusal([GOOD], { jobs: 1, junit, json: dir });
    expect(existsSync(junit)).toBe(false);
  });

  it('writable destinations: reports written, --mermaid created with its parents', async () => {
    const junit = join(dir, 'later.xml');
    const code = await runCommand([GOOD], { jobs: 1, junit, mermaid: join(dir, 'mmd', 'deep'), write: () => undefined });
    expect(code).toBe(0);
    expect(readFileSync(junit, 'utf8')).toContain('tests="1"');
    expect(existsSync(join(dir, 'mmd', 'deep', 'admin-setup-fails-once.mmd'))).toBe(true);
  });
});

describe('demo --out', () => {
  it('is refused at once when it cannot be a directory (before the PKI and the fleet)', async () => {
    const program = new Command('amtemu').exitOverride();
    registerDemoCommand(program);
    const err = await program.parseAsync(['node', 'amtemu', 'demo', '--out', join(A_FILE, 'x')]).then(() => undefined, (e: unknown) => e);
    expect(isAmtError(err, 'BAD_INPUT'), String(err)).toBe(true);
    expect((err as Error).message).toBe(`--out ${join(A_FILE, 'x')}: ${A_FILE} is not a directory`);
  });
});
