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

  it('init refuses to replace an existing PKI unless --force; --keep-existing keeps it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'amtemu-pkicli-'));
    try {
      const run = (args: string[], lines: string[] = []) => program(lines).parseAsync(['pki', 'init', '--out', dir, ...args], { from: 'user' });
      await run([]);
      const first = await readFile(join(dir, 'root.sha256'), 'utf8');
      // A second init would give a new root and break every NVRAM that trusts the first one.
      const err = await run([]).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'BAD_INPUT' });
      expect((err as Error).message).toBe(
        `${join(dir, 'root.pem')} already exists (a test PKI is in ${dir}); add --force to replace it with a new root (devices that trust the old root will refuse the new chain), or --keep-existing to keep it`,
      );
      expect(await readFile(join(dir, 'root.sha256'), 'utf8')).toBe(first);

      const kept: string[] = [];
      await run(['--keep-existing'], kept);
      expect(kept).toEqual([`kept the test PKI in ${dir} (root SHA-256: ${first.trim()})`]);
      expect(await readFile(join(dir, 'root.sha256'), 'utf8')).toBe(first);
      await expect(run(['--force', '--keep-existing'])).rejects.toMatchObject({ code: 'BAD_INPUT' });

      await run(['--force']);
      expect(await readFile(join(dir, 'root.sha256'), 'utf8')).not.toBe(first);

      // Only the key left behind still counts as a PKI.
      await rm(join(dir, 'root.pem'));
      await expect(run([])).rejects.toThrow(/leaf\.key already exists/);
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
