/**
 * One writer per data directory (src/nvram/data-dir-lock.ts): a running fleet holds the lock,
 * the offline commands that write refuse with NVRAM_LOCKED naming the pid while a live process
 * holds it, reads go on, and a lock whose process is gone is taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerMebxCommands } from '../../src/cli/mebx-command.js';
import { registerNvramCommands } from '../../src/cli/nvram-command.js';
import { isAmtError } from '../../src/common/errors.js';
import { acquireDataDirLock, dataDirHolder, LOCK_FILE, refuseWhileServed } from '../../src/nvram/data-dir-lock.js';

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'amtemu-lock-'))));
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A live process that is not us: a node that sleeps (bounded: it exits by itself after 60 s). */
function otherLiveProcess(): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
}

async function run(...args: string[]): Promise<{ out: string; error?: unknown }> {
  let out = '';
  const program = new Command('amtemu').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: () => undefined });
  registerNvramCommands(program, { out: (s) => (out += s) });
  registerMebxCommands(program, (s) => (out += s));
  try {
    await program.parseAsync(['node', 'amtemu', ...args, '--data-dir', dir]);
    return { out };
  } catch (error) {
    return { out, error };
  }
}

describe('data directory lock', () => {
  it('a fleet holds it while it runs and removes it on release; a second holder is refused', () => {
    const lock = acquireDataDirLock(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    expect(dataDirHolder(dir)?.pid).toBe(process.pid);
    expect(() => acquireDataDirLock(dir)).toThrow(expect.objectContaining({ code: 'NVRAM_LOCKED', message: expect.stringMatching(/is in use by amtemu serve \(pid \d+/) }));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lock.release(); // idempotent
    acquireDataDirLock(dir).release();
  });

  it('takes over a lock whose process is gone, and one with no pid in it', async () => {
    const gone = otherLiveProcess();
    const pid = gone.pid!;
    gone.kill('SIGKILL');
    await exited(gone);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid }));
    expect(dataDirHolder(dir)).toBeUndefined();
    expect(() => refuseWhileServed(dir)).not.toThrow();
    const lock = acquireDataDirLock(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
    writeFileSync(join(dir, LOCK_FILE), 'garbage');
    acquireDataDirLock(dir).release();
  });

  it('a lock naming our own pid that this process did not take is stale (a restarted container reuses pids)', () => {
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid }));
    expect(dataDirHolder(dir)).toBeUndefined();
    expect(() => refuseWhileServed(dir)).not.toThrow();
    const lock = acquireDataDirLock(dir);
    expect(dataDirHolder(dir)?.pid).toBe(process.pid);
    expect(() => refuseWhileServed(dir)).toThrow(expect.objectContaining({ code: 'NVRAM_LOCKED' }));
    lock.release();
  });

  it('nvram and mebx commands that write refuse with one coded line while a live serve holds it; reads still work', async () => {
    expect((await run('nvram', 'init', 'pc1', '--seed', 'lock')).error).toBeUndefined();
    const serve = otherLiveProcess();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: serve.pid, since: '2026-01-05T09:00:00.000Z' }));
    const before = readFileSync(join(dir, 'pc1.nvram.json'), 'utf8');
    for (const args of [
      ['nvram', 'set', 'pc1', 'network.hostname', 'x'],
      ['nvram', 'hash', 'deactivate', 'pc1', '0'],
      ['nvram', 'hash', 'restore-defaults', 'pc1'],
      ['nvram', 'rm', 'pc1'],
      ['nvram', 'init', 'pc2'],
    ]) {
      const r = await run(...args);
      expect(isAmtError(r.error) ? r.error.code : r.error, args.join(' ')).toBe('NVRAM_LOCKED');
      expect((r.error as Error).message).toBe(
        `${dir} is in use by amtemu serve (pid ${serve.pid}, since 2026-01-05T09:00:00.000Z); change it through the control API: PATCH /api/devices/:id/nvram`,
      );
    }
    const mebx = await run('mebx', 'hostname', '--device', 'pc1', '--password', 'admin', 'renamed');
    expect(mebx.error).toMatchObject({ code: 'NVRAM_LOCKED', message: expect.stringMatching(/control API: POST \/api\/devices\/:id\/mebx\/hostname$/) });
    expect(readFileSync(join(dir, 'pc1.nvram.json'), 'utf8')).toBe(before);
    expect(existsSync(join(dir, 'pc2.nvram.json'))).toBe(false);
    expect((await run('nvram', 'show', 'pc1')).out).toContain('device      pc1');
    expect((await run('nvram', 'list')).out).toMatch(/pc1 +amt16/);
    // The serve is gone (killed, never cleaned up): its lock is stale and writes work again.
    serve.kill('SIGKILL');
    await exited(serve);
    const set = await run('nvram', 'set', 'pc1', 'network.hostname', 'x');
    expect(set.error).toBeUndefined();
    expect(set.out).toMatch(/^pc1: network\.hostname = "x"/);
  });
});
