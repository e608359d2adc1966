import { describe, expect, it } from 'vitest';
import { loadScenarioText, type ScenarioProblem } from '../../src/scenario/loader.js';
import { scenarioProblems } from '../helpers/scenario-problems.js';

const problems = (text: string): ScenarioProblem[] => scenarioProblems(text, 'x.yaml');

const ok = `name: fine
devices:
  - {id: pc1, state: setup}
  - {id: pc, count: 2}
steps:
  - power: on
  - advance: 1d 2h
  - mark: m
  - expect: {device: pc, events: [{type: hello.sent, since: m, within: 90s}]}
`;

describe('scenario loader', () => {
  it('accepts a good scenario and records each step position', () => {
    const l = loadScenarioText(ok, 'x.yaml');
    expect(l.scenario.name).toBe('fine');
    expect(l.stepPos.map((p) => p?.line)).toEqual([6, 7, 8, 9]);
  });

  it('YAML syntax error: file:line:column of the parser', () => {
    const p = problems('name: x\nsteps:\n  - power: on\n   bad: [1\n');
    expect(p[0]!.file).toBe('x.yaml');
    expect(p[0]!.message).toMatch(/^YAML: /);
    expect(p[0]!.line).toBe(4);
  });

  it('duplicate keys are a YAML error at the second key', () => {
    const p = problems('name: x\nname: y\nsteps:\n  - power: on\n');
    expect(p[0]).toMatchObject({ line: 2, column: 1 });
    expect(p[0]!.message).toMatch(/unique/i);
  });

  it('unknown key: points at the key and lists the allowed ones', () => {
    const p = problems('name: x\nsteps:\n  - power: on\n  - powr: off\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ line: 4, column: 5 });
    expect(p[0]!.message).toContain('unknown key "powr" in steps[1]');
    expect(p[0]!.message).toContain('allowed: device, power, link');
  });

  it('a clock jump under scaled time is refused when the file loads, not half-way through the run', () => {
    const p = problems('name: x\ntime: {scaled: 60}\nsteps:\n  - fault: {clockJump: 2h}\n');
    expect(p[0]).toMatchObject({ line: 4 });
    expect(p[0]!.message).toBe('clockJump needs time: virtual (scaled time follows the wall clock)');
  });

  it('an event type of an area nothing records is refused where it is written (a noEvents check could never fail)', () => {
    const p = problems('name: x\ndevices:\n  - {id: pc1}\nsteps:\n  - expect: {device: pc1, noEvents: [helo.sent], events: [{type: hello.sent}, {type: dchp.}]}\n');
    expect(p.map((x) => x.message.split(':')[0])).toEqual(['no timeline event is of type "helo.sent"', 'no timeline event is of type "dchp."']);
    expect(p[0]).toMatchObject({ line: 5 });
    expect(p[0]!.message).toContain('areas: acl, agent');
  });

  it('bad enum value: points at the value and lists the choices', () => {
    const p = problems('name: x\nsteps:\n  - expect: {device: pc1, state: cofigured}\ndevices:\n  - {id: pc1}\n');
    expect(p[0]).toMatchObject({ line: 3, column: 34 });
    expect(p[0]!.message).toBe('steps[0].expect.state must be one of "factory", "setup" or "configured"');
  });

  it('missing required key', () => {
    const p = problems('steps:\n  - power: on\n');
    expect(p[0]).toMatchObject({ line: 1, column: 1, message: 'the scenario needs "name"' });
  });

  it('oneOf alternatives are merged into one message', () => {
    const p = problems('name: x\ntime: virtal\nsteps:\n  - power: on\n');
    expect(p[0]).toMatchObject({ line: 2, column: 7, message: 'time must be "virtual" or an object' });
  });

  it('semantic: unknown device id in a step, with the known ones', () => {
    const p = problems('name: x\ndevices:\n  - id: pc1\nsteps:\n  - power: on\n    device: pc9\n');
    expect(p[0]).toMatchObject({ line: 6, column: 13 });
    expect(p[0]!.message).toBe('unknown device "pc9" (devices: pc1)');
  });

  it('semantic: bad duration at the value', () => {
    const p = problems('name: x\nsteps:\n  - advance: 6 hours\n');
    expect(p[0]).toMatchObject({ line: 3, column: 14 });
    expect(p[0]!.message).toMatch(/^bad duration "6 hours"/);
  });

  it('semantic: two actions in one step, at the second key', () => {
    const p = problems('name: x\nsteps:\n  - power: on\n    advance: 5m\n');
    expect(p[0]).toMatchObject({ line: 4, column: 5 });
    expect(p[0]!.message).toContain('power and advance');
  });

  it('semantic: a mark used before it is defined', () => {
    const p = problems('name: x\nsteps:\n  - expect: {events: [{type: hello.sent, since: later}]}\n  - mark: later\n');
    expect(p[0]!.line).toBe(3);
    expect(p[0]!.message).toContain('no mark "later" before this step');
  });

  it('every problem is one line and carries no stack', () => {
    try {
      loadScenarioText('name: x\nsteps:\n  - advance: soon\n  - powr: on\n', 'f.yaml');
    } catch (e) {
      const lines = (e as Error).message.split('\n');
      for (const l of lines) expect(l).toMatch(/^f\.yaml:\d+:\d+: \S/);
      expect((e as Error).message).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });

  it('an empty file says what it needs', () => {
    const p = problems('');
    expect(p[0]!.message).toContain('needs name and steps');
  });
});
