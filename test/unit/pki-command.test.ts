import { describe, it, expect } from 'vitest';
import { Command } from 'commander';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerPkiCommands } from '../../src/cli/pki-command.js';

function program(lines: string[]): Command {
  const p = new Command('amtemu').exitOverride();
  registerPkiCommands(p, { out: (l) => lines.push(l) });
  return p;
}

describe('amtemu pki', () => {
  it('init writes the PKI and prints the root SHA-256 and an nvram line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'amtemu-pkicli-'));
    try {
      const lines: string[] = [];
      await program(lines).parseAsync(['pki', 'init', '--out', dir, '--fqdn', 'rcs.lab.example.test', '--variant', 'untrustedRoot', 'wrongCn'], { from: 'user' });
      const sha = (await readFile(join(dir, 'root.sha256'), 'utf8')).trim();
      expect(lines).toContain(`root SHA-256: ${sha}`);
      expect(lines.some((l) => l.includes(`nvram hash add`) && l.includes(sha))).toBe(true);
      expect(existsSync(join(dir, 'variants', 'untrustedRoot', 'chain.pem'))).toBe(true);
      expect(existsSync(join(dir, 'variants', 'expired'))).toBe(false);

      const hashLines: string[] = [];
      await program(hashLines).parseAsync(['pki', 'hash', join(dir, 'root.pem')], { from: 'user' });
      expect(hashLines).toContain(`SHA-256: ${sha}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bad input is an AmtError BAD_INPUT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'amtemu-pkicli-'));
    try {
      const run = (args: string[]) => program([]).parseAsync(args, { from: 'user' });
      await expect(run(['pki', 'init', '--out', dir, '--variant', 'bogus'])).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(run(['pki', 'init', '--out', dir, '--key-bits', '1024'])).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(run(['pki', 'init', '--out', dir, '--fqdn', 'x'])).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await writeFile(join(dir, 'junk.pem'), 'junk');
      await expect(run(['pki', 'hash', join(dir, 'junk.pem')])).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(run(['pki', 'hash', join(dir, 'missing.pem')])).rejects.toMatchObject({ code: 'BAD_INPUT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
