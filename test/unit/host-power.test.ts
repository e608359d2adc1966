/**
 * The host's power state machine (src/device/host-power.ts) in virtual time: what each request
 * does and when, what is refused with which ReturnValue, AC power, and the host commands that
 * cannot run while the OS is down (HOST_OFF).
 */
import { describe, expect, it } from 'vitest';
import { HOST_POWER_TIMING as T, PowerState } from '../../src/device/host-power.js';
import { PthiStatus } from '../../src/device/pthi.js';
import { userConsentFor } from '../../src/device/user-consent.js';
import { makeTestDevice, provisionedImage, VirtualClock } from '../fixtures/wsman/device.js';

async function device() {
  const clock = new VirtualClock();
  const t = await makeTestDevice({ clock, image: provisionedImage('Adm1n!pass') });
  return { ...t, clock };
}

describe('HostPower state machine', () => {
  it('refuses power off and cycle (5 Invalid Parameter, REDIRECTION_ACTIVE) while a redirection session is open; reset still goes', async () => {
    const { device: d, clock, timeline } = await device();
    userConsentFor(d).sessionOpened(); // a SOL session started (src/device/redirection/session.ts holds it)
    expect(d.hostPower.request(PowerState.OffSoft).returnValue).toBe(5);
    expect(d.hostPower.request(PowerState.PowerCycleOffSoft).returnValue).toBe(5);
    expect(timeline.query({ type: 'hostpower.refused', code: 'REDIRECTION_ACTIVE' })).toHaveLength(2);
    expect(d.hostPower.state).toBe('S0');
    expect(d.hostPower.request(PowerState.MasterBusReset).returnValue).toBe(0);
    await clock.advance(T.BIOS_MS);
    userConsentFor(d).sessionClosed();
    expect(d.hostPower.request(PowerState.OffSoft).returnValue).toBe(0);
    await clock.advance(T.OFF_MS);
    expect(d.hostPower.state).toBe('S5');
  });

  it('AC power on puts the host in S0 at once; AC loss takes it to G3 and is on the timeline', async () => {
    const { device: d, timeline } = await device();
    expect(d.hostPower.state).toBe('S0');
    expect(d.hostPower.powerState).toBe(2);
    expect(d.hostPower.running).toBe(true);
    d.powerOff('loss');
    expect(d.hostPower.state).toBe('G3');
    expect(d.hostPower.powerState).toBe(6);
    const last = timeline.query({ type: 'hostpower.changed' }).at(-1)!;
    expect(last.data).toMatchObject({ from: 2, to: 6, fromState: 'S0', toState: 'G3', origin: 'ac', reason: 'loss' });
    d.powerOn();
    expect(d.hostPower.state).toBe('S0');
  });

  it('Off-Soft (8): ReturnValue 0 at once, S5 one second later, then only On is offered', async () => {
    const { device: d, clock, timeline } = await device();
    expect(d.hostPower.availableRequests()).toEqual([10, 8, 5, 11]);
    expect(d.hostPower.request(PowerState.OffSoft).returnValue).toBe(0);
    expect(d.hostPower.state).toBe('S0');
    expect(d.hostPower.transitioning).toBe(true);
    await clock.advance(T.OFF_MS - 1);
    expect(d.hostPower.state).toBe('S0');
    await clock.advance(1);
    expect(d.hostPower.state).toBe('S5');
    expect(d.hostPower.powerState).toBe(8);
    expect(d.hostPower.transitioning).toBe(false);
    expect(d.hostPower.availableRequests()).toEqual([2]);
    expect(d.hostPower.requestedPowerState).toBe(8);
    const ev = timeline.query({ type: 'hostpower.changed' }).at(-1)!;
    expect(ev.t).toBe(timeline.query({ type: 'hostpower.requested' }).at(-1)!.t + T.OFF_MS);
    expect(ev.data).toMatchObject({ from: 2, to: 8, requested: 8, origin: 'wsman' });
  });

  it('On (2) from S5: S0 after power-up, busy through POST, then running', async () => {
    const { device: d, clock } = await device();
    d.hostPower.request(PowerState.OffSoft);
    await clock.advance(T.OFF_MS);
    expect(d.hostPower.request(PowerState.On, 'api').returnValue).toBe(0);
    await clock.advance(T.POWER_UP_MS);
    expect(d.hostPower.state).toBe('S0');
    expect(d.hostPower.running).toBe(false);
    // A second request during POST is refused (reference guide: wait for the BIOS).
    expect(d.hostPower.request(PowerState.OffSoft)).toMatchObject({ returnValue: 2 });
    await clock.advance(T.BIOS_MS);
    expect(d.hostPower.running).toBe(true);
  });

  it('Power cycle (5) goes S0 → S5 → S0 with the hold time in between', async () => {
    const { device: d, clock, timeline } = await device();
    const t0 = clock.now();
    expect(d.hostPower.request(PowerState.PowerCycleOffSoft).returnValue).toBe(0);
    await clock.advance(T.OFF_MS + T.CYCLE_HOLD_MS + T.BIOS_MS);
    const changes = timeline.query({ type: 'hostpower.changed', since: t0 + 1 });
    expect(changes.map((e) => [e.t - t0, e.data['from'], e.data['to']])).toEqual([
      [T.OFF_MS, 2, 8],
      [T.OFF_MS + T.CYCLE_HOLD_MS, 8, 2],
    ]);
    expect(d.hostPower.running).toBe(true);
  });

  it('Reset (10) keeps PowerState 2 but reboots the OS (POST)', async () => {
    const { device: d, clock, timeline } = await device();
    expect(d.hostPower.request(PowerState.MasterBusReset).returnValue).toBe(0);
    await clock.advance(0);
    expect(timeline.query({ type: 'hostpower.changed' }).at(-1)!.data).toMatchObject({ from: 2, to: 2, reset: true, requested: 10 });
    expect(d.hostPower.powerState).toBe(2);
    expect(d.hostPower.running).toBe(false);
    await clock.advance(T.BIOS_MS);
    expect(d.hostPower.running).toBe(true);
  });

  it('refusals: On when on, Reset/Cycle when off, out-of-map values, graceful without an OS agent', async () => {
    const { device: d, clock, timeline } = await device();
    expect(d.hostPower.request(PowerState.On)).toMatchObject({ returnValue: 2 });
    expect(d.hostPower.request(1)).toMatchObject({ returnValue: 5 });
    expect(d.hostPower.request(17)).toMatchObject({ returnValue: 5 });
    expect(d.hostPower.request(2.5)).toMatchObject({ returnValue: 5 });
    const g = d.hostPower.request(PowerState.OffSoftGraceful);
    expect(g.returnValue).toBe(2);
    expect(g.reason).toMatch(/OS agent/);
    expect(d.hostPower.request(PowerState.SleepDeep).returnValue).toBe(2);
    d.hostPower.request(PowerState.OffSoft);
    await clock.advance(T.OFF_MS);
    expect(d.hostPower.request(PowerState.MasterBusReset).returnValue).toBe(2);
    expect(d.hostPower.request(PowerState.PowerCycleOffSoft).returnValue).toBe(2);
    expect(d.hostPower.state).toBe('S5');
    const refused = timeline.query({ type: 'hostpower.refused' });
    expect(refused.map((e) => e.code)).toEqual(['NOT_PERMITTED', 'INVALID_PARAMETER', 'INVALID_PARAMETER', 'INVALID_PARAMETER', 'NOT_PERMITTED', 'NOT_PERMITTED', 'NOT_PERMITTED', 'NOT_PERMITTED']);
  });

  it('with the OS agent: graceful off, sleep and wake, hibernate', async () => {
    const { device: d, clock } = await device();
    d.hostPower.osAgent = true;
    expect(d.hostPower.availableRequests()).toEqual([10, 8, 5, 11, 4, 7, 12, 14]);
    expect(d.hostPower.request(PowerState.SleepDeep).returnValue).toBe(0);
    await clock.advance(T.SLEEP_MS);
    expect(d.hostPower.state).toBe('S3');
    expect(d.hostPower.powerState).toBe(4);
    expect(d.hostPower.availableRequests()).toEqual([2, 5, 8]);
    expect(d.hostPower.request(PowerState.On).returnValue).toBe(0);
    await clock.advance(T.RESUME_MS * 2);
    expect(d.hostPower.running).toBe(true);
    expect(d.hostPower.request(PowerState.Hibernate).returnValue).toBe(0);
    await clock.advance(T.HIBERNATE_MS);
    expect(d.hostPower.powerState).toBe(7);
    d.hostPower.request(PowerState.On);
    await clock.advance(T.POWER_UP_MS + T.BIOS_MS);
    expect(d.hostPower.request(PowerState.OffSoftGraceful).returnValue).toBe(0);
    await clock.advance(T.GRACEFUL_SHUTDOWN_MS - 1);
    expect(d.hostPower.state).toBe('S0');
    await clock.advance(1);
    expect(d.hostPower.state).toBe('S5');
  });

  it('AC loss in the middle of a power cycle: host to G3, the pending steps never run', async () => {
    const { device: d, clock, timeline } = await device();
    d.hostPower.request(PowerState.PowerCycleOffSoft);
    await clock.advance(T.OFF_MS);
    d.powerOff('loss');
    expect(timeline.query({ type: 'hostpower.changed' }).at(-1)!.data).toMatchObject({ toState: 'G3', interrupted: 5 });
    await clock.advance(T.CYCLE_HOLD_MS + T.BIOS_MS);
    expect(d.hostPower.state).toBe('G3');
    expect(d.hostPower.request(PowerState.On)).toMatchObject({ returnValue: 2 });
  });
});

describe('host commands while the host is down', () => {
  it('fail with HOST_OFF (status NOT_READY) and work again once the host is running', async () => {
    const { device: d, clock, timeline } = await device();
    expect(d.host.getUuid().status).toBe(PthiStatus.SUCCESS);
    d.hostPower.request(PowerState.OffSoft);
    await clock.advance(T.OFF_MS);
    const r = d.host.getProvisioningState();
    expect(r).toMatchObject({ status: PthiStatus.NOT_READY, code: 'HOST_OFF' });
    expect(r.message).toMatch(/S5/);
    expect(timeline.query({ type: 'host.GetProvisioningState' }).at(-1)!.code).toBe('HOST_OFF');
    // LMS runs in the OS: nothing answers a local connection either.
    expect(d.portOpen(16992, 'local')).toBe(false);
    d.hostPower.request(PowerState.On);
    await clock.advance(T.POWER_UP_MS);
    expect(d.host.getUuid()).toMatchObject({ code: 'HOST_OFF' });
    await clock.advance(T.BIOS_MS);
    expect(d.host.getUuid().status).toBe(PthiStatus.SUCCESS);
    expect(d.portOpen(16992, 'local')).toBe(true);
  });

  it('the ME itself off is still plain NOT_READY (no HOST_OFF code)', async () => {
    const { device: d } = await device();
    d.powerOff();
    const r = d.host.getUuid();
    expect(r.status).toBe(PthiStatus.NOT_READY);
    expect(r.code).toBeUndefined();
  });
});
