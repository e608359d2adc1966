/**
 * Every shipped scenario under scenarios/ runs here, one test per file, on real loopback sockets
 * in virtual time. A failing scenario prints the same report `amtemu run` prints.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatResult } from '../../src/scenario/report.js';
import { runScenario } from '../../src/scenario/runner.js';

const dir = join(import.meta.dirname, '../../scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('scenario library', () => {
  it('has scenarios', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });
  for (const f of files) {
    it(f, async () => {
      const r = await runScenario(join(dir, f));
      expect(r.passed, formatResult(r)).toBe(true);
      expect(r.steps.length).toBeGreaterThan(0);
    }, 60_000);
  }
});
