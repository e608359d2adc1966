/**
 * A fleet with a data directory, stopped and started again, with the built-in provisioning
 * server on --hello-port 0: the PCs' NVRAM remembers the server's root and port, so the server
 * must come back with the same root, and the PCs must say hello where it listens now.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { startFleet, type FleetPlan, type RunningFleet } from '../../src/fleet/fleet-runner.js';
import { REFERENCE_PKI_FILE } from '../../src/fleet/reference-pki.js';
import { LOCK_FILE } from '../../src/nvram/data-dir-lock.js';
import { NvramStore } from '../../src/nvram/store.js';

const dir = mkdtempSync(join(tmpdir(), 'amtemu-restart-'));
const IP_BASE = `127.${100 + (process.pid % 50)}.7.10`;
const running: RunningFleet[] = [];

afterAll(async () => {
  for (const f of running) await f.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function plan(time: FleetPlan['time']): FleetPlan {
  return {
    time,
    seed: 'restart',
    dataDir: dir,
    network: { domain: 'corp.example.test', ipBase: IP_BASE, serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0 },
    provisioning: { kind: 'builtin', fqdn: 'rcs.corp.example.test', adminPassword: 'P@ssw0rd', mebxPassword: 'Mebx-Passw0rd!2', helloPort: 0 },
    ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
    defaults: { state: 'setup', profile: 'amt16', adminPassword: 'P@ssw0rd' },
    devices: [{ id: 'pc1', fields: {} }, { id: 'pc2', fields: {} }],
  };
}

async function start(time: FleetPlan['time']): Promise<RunningFleet> {
  const f = await startFleet(plan(time));
  running.push(f);
  return f;
}

async function stop(f: RunningFleet): Promise<void> {
  running.splice(running.indexOf(f), 1);
  await f.stop();
}

/** Wait (bounded, real time) until the PC is configured; the scaled clock runs its hellos. */
async function configured(d: AmtDevice, limitMs = 60_000): Promise<void> {
  const end = performance.now() + limitMs;
  for (let i = 0; i < 10_000 && performance.now() < end; i++) {
    if (d.state === 'Post') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${d.id} not configured within ${limitMs} ms; last events: ${JSON.stringify(d.timeline.query({ deviceId: d.id }).slice(-8))}`);
}

describe('fleet restart from a data directory with the built-in provisioning server', () => {
  it('keeps the root; PCs follow a server that had to move, and use its old port when it is free', async () => {
    // Run 1 (virtual time, nothing moves): the PCs get NVRAM that trusts the root and says hello to port P1.
    const first = await start('virtual');
    const root = first.reference!.pki.rootHashes.sha256;
    const p1 = first.reference!.helloPort;
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    await stop(first);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const store = new NvramStore(dir);
    expect(store.load('pc1').setup.provisioningServer.port).toBe(p1);
    expect(store.load('pc1').certHashes.some((h) => h.hash === root && h.isActive)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, REFERENCE_PKI_FILE), 'utf8')).helloPort).toBe(p1);

    // Run 2: someone else took P1, so the server listens elsewhere; pc1 still configures.
    const squatter = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => squatter.listen(p1, '127.0.0.1', r));
    let p2: number;
    try {
      const second = await start({ scaled: 60 });
      p2 = second.reference!.helloPort;
      expect(p2).not.toBe(p1);
      expect(second.reference!.pki.rootHashes.sha256).toBe(root);
      const pc1 = second.emu.device('pc1');
      expect(pc1.nvram.setup.provisioningServer.port).toBe(p2);
      expect(second.emu.timeline.query({ deviceId: 'pc1', type: 'nvram.aligned' })[0]?.data).toEqual({ helloPort: { from: p1, to: p2 } });
      pc1.powerOn();
      await configured(pc1);
      expect(second.emu.timeline.query({ deviceId: 'pc1', code: 'HASH_NOT_TRUSTED' })).toEqual([]);
      await stop(second);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
    expect(store.load('pc1').provisioning.state).toBe('Post');
    expect(store.load('pc2').setup.provisioningServer.port).toBe(p2);

    // Run 3: P2 is free again, so the server takes it and pc2's NVRAM stays as it is.
    const third = await start({ scaled: 60 });
    expect(third.reference!.helloPort).toBe(p2);
    expect(third.reference!.pki.rootHashes.sha256).toBe(root);
    expect(third.emu.timeline.query({ type: 'nvram.aligned' })).toEqual([]);
    const pc2 = third.emu.device('pc2');
    expect(third.emu.device('pc1').state).toBe('Post');
    pc2.powerOn();
    await configured(pc2);
    await stop(third);
  }, 180_000);

  it('refuses a second fleet on the same data directory while one runs', async () => {
    const a = await start('virtual');
    await expect(startFleet(plan('virtual'))).rejects.toMatchObject({ code: 'NVRAM_LOCKED', message: expect.stringContaining(`is in use by amtemu serve (pid ${process.pid}`) });
    await stop(a);
  }, 60_000);
});
