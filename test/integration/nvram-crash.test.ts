import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NvramStore } from '../../src/nvram/store.js';

const WRITER = join(import.meta.dirname, '../fixtures/nvram/writer.ts');
const KILLS = 24;

/** Runs the writer, SIGKILLs it a random 0–40 ms after its first durable save; returns the last generation it reported. */
function runAndKill(dataDir: string, deviceId: string): Promise<{ lastReported: number; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dataDir, deviceId], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000); // bounded even if the writer never reports
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!armed && out.includes('\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 40));
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      if (!armed) return reject(new Error(`writer exited before its first save: ${err}`));
      const gens = out.trim().split('\n').map(Number);
      resolve({ lastReported: gens[gens.length - 1]!, signal });
    });
  });
}

describe('NVRAM survives SIGKILL during saves', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amtemu-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`loads a whole image after each of ${KILLS} kills, at the last or the in-flight generation`, async () => {
    const store = new NvramStore(dir);
    let previous = 0;
    for (let k = 0; k < KILLS; k++) {
      const { lastReported, signal } = await runAndKill(dir, 'victim');
      expect(signal).toBe('SIGKILL');
      const image = store.load('victim'); // throws NVRAM_CORRUPT/INVALID if a write was torn
      // Reported generations are durable; one more may have landed between rename and print.
      expect([lastReported, lastReported + 1]).toContain(image.generation);
      expect(image.generation).toBeGreaterThan(previous);
      previous = image.generation;
    }
    // Leftover temp files of killed writers are cleaned by the next load.
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(store.list()).toEqual(['victim']);
  });
});
