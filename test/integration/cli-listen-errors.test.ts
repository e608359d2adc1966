/**
 * A port that is taken: one coded line naming the flag that chose it, not node's
 * `bind EADDRINUSE 127.0.0.1:10053` (listen-errors.ts). The test holds the port itself.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerProvisionServerCommand } from '../../src/cli/provision-server-command.js';
import { isAmtError } from '../../src/common/errors.js';
import { createTestPki, writeTestPki } from '../../src/pki/test-ca.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const dir = mkdtempSync(join(tmpdir(), `amtemu-listen-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function holdTcp(host: string): Promise<{ port: number; server: Server }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolve({ port: (server.address() as { port: number }).port, server }));
  });
}

function holdUdp(host: string): Promise<{ port: number; sock: UdpSocket }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, host, () => resolve({ port: sock.address().port, sock }));
  });
}

function runCli(args: string[], limitMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`amtemu ${args[0]} still running after ${limitMs} ms; stderr:\n${stderr}`));
    }, limitMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const SERVE = ['serve', '--count', '1', '--ip-base', '127.93.8.10', '--provision-server', '127.0.0.1', '--hello-port', '9', '--dhcp-port', '0', '--dns-port', '0',
  '--http-port', '0', '--https-port', '0', '--redirection-port', '0', '--redirection-tls-port', '0', '--rmcp-port', '0'];
const withFlag = (flag: string, port: number): string[] => SERVE.map((a, i) => (SERVE[i - 1] === flag ? String(port) : a));

describe('serve: a port that is in use', () => {
  it('--dns-port (UDP): PORT_IN_USE naming the flag, one line, exit 1', async () => {
    const held = await holdUdp('127.0.0.1');
    try {
      const r = await runCli(withFlag('--dns-port', held.port));
      expect(r.stderr).toBe(`amtemu: PORT_IN_USE: --dns-port ${held.port} on 127.0.0.1 is in use (another amtemu serve?)\n`);
      expect(r.code).toBe(1);
    } finally {
      held.sock.close();
    }
  });

  it('--https-port (TCP, every interface): PORT_IN_USE naming the flag', async () => {
    const held = await holdTcp('0.0.0.0');
    try {
      const r = await runCli(withFlag('--https-port', held.port));
      expect(r.stderr).toBe(`amtemu: PORT_IN_USE: --https-port ${held.port} on 0.0.0.0 is in use (another amtemu serve?)\n`);
      expect(r.code).toBe(1);
    } finally {
      held.server.close();
    }
  });
});

describe('provision-server: the hello port is in use', () => {
  let config: string;
  beforeAll(async () => {
    await writeTestPki(join(dir, 'pki'), await createTestPki({ variants: [] }));
    config = join(dir, 'prov.yaml');
    writeFileSync(config, 'profiles:\n  - name: acm\n    adminPassword: "Adm1n!pass"\n    mebxPassword: "Mebx!2pass"\nchains:\n  - chain: pki/chain.pem\n    key: pki/leaf.key\n');
  });

  it('names --hello-port (given) or the file (helloPort:), with PORT_IN_USE', async () => {
    const held = await holdTcp('127.0.0.1');
    try {
      const program = new Command('amtemu').exitOverride();
      registerProvisionServerCommand(program);
      const err = await program.parseAsync(['node', 'amtemu', 'provision-server', '--config', config, '--hello-port', String(held.port)]).then(() => undefined, (e: unknown) => e);
      expect(isAmtError(err, 'PORT_IN_USE')).toBe(true);
      expect((err as Error).message).toBe(`--hello-port ${held.port} on 127.0.0.1 is in use (another amtemu provision-server?)`);
      writeFileSync(join(dir, 'prov2.yaml'), `helloPort: ${held.port}\n${'profiles:\n  - name: acm\n    adminPassword: "Adm1n!pass"\n    mebxPassword: "Mebx!2pass"\nchains:\n  - chain: pki/chain.pem\n    key: pki/leaf.key\n'}`);
      const again = new Command('amtemu').exitOverride();
      registerProvisionServerCommand(again);
      const err2 = await again.parseAsync(['node', 'amtemu', 'provision-server', '--config', join(dir, 'prov2.yaml')]).then(() => undefined, (e: unknown) => e);
      expect(isAmtError(err2, 'PORT_IN_USE')).toBe(true);
      expect((err2 as Error).message).toBe(`helloPort (${join(dir, 'prov2.yaml')}) ${held.port} on 127.0.0.1 is in use (another amtemu provision-server?)`);
    } finally {
      held.server.close();
    }
  });
});
