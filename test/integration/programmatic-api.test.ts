/**
 * The README's example, run as written: users' own test suites drive an emulated network
 * through src/index.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ExpectationError, runScenario, startNetwork, type EmulatedNetwork } from '../../src/index.js';

describe('programmatic API', () => {
  let net: EmulatedNetwork | undefined;
  afterEach(async () => {
    await net?.stop();
    net = undefined;
  });

  it('README example: a PC in setup says hello on the firmware schedule', async () => {
    net = await startNetwork({ domain: 'corp.example.test' });
    const pc = net.addDevice({ id: 'pc1', state: 'setup' });
    pc.powerOn();
    await net.advance('10m');
    // 0–4 min every minute, then 5 and 10 minutes (reference §2.1).
    expect(net.timeline.count({ deviceId: 'pc1', type: 'hello.sent' })).toBe(7);
    await net.expect({ device: 'pc1', window: 'bareMetal', state: 'setup', server: { hellos: 7 } });
    expect(pc.lease?.domain).toBe('corp.example.test');
  });

  it('expect() waits in virtual time and throws expected vs actual when it does not hold', async () => {
    net = await startNetwork({ domain: 'corp.example.test' });
    net.addDevice({ id: 'pc1', state: 'setup', trigger: 'listen' });
    net.device('pc1').powerOn();
    net.mark('on');
    const err = await net.expect({ device: 'pc1', hellos: { min: 1 }, within: '1h' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpectationError);
    expect((err as Error).message).toBe('pc1 hellos sent: expected ≥ 1, got 0');
    expect(net.now).toBe(3_600_000);
    expect(net.device('pc1').host.startConfiguration().status).toBe(0);
    await net.expect({ device: 'pc1', events: [{ type: 'hello.sent', since: 'on', min: 3 }], within: '5m' });
    expect(net.now).toBeLessThan(3_600_000 + 5 * 60_000);
  });

  it('runScenario takes an object and returns the result', async () => {
    const r = await runScenario({
      name: 'inline',
      devices: [{ id: 'pc1', state: 'factory' }],
      steps: [{ power: 'on' }, { mebxPassword: 'N3w-Passw0rd!' }, { expect: { device: 'pc1', state: 'setup' } }],
    });
    expect(r.passed).toBe(true);
    expect(r.timeline.some((e) => e.type === 'mebx.password-set')).toBe(true);
  });
});
