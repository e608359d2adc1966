import { describe, expect, it } from 'vitest';
import { OsAgent, type AgentReport } from '../../src/provisioning/agent.js';
import { makeDevice } from '../helpers/device-fixture.js';

const HOUR = 3_600_000;

describe('OsAgent (agent-initiated remote configuration)', () => {
  it('reads state and UUID, writes an OTP, opens the window and reports', () => {
    const { device } = makeDevice();
    device.powerOn();
    const seen: AgentReport[] = [];
    const agent = new OsAgent({ device, otpBytes: 8, random: (n) => Buffer.alloc(n, 0xab), onReport: (r) => seen.push(r) });
    const r = agent.start();
    expect(r).toMatchObject({ status: 'window-opened', uuid: device.nvram.uuid, otp: 'abababababababab', state: 'In', attempt: 1 });
    expect(seen).toEqual([r]);
    expect(device.nvram.setup.otp).toBe('abababababababab');
    expect(device.state).toBe('In');
    expect(device.windowOpen()).toBe(true);
    const types = device.timeline.query({ type: 'host.' }).map((e) => e.type);
    expect(types).toEqual(['host.GetProvisioningState', 'host.GetUUID', 'host.SetProvisioningServerOTP', 'host.StartConfiguration']);
    agent.stop();
  });

  it('reopens an expired window with a fresh OTP, then gives up after maxRestarts', async () => {
    const { device, clock } = makeDevice();
    device.powerOn();
    let n = 0;
    const agent = new OsAgent({ device, maxRestarts: 1, random: (len) => Buffer.alloc(len, ++n) });
    agent.start();
    await clock.advance(24 * HOUR); // the first window is the 24-hour one (reference §2.1)
    expect(agent.reports.map((r) => r.status)).toEqual(['window-opened', 'window-opened']);
    expect(agent.reports[1]!.otp).not.toBe(agent.reports[0]!.otp);
    expect(device.windowOpen()).toBe(true);
    expect(device.window.lengthMs).toBe(6 * HOUR);
    await clock.advance(6 * HOUR);
    expect(agent.reports.map((r) => r.status)).toEqual(['window-opened', 'window-opened', 'gave-up']);
    expect(agent.reports[2]).toMatchObject({ code: 'WINDOW_CLOSED', attempt: 2 });
    expect(agent.active).toBe(false);
    await clock.advance(24 * HOUR);
    expect(agent.reports).toHaveLength(3);
    expect(device.windowOpen()).toBe(false);
  });

  it('stops watching once the device reaches Post', async () => {
    const { device, clock } = makeDevice();
    device.powerOn();
    const agent = new OsAgent({ device });
    agent.start();
    await clock.advance(HOUR);
    device.transition('Post', 'remoteConfiguration', 'ACM');
    device.closeWindow('configured');
    expect(agent.reports.at(-1)).toMatchObject({ status: 'configured', state: 'Post' });
    expect(agent.active).toBe(false);
    await clock.advance(48 * HOUR);
    expect(agent.reports.map((r) => r.status)).toEqual(['window-opened', 'configured']);
  });

  it('reports a configured device without touching it, and a powered-off one as failed', () => {
    const a = makeDevice();
    a.device.powerOn();
    a.device.update((img) => {
      img.provisioning.state = 'Post';
      img.provisioning.controlMode = 'ACM';
    });
    expect(new OsAgent({ device: a.device }).start()).toMatchObject({ status: 'configured', state: 'Post' });
    expect(a.device.nvram.setup.otp).toBeFalsy();

    const b = makeDevice();
    expect(new OsAgent({ device: b.device }).start()).toMatchObject({ status: 'failed', code: 'NOT_READY' });
    expect(() => new OsAgent({ device: b.device, otpBytes: 4 })).toThrow(RangeError);
  });
});
