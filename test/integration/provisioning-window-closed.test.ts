/**
 * A PC whose 24-hour hello window ran out while no provisioning server was there stays silent
 * and unconfigured, and is reached only after the OS agent reopens the window (reference §2.1;
 * seed 000 stage 1a). Virtual time, real loopback sockets.
 */
import { promises as dns } from 'node:dns';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Emulator } from '../../src/fleet/emulator.js';
import { attachListeners, type AttachedListeners } from '../../src/fleet/listeners.js';
import { createTestPki } from '../../src/pki/test-ca.js';
import { OsAgent } from '../../src/provisioning/agent.js';
import { ProvisioningServer } from '../../src/provisioning/server.js';

const HOUR = 3_600_000;

describe('hello window closed after 24 h', () => {
  let emu: Emulator | undefined;
  let listeners: AttachedListeners | undefined;
  let server: ProvisioningServer | undefined;
  afterAll(async () => {
    await server?.stop();
    await listeners?.close();
    await emu?.stop();
  });

  it('is configured only after the agent reopens the window', async () => {
    const clock = new VirtualClock({ epoch: Date.now() });
    const pki = await createTestPki({ fqdn: 'rcs.corp.example.test', now: clock.date() });
    emu = await Emulator.start({
      clock,
      seed: 'window-closed',
      network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', provisionServer: '127.0.0.1', ipBase: '127.93.0.10' },
    });
    listeners = await attachListeners(emu, { http: 0, https: 0, redirection: null, rmcp: null });
    const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${emu.fake.dnsPort}`]);
    // The server is not running for the first day: every hello to its port is refused. The port
    // is below the kernel's ephemeral range (32768-60999), where no other test's listen(0) lands.
    const helloPort = 20000 + (process.pid % 10000);
    server = new ProvisioningServer({
      clock,
      helloPort,
      bind: '127.0.0.1',
      deviceWsmanPort: listeners.ports.https,
      reverseLookup: async (ip) => (await resolver.reverse(ip).catch(() => []))[0],
      profiles: [{ name: 'acm', adminPassword: 'Adm1n-Pass!', mebxPassword: 'Mebx-Pass!1', tls: false }],
      chains: [{ name: 'test', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
    });
    const pc = emu.addDevice({
      deviceId: 'pc1',
      state: 'setup',
      helloPort,
      customize: (img) => {
        img.certHashes = [{ name: 'test root', algorithm: 'SHA256', hash: pki.rootHashes.sha256, isDefault: false, isActive: true }, ...img.certHashes.slice(0, 22)];
      },
    });
    pc.powerOn();
    await clock.advance(25 * HOUR);
    expect(emu.timeline.count({ deviceId: 'pc1', type: 'hello.failed', code: 'HELLO_CONNECT_FAILED' })).toBe(39);
    expect(pc.window.kind).toBe('closed');

    // Now the server is up on the hello port, but the closed window means silence.
    await server.start();
    await clock.advance(3 * HOUR);
    expect(emu.timeline.count({ deviceId: 'pc1', type: 'hello.', since: 25 * HOUR })).toBe(0);
    expect(pc.state).toBe('In');

    // The agent reopens the window (6 h this time); the next hello reaches the server.
    const agent = new OsAgent({ device: pc, useEx: true });
    agent.start();
    expect(pc.window).toMatchObject({ kind: 'agent', lengthMs: 6 * HOUR });
    const configured = await clock.runUntil(() => pc.state === 'Post', HOUR);
    await server.idle();
    expect(configured, JSON.stringify(server.records())).toBe(true);
    expect(pc.controlMode).toBe('ACM');
    expect(emu.timeline.query({ deviceId: 'pc1', type: 'hello.sent' })).toHaveLength(1);
    agent.stop();
  }, 120_000);
});
