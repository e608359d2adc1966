/**
 * busybox udhcpc against OUR FakeDhcpServer in netns mode (peers-and-clients §3.3 invocation):
 * the script's environment must carry our address and option 15 as `domain`.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBNET, createNetnsPair, requireTools, waitFor, type NetnsPair } from './netns.js';

let pair: NetnsPair;
let dir: string;
const serverEvents: string[] = [];

async function startServer(domain: string | undefined): Promise<void> {
  const { child } = pair.agent(pair.serverNs, 'dhcp-server', {
    serverId: SUBNET.serverIp,
    pool: { start: `${SUBNET.prefix}.80`, end: `${SUBNET.prefix}.90` },
    dns: [SUBNET.serverIp],
    ...(domain ? { domain } : {}),
  }, (line) => serverEvents.push(line));
  await waitFor('fake DHCP server ready in the namespace', () => serverEvents.some((l) => l.includes('"ready":true')) || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`fake DHCP server agent exited: ${serverEvents.join('\n')}`);
}

beforeAll(async () => {
  requireTools(['ip', 'busybox']);
  dir = mkdtempSync(path.join(os.tmpdir(), 'amtemu-udhcpc-'));
  pair = await createNetnsPair('ud');
  await startServer('corp.example.test');
});

afterAll(async () => {
  await pair?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('interop: busybox udhcpc against our FakeDhcpServer (netns)', () => {
  it('the bound script sees our address and domain=corp.example.test', async () => {
    const out = path.join(dir, 'env');
    const script = path.join(dir, 'script.sh');
    // udhcpc calls the script with deconfig, then bound; keep the environment of each call.
    writeFileSync(script, `#!/bin/sh\nenv > "${out}.$1"\nexit 0\n`);
    chmodSync(script, 0o755);
    let log = '';
    const u = pair.spawnIn(pair.clientNs, 'busybox', ['udhcpc', '-i', pair.clientIf, '-n', '-q', '-O', 'domain', '-s', script, '-t', '5', '-T', '2']);
    u.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    u.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => u.on('close', (code) => r(code)));
    const code = await exited;
    if (!existsSync(`${out}.bound`)) throw new Error(`udhcpc exited ${code} without a lease:\n${log}\n--- server ---\n${serverEvents.join('\n')}`);
    const env = readFileSync(`${out}.bound`, 'utf8');
    expect(code).toBe(0);
    expect(env).toMatch(new RegExp(`^ip=${SUBNET.prefix.replace(/\./g, '\\.')}\\.(8\\d|90)$`, 'm'));
    expect(env).toMatch(/^domain=corp\.example\.test$/m);
    expect(env).toMatch(new RegExp(`^serverid=${SUBNET.serverIp.replace(/\./g, '\\.')}$`, 'm'));
    expect(env).toMatch(/^lease=600$/m);
    expect(serverEvents.some((l) => l.includes('"event":"ack"'))).toBe(true);
  });
});
