/**
 * Fuzz: the provisioning server's YAML config (src/provisioning/config.ts), a user file at the
 * `amtemu provision-server` edge. Loaded, or BAD_INPUT as one `file:line: problem` line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AmtError } from '../../src/common/errors.js';
import { createTestPki, writeTestPki } from '../../src/pki/test-ca.js';
import { loadProvisioningConfigText } from '../../src/provisioning/config.js';
import { coded, mutatedText, params, report, RUNS, timed } from './harness.js';

const GOOD = `helloPort: 9971
profiles:
  - name: acm
    adminPassword: "Adm1n!pass"
    mebxPassword: "Mebx!2pass"
    match:
      uuids: [939b524b-13d4-1d18-e487-1c697a6b7a2b]
  - name: default
    adminPassword: "Adm1n!pass"
    mebxPassword: "Mebx!2pass"
chains:
  - name: test
    chain: pki/chain.pem
    key: pki/leaf.key
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `amtemu-provfuzz-${process.pid}-`));
  await writeTestPki(join(dir, 'pki'), await createTestPki({ variants: [] }));
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setRandom(obj: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || typeof obj !== 'object' || obj === null) return value;
  const keys = Object.keys(obj);
  if (keys.length === 0) return value;
  const k = keys[path[0]! % keys.length]!;
  (obj as Record<string, unknown>)[k] = setRandom((obj as Record<string, unknown>)[k], path.slice(1), value);
  return obj;
}

describe('fuzz: provisioning server config', () => {
  it('the seed loads (positive control)', () => {
    expect(loadProvisioningConfigText(GOOD, 'prov.yaml', dir).chains).toHaveLength(1);
  });

  it('random, byte-mutated and field-mutated configs: loaded or one-line BAD_INPUT naming the file', () => {
    const fields = fc
      .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(-1, 0, 65536, 1e12, '', 'pki/leaf.key', 'pki/nope.pem', 'x'.repeat(300))))
      .map(([path, v]) => stringify(setRandom(parse(GOOD), path, v)));
    const RUNS_HERE = RUNS / 4;
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutatedText(fc.constant(GOOD)), fields, fc.constantFrom('*x', 'a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n')), (text) => {
        const r = timed('provisioning config', () => coded(() => loadProvisioningConfigText(text, 'prov.yaml', dir), ['BAD_INPUT']));
        if (r instanceof AmtError) expect(r.message).toMatch(/^prov\.yaml(:\d+)?: /);
      }),
      params(RUNS_HERE),
    );
    report('provisioning config', RUNS_HERE);
  });
});
