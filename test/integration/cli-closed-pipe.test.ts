/**
 * `amtemu … | head -1`: the reader of stdout goes away. The CLI must keep working (serve keeps
 * serving, run keeps its verdict as exit code) and never print a stack trace (stdio-guard.ts).
 * The test closes its end of the child's stdout pipe before the child writes anything, so the
 * child's first write is certain to hit EPIPE.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const dir = mkdtempSync(join(tmpdir(), 'amtemu-pipe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Ended {
  code: number | null;
  stderr: string;
}

/** Start the CLI with stdout already closed on our side; resolves when it exits (bounded). */
function startWithClosedStdout(args: string[], limitMs = 60_000): { ended: Promise<Ended>; stderr: () => string; kill: (sig: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ended = new Promise<Ended>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`amtemu ${args[0]} did not exit within ${limitMs} ms; stderr:\n${stderr}`));
    }, limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // 'exit' can come before the last stderr bytes are read.
      child.stderr.once('end', () => resolve({ code, stderr }));
      if (child.stderr.readableEnded) resolve({ code, stderr });
    });
  });
  return { ended, stderr: () => stderr, kill: (sig) => child.kill(sig) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('a closed stdout pipe', () => {
  it('run still returns its verdict (0: every scenario passed), no stack trace', async () => {
    const { ended } = startWithClosedStdout(['run', 'scenarios/admin-setup-fails-once.yaml', 'scenarios/bare-metal-success.yaml']);
    const r = await ended;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('run still returns 2 when a file did not load, and its report is still written', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: [unclosed\n');
    const junit = join(dir, 'r.xml');
    const { ended } = startWithClosedStdout(['run', 'scenarios/admin-setup-fails-once.yaml', bad, '--junit', junit]);
    const r = await ended;
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(readFileSync(junit, 'utf8')).toContain('<testsuites ');
  });

  it('serve keeps serving: the fleet gets configured and SIGTERM ends it with 0', async () => {
    const apiPort = await freePort();
    const child = startWithClosedStdout(['serve', '--count', '2', '--state', 'setup', '--domain', 'corp.example.test', '--ip-base', '127.93.4.10',
      '--hello-port', '0', '--dhcp-port', '0', '--dns-port', '0', '--http-port', '0', '--https-port', '0', '--redirection-port', '0',
      '--redirection-tls-port', '0', '--rmcp-port', '0', '--time-scale', '60', '--api-port', String(apiPort)]);
    let exited = false;
    void child.ended.then(() => (exited = true), () => (exited = true));
    try {
      let configured = 0;
      // Bounded poll: up to 60 s for both devices to be configured (it takes ~2 s).
      for (let i = 0; i < 600 && configured < 2 && !exited; i++) {
        await new Promise((r) => setTimeout(r, 100));
        try {
          const res = await fetch(`http://127.0.0.1:${apiPort}/api/fleet`);
          configured = ((await res.json()) as { byState: { Post: number } }).byState.Post;
        } catch {
          // not listening yet
        }
      }
      expect(exited, `serve exited early; stderr:\n${child.stderr()}`).toBe(false);
      expect(configured, `stderr:\n${child.stderr()}`).toBe(2);
    } finally {
      child.kill('SIGTERM');
    }
    const r = await child.ended;
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js:\d+/);
    expect(r.code).toBe(0);
  });
});
