/**
 * Fuzz: the user-written files — scenario files (src/scenario/loader.ts) and fleet files
 * (src/fleet/fleet-file.ts). Any text is either loaded or rejected with BAD_INPUT whose message
 * is `file:line:column: problem` lines; no stack trace, no hang on alias bombs or huge counts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AmtError } from '../../src/common/errors.js';
import { loadFleetText } from '../../src/fleet/fleet-file.js';
import { loadScenarioText } from '../../src/scenario/loader.js';
import { coded, mutatedText, params, report, RUNS, timed } from './harness.js';

const read = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(`${dir}/${f}`, 'utf8'));
const SCENARIOS = read('scenarios');
const FLEETS = read('fleets');

function setRandom(obj: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || typeof obj !== 'object' || obj === null) return value;
  const keys = Object.keys(obj);
  if (keys.length === 0) return value;
  const k = keys[path[0]! % keys.length]!;
  (obj as Record<string, unknown>)[k] = setRandom((obj as Record<string, unknown>)[k], path.slice(1), value);
  return obj;
}
/** Structure-aware: parse a real file, replace one value deep inside, write YAML again. */
function fieldMutants(corpus: string[]): fc.Arbitrary<string> {
  const odd = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(-1, 1e12, 2 ** 53, 0.5, '', '10000000', 'x'.repeat(300), '999999h', '-5m', '../../etc/passwd', '127.0.0.1', '::1'));
  return fc.tuple(fc.constantFrom(...corpus), fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), odd).map(([text, path, v]) => stringify(setRandom(parse(text), path, v)));
}
const bombs = [
  // billion laughs in YAML aliases
  'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `${'- '.repeat(3000)}x`,
  'devices:\n  - count: 100000000\n    prefix: pc\n',
  'devices:\n  - count: 1e300\n',
  '\u0000\uffff\ud800',
  // an alias with no anchor before it (found by this suite: a plain ReferenceError before the fix)
  '*-',
  'devices: *pcs\n',
];

function check(load: (t: string) => unknown, name: string) {
  return (text: string) => {
    timed(name, () => coded(() => load(text), ['BAD_INPUT'], { multiline: true }));
  };
}

describe('fuzz: scenario files', () => {
  const load = (t: string) => loadScenarioText(t, 'fz.yaml');
  it('random, byte-mutated and field-mutated scenario files: loaded or BAD_INPUT with positions', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutatedText(fc.constantFrom(...SCENARIOS)), fieldMutants(SCENARIOS)), check(load, 'scenario')), params(RUNS / 2));
    report('scenario', RUNS / 4);
  });
  it('alias bombs, deep nesting, huge numbers, bad unicode: BAD_INPUT', () => {
    for (const b of bombs) {
      const r = coded(() => load(b), ['BAD_INPUT'], { multiline: true });
      expect(r).toBeInstanceOf(AmtError);
    }
  });
});

describe('fuzz: fleet files', () => {
  const load = (t: string) => loadFleetText(t, 'fz.yaml');
  it('random, byte-mutated and field-mutated fleet files: loaded or BAD_INPUT with positions', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutatedText(fc.constantFrom(...FLEETS)), fieldMutants(FLEETS)), check(load, 'fleet')), params(RUNS / 2));
    report('fleet', RUNS / 4);
  });
  it('alias bombs, deep nesting, huge counts, bad unicode: BAD_INPUT', () => {
    for (const b of bombs) {
      const r = coded(() => load(b), ['BAD_INPUT'], { multiline: true });
      expect(r).toBeInstanceOf(AmtError);
    }
  });
});
