/**
 * `amtemu serve` as a user runs it: a real process, real ports, a real WS-Man client, then
 * SIGTERM. And a bad flag: one line on stderr, exit 2, no stack trace.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      // Either PC may finish first: watch for both at once.
      await Promise.all([
        waitFor(child, /pc1\s+lifecycle\.transition\s+from=In to=Post controlMode=ACM/, 60_000),
        waitFor(child, /pc2\s+lifecycle\.transition\s+from=In to=Post controlMode=ACM/, 60_000),
      ]);
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
      [['serve', '--trust-root', 'abc'], /^amtemu: BAD_INPUT: --trust-root must be a SHA-256 in hex/],
      [['serve', '--id-prefix', '9x'], /^amtemu: BAD_INPUT: --id-prefix must start with a letter/],
      [['serve', '--admin-password', 'weak'], /^amtemu: BAD_INPUT: --admin-password must follow the AMT strong-password rule/],
      [['serve', '--time', 'virtual', '--rmcp-port', '0', '--http-port', '0', '--https-port', '0'], /^amtemu: BAD_INPUT: --time virtual moves time only through the control API: add --api-port/],
    ] as const) {
      const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('builds a fleet from --config, flags win over the file, and --api-port serves the control API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amtemu-fleet-'));
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, [
      'name: cli-fleet',
      'time: { scaled: 1 }',
      'network: { domain: corp.example.test, ipBase: 127.91.2.10, dhcpPort: 0, dnsPort: 0 }',
      'provisioningServer: { address: 127.91.2.2, port: 9 }',
      'ports: { http: 0, https: 0, redirection: 0, redirectionTls: 0, rmcp: 0 }',
      'templates:',
      '  desk: { profile: amt12, state: setup }',
      'devices:',
      '  - { template: desk, count: 2, prefix: desk }',
      '  - { id: clone, template: desk, state: configured, uuid: 4c4c4544-0042-3910-8051-c7c04f4d3232 }',
      '  - { id: clone2, template: desk, uuid: 4c4c4544-0042-3910-8051-c7c04f4d3232 }',
    ].join('\n'));
    // --ip-base and --time on the command line override the file.
    const child = spawn(process.execPath, [...CLI, 'serve', '--config', file, '--ip-base', '127.91.3.10', '--time', 'virtual', '--api-port', '0', '--quiet'], { stdio: 'pipe' });
    try {
      // The three lines come in one burst: watch for all of them from the start.
      const [, , api] = await Promise.all([
        waitFor(child, /amtemu: 4 device\(s\), fleet cli-fleet, In\/Post, .*virtual time/),
        waitFor(child, /note: clone, clone2 share UUID 4c4c4544-0042-3910-8051-c7c04f4d3232/),
        waitFor(child, /control API http:\/\/127\.0\.0\.1:(\d+)\//),
      ]);
      const port = Number(api[1]);
      const base = `http://127.0.0.1:${port}`;
      const list = (await (await fetch(`${base}/api/devices`)).json()) as { devices: Array<{ id: string; plannedAddress: string; state: string; profile: string }> };
      expect(list.devices.map((d) => [d.id, d.plannedAddress, d.state, d.profile])).toEqual([
        ['desk1', '127.91.3.10', 'In', 'amt12'],
        ['desk2', '127.91.3.11', 'In', 'amt12'],
        ['clone', '127.91.3.12', 'Post', 'amt12'],
        ['clone2', '127.91.3.13', 'In', 'amt12'],
      ]);
      const t = (await (await fetch(`${base}/api/time/advance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: '5m' }) })).json()) as { kind: string; now: number };
      expect(t).toMatchObject({ kind: 'virtual', now: 300_000 });
      const lease = (await (await fetch(`${base}/api/timeline?deviceId=desk1&type=dhcp.lease`)).json()) as { events: Array<{ data: { address: string } }> };
      expect(lease.events[0]?.data.address).toBe('127.91.3.10');
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^amtemu_devices\{state="Post",control_mode="ACM"\} 1$/m);
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))).toBe(0);
  }, 60_000);

  it('refuses a bad fleet file or bad API flags with one line and exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'amtemu-fleet-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'devices:\n  - id: a\n    state: broken\n');
      const dup = join(dir, 'dup.yaml');
      writeFileSync(dup, 'devices:\n  - count: 2\n');
      for (const [args, re] of [
        [['serve', '--config', file], new RegExp(`^amtemu: BAD_INPUT: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:12: devices\\[0\\]\\.state must be one of "factory", "setup" or "configured"\n$`)],
        [['serve', '--config', join(dir, 'missing.yaml')], /^amtemu: BAD_INPUT: .*missing\.yaml:1:1: cannot read fleet file: no such file\n$/],
        [['serve', '--config', dup, '--count', '3'], /^amtemu: BAD_INPUT: --count cannot be combined with --config/],
        [['serve', '--time', 'fast'], /^amtemu: BAD_INPUT: --time must be scaled or virtual, got "fast"\n$/],
        [['serve', '--api-port', '70000'], /^amtemu: BAD_INPUT: --api-port must be a whole number from 0 to 65535/],
        [['serve', '--api-token', 'short'], /^amtemu: BAD_INPUT: --api-token must be 16–200 printable characters/],
      ] as const) {
        const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });
        expect(r.status, args.join(' ')).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(re);
        expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
