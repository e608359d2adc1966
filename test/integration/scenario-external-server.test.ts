/**
 * A scenario pointed at a provisioning server outside the run (`provisioningServer: {external}`)
 * — the provisioning-server developer's case. The server here is amtemu's reference server
 * started on its own, on its own real clock, as the user's would be: it hears the hello and
 * connects back to the PC's 16993 like to real firmware, so the run must serve AMT's own WS-Man
 * ports (16992/16993; ephemeral ones would leave the PC unreachable).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/clock/real-clock.js';
import { createTestPki, type TestPki } from '../../src/pki/test-ca.js';
import { ProvisioningServer } from '../../src/provisioning/server.js';
import { runScenario } from '../../src/scenario/runner.js';
import type { Scenario } from '../../src/scenario/types.js';

let pki: TestPki;
let server: ProvisioningServer;
let helloPort: number;

beforeAll(async () => {
  const clock = new RealClock();
  pki = await createTestPki({ variants: [], now: clock.date(), fqdn: 'prov.corp.example.test' });
  server = new ProvisioningServer({
    clock,
    helloPort: 0,
    bind: '127.0.0.1',
    reverseLookup: async () => undefined,
    profiles: [{ name: 'default', adminPassword: 'Ext-Passw0rd!', mebxPassword: 'Mebx-Passw0rd!', tls: false }],
    chains: [{ name: 'external', chainPem: pki.valid.chainPem, keyPem: pki.valid.keyPem, rootHashes: pki.rootHashes }],
    wsmanTimeoutMs: 10_000,
  });
  helloPort = (await server.start()).port;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('scenario with an external provisioning server', () => {
  it('the server connects back to 16993 and configures the PC', async () => {
    const scenario: Scenario = {
      name: 'external server configures a PC',
      // The server waits in real time; a scaled clock keeps the PC's timers in step with it.
      time: { scaled: 10 },
      network: { dhcp: { domain: 'corp.example.test' } },
      provisioningServer: { external: { address: '127.0.0.1', port: helloPort } },
      devices: [{ id: 'pc1', state: 'setup', hashes: { add: [{ name: 'external root', algorithm: 'SHA256', hash: pki.rootHashes.sha256 }] } }],
      steps: [{ power: 'on' }, { expect: { device: 'pc1', state: 'configured', controlMode: 'ACM', within: '2m' } }],
    };
    const r = await runScenario(scenario);
    expect(r.failures.map((f) => f.message)).toEqual([]);
    expect(r.timeline.some((e) => e.type === 'pkich.accepted' && e.deviceId === 'pc1')).toBe(true);
    // The server marks the PC configured after its post-commit wait (5 s of its real clock, as
    // MeshCentral waits): poll for it, bounded.
    for (let i = 0; i < 100 && !server.records().some((x) => x.status !== 'in-progress'); i++) await new Promise((res) => setTimeout(res, 100));
    expect(server.records().map((x) => x.status)).toEqual(['configured']);
  }, 90_000);
});
