/**
 * `amtemu serve` as a user runs it: a real process, real ports, a real WS-Man client, then
 * SIGTERM. And a bad flag: one line on stderr, exit 2, no stack trace.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { WsmanClient } from '../../src/provisioning/wsman-client.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

function waitFor(child: ChildProcessWithoutNullStreams, re: RegExp, limitMs = 30_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} in output within ${limitMs} ms:\n${out}`)), limitMs);
    const onData = (c: Buffer): void => {
      out += c.toString();
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited early (${code}):\n${out}`)));
  });
}

describe('amtemu serve', () => {
  it('serves configured devices on their own addresses until SIGTERM', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve', '--count', '2', '--state', 'configured', '--profile', 'amt12', '--admin-password', 'Adm1n-Pass!',
      '--domain', 'corp.example.test', '--ip-base', '127.91.0.20', '--dhcp-port', '0', '--dns-port', '0', '--http-port', '0', '--https-port', '0',
      '--redirection-port', '0', '--redirection-tls-port', '0', '--rmcp-port', '0', '--time-scale', '60', '--provision-server', '127.0.0.1'], { stdio: 'pipe' });
    try {
      const ports = await waitFor(child, /ports http (\d+), https (\d+)/);
      await waitFor(child, /pc2\s+dhcp\.lease\s+address=127\.91\.0\.21/);
      const client = new WsmanClient({ host: '127.91.0.21', port: Number(ports[2]), username: 'admin', password: 'Adm1n-Pass!', tls: {} });
      const general = await client.get(client.amt.GeneralSettings.Get(), 'AMT_GeneralSettings');
      expect(general['DigestRealm']).toMatch(/^Digest:[0-9A-F]{32}$/);
      expect(client.serverHeader).toMatch(/^Intel\(R\) Active Management Technology 12\./);
      client.close();
      // AMT 12 still answers plain 16992 remotely.
      const plain = new WsmanClient({ host: '127.91.0.20', port: Number(ports[1]), username: 'admin', password: 'Adm1n-Pass!' });
      const setup = await plain.get(plain.amt.SetupAndConfigurationService.Get(), 'AMT_SetupAndConfigurationService');
      expect(setup['ProvisioningState']).toBe('2');
      plain.close();
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });

  it('by default runs the built-in provisioning server, which configures setup-state PCs', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve', '--count', '2', '--state', 'setup', '--domain', 'corp.example.test', '--ip-base', '127.91.1.20',
      '--hello-port', '0', '--dhcp-port', '0', '--dns-port', '0', '--http-port', '0', '--https-port', '0', '--redirection-port', '0',
      '--redirection-tls-port', '0', '--rmcp-port', '0', '--time-scale', '60'], { stdio: 'pipe' });
    try {
      await waitFor(child, /built-in provisioning server 127\.0\.0\.1:\d+/);
      await waitFor(child, /pc1\s+lifecycle\.transition\s+from=In to=Post controlMode=ACM/, 60_000);
      await waitFor(child, /pc2\s+lifecycle\.transition\s+from=In to=Post controlMode=ACM/, 60_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))).toBe(0);
  }, 90_000);

  it('refuses a bad flag with one clear line and exit code 2', () => {
    for (const [args, re] of [
      [['serve', '--count', 'ten'], /^amtemu: BAD_INPUT: --count must be a whole number from 1 to 20000, got "ten"\n$/],
      [['serve', '--ip-base', '10.0.0.1'], /^amtemu: BAD_INPUT: --ip-base must be in 127\.0\.0\.0\/8/],
      [['serve', '--state', 'broken'], /^amtemu: BAD_INPUT: --state must be factory, setup or configured/],
      [['serve', '--nope'], /^amtemu: error: unknown option '--nope'\n$/],
      [['serve', '--provision-server', 'example.com'], /^amtemu: BAD_INPUT: --provision-server must be an IPv4 address/],
    ] as const) {
      const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    }
  });
});
