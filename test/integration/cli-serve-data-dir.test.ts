/**
 * `amtemu serve --data-dir` as a user runs it, in scaled time: the process keeps running while
 * the PCs write NVRAM (a scaled clock reads fractional milliseconds; the image stores whole ones),
 * the images on disk stay valid, offline `nvram set` is refused while serve holds the directory
 * (and works after it stops), and a restart shows the PCs' real states.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/nvram/data-dir-lock.js';
import { NvramStore } from '../../src/nvram/store.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const NET = 100 + (process.pid % 50);
const PORTS = ['--dhcp-port', '0', '--dns-port', '0', '--http-port', '0', '--https-port', '0', '--redirection-port', '0', '--redirection-tls-port', '0', '--rmcp-port', '0'];
const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Served {
  child: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  waitFor: (re: RegExp, limitMs?: number) => Promise<RegExpMatchArray>;
  exit: () => Promise<number | null>;
}

function serve(args: string[]): Served {
  const child = spawn(process.execPath, [...CLI, 'serve', ...args, ...PORTS], { stdio: 'pipe' });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    waitFor: async (re, limitMs = 30_000) => {
      const end = performance.now() + limitMs;
      for (let i = 0; i < 100_000 && performance.now() < end; i++) {
        const m = out.match(re);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no ${re} within ${limitMs} ms (exit ${child.exitCode}):\n${out.slice(-3000)}\n${err}`);
    },
    exit: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(guard);
      return code;
    },
  };
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('amtemu serve --data-dir', () => {
  it('keeps running in scaled time while hellos write NVRAM; images stay valid; nvram set is refused while it runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amtemu-serve-dd-'));
    dirs.push(dir);
    // Nobody listens on port 9: every minute of firmware time (one real second) each PC says
    // hello again, and every hello writes the window to NVRAM.
    const s = serve(['--count', '2', '--data-dir', dir, '--state', 'setup', '--domain', 'corp.example.test', '--ip-base', `127.${NET}.2.10`,
      '--time-scale', '60', '--provision-server', '127.0.0.1', '--hello-port', '9']);
    try {
      await s.waitFor(/amtemu: 2 device\(s\), setup,/);
      // Five hellos for pc1 (t = 0…4 min) take about four real seconds.
      await s.waitFor(/pc1\s+hello\.failed\s+to=127\.0\.0\.1:9 retryCount=4/, 60_000);
      expect(s.child.exitCode).toBeNull();
      expect(s.err()).toBe('');
      expect(s.out()).not.toMatch(/nvram\.write-failed/);
      const store = new NvramStore(dir);
      for (const id of ['pc1', 'pc2']) {
        const img = store.load(id); // throws NVRAM_INVALID / NVRAM_CORRUPT on a bad image
        expect(Number.isInteger(img.provisioning.window.elapsedMs)).toBe(true);
        expect(img.provisioning.window.hellosSent).toBeGreaterThanOrEqual(4);
      }

      // Offline edits while serve runs: writes refused with one coded line, reads work.
      const set = cli('nvram', 'set', 'pc1', 'network.hostname', 'x', '--data-dir', dir);
      expect(set.status).toBe(1);
      const lock = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; since: string };
      expect(lock.pid).toBe(s.child.pid);
      expect(set.stderr).toBe(`amtemu: NVRAM_LOCKED: ${dir} is in use by amtemu serve (pid ${s.child.pid}, since ${lock.since}); change it through the control API: PATCH /api/devices/:id/nvram\n`);
      const show = cli('nvram', 'show', 'pc1', '--data-dir', dir);
      expect(show.status).toBe(0);
      expect(show.stdout).toMatch(/^device +pc1 /);
      expect(s.child.exitCode).toBeNull();
    } finally {
      expect(await s.exit()).toBe(0);
    }
    // Clean stop: the lock is gone, the images are whole, and the same edit now works.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const after = cli('nvram', 'set', 'pc1', 'network.hostname', 'x', '--data-dir', dir);
    expect(after.stderr).toBe('');
    expect(after.status).toBe(0);
    expect(new NvramStore(dir).load('pc1').network.hostname).toBe('x');
  }, 120_000);

  it('after a restart the PCs configured last run are shown as configured (Post/ACM), not as --state says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amtemu-serve-dd-'));
    dirs.push(dir);
    const args = ['--count', '1', '--data-dir', dir, '--state', 'setup', '--domain', 'corp.example.test', '--ip-base', `127.${NET}.3.10`, '--time-scale', '60', '--hello-port', '0'];
    const first = serve(args);
    try {
      await first.waitFor(/amtemu: 1 device\(s\), setup,/);
      expect(first.out()).toMatch(/^ {2}pc1 +In +uuid /m);
      await first.waitFor(/pc1\s+lifecycle\.transition\s+from=In to=Post controlMode=ACM/, 60_000);
    } finally {
      expect(await first.exit()).toBe(0);
    }
    const second = serve(args);
    try {
      await second.waitFor(/amtemu: 1 device\(s\), configured,/);
      await second.waitFor(/^ {2}pc1 +Post\/ACM +uuid /m);
    } finally {
      expect(await second.exit()).toBe(0);
    }
  }, 120_000);
});
