/**
 * The host's power state through the control API: the device view shows it, and a host (PTHI)
 * command while the host OS is down answers 409 HOST_OFF instead of a PTHI status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_POWER_TIMING as T, PowerState } from '../../src/device/host-power.js';
import type { RunningFleet } from '../../src/fleet/fleet-runner.js';
import { startApiFleet, type ApiFleet } from '../helpers/api-fleet.js';

let fleet: RunningFleet;
let call: ApiFleet['call'];
let rig: ApiFleet;
const advance = (ms: number) => call('POST', '/api/time/advance', { by: `${ms / 1000}s` });

beforeAll(async () => {
  rig = await startApiFleet({
    name: 'api-host-power',
    net: '127.94.1',
    defaults: { state: 'factory', profile: 'amt16' },
    devices: [{ id: 'pc1', fields: { trigger: 'listen' } }],
    settle: '1s',
  });
  ({ fleet, call } = rig);
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

describe('host power in the API', () => {
  it('device view shows hostPower; host commands answer 409 HOST_OFF while the host is in S5, 200 again after power-on', async () => {
    expect((await call('GET', '/api/devices/pc1')).json.hostPower).toEqual({ state: 'S0', powerState: 2, transitioning: false, osAgent: false });
    expect((await call('POST', '/api/devices/pc1/host/getUuid')).json).toMatchObject({ status: 0 });
    const d = fleet.emu.device('pc1');
    expect(d.hostPower.request(PowerState.OffSoft, 'api').returnValue).toBe(0);
    expect((await call('GET', '/api/devices/pc1')).json.hostPower).toMatchObject({ state: 'S0', transitioning: true });
    await advance(T.OFF_MS);
    expect((await call('GET', '/api/devices/pc1')).json.hostPower).toMatchObject({ state: 'S5', powerState: 8, transitioning: false });
    const off = await call('POST', '/api/devices/pc1/host/getProvisioningState');
    expect(off.status).toBe(409);
    expect(off.json.error.code).toBe('HOST_OFF');
    expect(off.json.error.message).toMatch(/S5/);
    d.hostPower.request(PowerState.On, 'api');
    await advance(T.POWER_UP_MS + T.BIOS_MS);
    expect((await call('POST', '/api/devices/pc1/host/getProvisioningState')).json).toMatchObject({ status: 0, value: 0 });
  });

  it('POST /host-power changes it as RequestPowerStateChange would, answers refusals with their ReturnValue, and sets the OS agent', async () => {
    const cycle = await call('POST', '/api/devices/pc1/host-power', { action: 'cycle' });
    expect(cycle.status).toBe(200);
    expect(cycle.json).toMatchObject({ returnValue: 0, hostPower: { transitioning: true } });
    const busy = await call('POST', '/api/devices/pc1/host-power', { action: 'reset' });
    expect(busy.json).toMatchObject({ returnValue: 2 });
    expect(busy.json.reason).toMatch(/still in progress/);
    await advance(T.OFF_MS + T.CYCLE_HOLD_MS + T.BIOS_MS);
    expect((await call('GET', '/api/devices/pc1')).json.hostPower).toMatchObject({ state: 'S0', transitioning: false });
    expect(fleet.emu.timeline.query({ deviceId: 'pc1', type: 'hostpower.requested' }).at(-1)!.data).toMatchObject({ requested: 5, origin: 'api' });
    // Sleep goes through the OS's Intel agent: refused without one, accepted once it runs.
    expect((await call('POST', '/api/devices/pc1/host-power', { action: 'sleep' })).json.returnValue).toBe(2);
    expect((await call('POST', '/api/devices/pc1/host-power', { osAgent: true, action: 'sleep' })).json).toMatchObject({ returnValue: 0, hostPower: { osAgent: true } });
    expect((await call('POST', '/api/devices/pc1/host-power', { action: 'explode' })).status).toBe(400);
    expect((await call('POST', '/api/devices/pc1/host-power', {})).status).toBe(400);
    expect((await call('POST', '/api/devices/nope/host-power', { action: 'on' })).status).toBe(404);
  });
});
