/**
 * Remote power control with real clients over a loopback socket: the DMT request builder
 * (@device-management-toolkit/wsman-messages: CIM.PowerManagementService.RequestPowerStateChange,
 * CIM.ServiceAvailableToElement Enumerate/Pull, IPS.PowerManagementService) and MeshCentral's own
 * WS-Man stack (amtmanager.js fetchPowerState: BatchEnum CIM_ServiceAvailableToElement, then
 * RequestPowerStateChange). The host's state moves in the device's virtual time.
 */
import { CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { HOST_POWER_TIMING as T } from '../../src/device/host-power.js';
import { PortListeners } from '../../src/network/listeners.js';
import { readBody, type Parsed } from '../fixtures/wsman/call.js';
import { makeTestDevice, provisionedImage, type VirtualClock } from '../fixtures/wsman/device.js';
import { DigestClient } from '../fixtures/wsman/digest-client.js';
import { MeshAmt } from '../fixtures/wsman/meshcentral.js';

const PASS = 'Adm1n!pass';
const cim = new CIM.Messages();
const ips = new IPS.Messages();

type MeshCb = (stack: unknown, name: string, response: { Body: Record<string, unknown> } | null, status: number) => void;
interface MeshPowerStack {
  RequestPowerStateChange(state: number, cb: MeshCb): void;
}

describe('host power control over WS-Man with real clients', () => {
  const devices = new Map<string, AmtDevice>();
  let listeners: PortListeners;
  let dmt: { device: AmtDevice; clock: VirtualClock };
  let mesh: { device: AmtDevice; clock: VirtualClock };

  beforeAll(async () => {
    const a = await makeTestDevice({ deviceId: 'pw-dmt', address: '127.77.4.1', profile: 'amt12', image: provisionedImage(PASS) });
    const b = await makeTestDevice({ deviceId: 'pw-mesh', address: '127.77.4.2', profile: 'amt12', image: provisionedImage(PASS) });
    dmt = { device: a.device, clock: a.clock as VirtualClock };
    mesh = { device: b.device, clock: b.clock as VirtualClock };
    for (const d of [a.device, b.device]) devices.set(d.address!, d);
    listeners = new PortListeners({ lookup: (addr) => devices.get(addr), httpPort: 0, tlsPort: 0 });
    await listeners.start();
  });
  afterAll(async () => {
    await listeners?.stop();
  });

  describe('@device-management-toolkit/wsman-messages', () => {
    let client: DigestClient;
    beforeAll(() => {
      client = new DigestClient({ host: dmt.device.address!, port: listeners.httpPort }, 'admin', PASS);
    });

    async function send(xml: string): Promise<Parsed> {
      const r = await client.post(xml);
      expect(r.body).not.toContain(':Fault>');
      expect(r.status).toBe(200);
      return readBody(r.body);
    }
    async function powerState(): Promise<Parsed> {
      const e = await send(cim.ServiceAvailableToElement.Enumerate());
      const ctx = (e['EnumerateResponse'] as Parsed)['EnumerationContext'] as string;
      const p = await send(cim.ServiceAvailableToElement.Pull(ctx));
      const items = (p['PullResponse'] as Parsed)['Items'] as Parsed;
      // Real firmware answers the association with its subclass instance (DMT console models).
      const item = items['CIM_AssociatedPowerManagementService'] as Parsed;
      expect(item).toBeDefined();
      return item;
    }
    async function request(state: 2 | 5 | 8 | 10 | 12): Promise<string> {
      const out = (await send(cim.PowerManagementService.RequestPowerStateChange(state)))['RequestPowerStateChange_OUTPUT'] as Parsed;
      return out['ReturnValue'] as string;
    }

    it('reads PowerState 2 and the S0 list, powers off (8), sees 8 and [2], refuses reset while off, powers on', async () => {
      const svc = (await send(cim.PowerManagementService.Get()))['CIM_PowerManagementService'] as Parsed;
      expect(svc['Name']).toBe('Intel(r) AMT Power Management Service');
      const on = await powerState();
      expect(on['PowerState']).toBe('2');
      expect(on['AvailableRequestedPowerStates']).toEqual(['10', '8', '5', '11']);
      expect(((on['UserOfService'] as Parsed)['ReferenceParameters'] as Parsed)['ResourceURI']).toMatch(/CIM_ComputerSystem$/);

      expect(await request(12)).toBe('2'); // graceful needs the OS agent
      expect(await request(8)).toBe('0');
      expect(dmt.device.timeline.query({ type: 'wsman.CIM_PowerManagementService.RequestPowerStateChange' }).map((e) => e.data['returnValue'])).toEqual([2, 0]);
      await dmt.clock.advance(T.OFF_MS);
      const off = await powerState();
      expect(off['PowerState']).toBe('8');
      expect(off['AvailableRequestedPowerStates']).toBe('2');
      expect(off['RequestedPowerState']).toBe('8');
      expect(dmt.device.timeline.query({ type: 'hostpower.changed' }).at(-1)!.data).toMatchObject({ from: 2, to: 8, requested: 8, origin: 'wsman' });
      // MPS #2278: with the host off AMT leaves OSPowerSavingState out.
      const ipsOff = (await send(ips.PowerManagementService.Get()))['IPS_PowerManagementService'] as Parsed;
      expect(ipsOff['OSPowerSavingState']).toBeUndefined();

      expect(await request(10)).toBe('2');
      expect(await request(2)).toBe('0');
      await dmt.clock.advance(T.POWER_UP_MS + T.BIOS_MS);
      expect((await powerState())['PowerState']).toBe('2');
      expect(dmt.device.hostPower.running).toBe(true);
      const ipsOn = (await send(ips.PowerManagementService.Get()))['IPS_PowerManagementService'] as Parsed;
      expect(ipsOn['OSPowerSavingState']).toBe('2');
      const os = (await send(ips.PowerManagementService.RequestOSPowerSavingStateChange(2)))['RequestOSPowerSavingStateChange_OUTPUT'] as Parsed;
      expect(os['ReturnValue']).toBe('0');
    });
  });

  describe("MeshCentral's WS-Man stack", () => {
    it('polls power state the way amtmanager.js does and sends a reset (10) and a power cycle (5)', async () => {
      const mc = new MeshAmt(mesh.device.address!, listeners.httpPort, 'admin', PASS, false);
      const batch = await mc.batchEnum(['CIM_ServiceAvailableToElement']);
      expect(batch.status).toBe(200);
      const first = (batch.responses['CIM_ServiceAvailableToElement'] as unknown as { responses: Array<Record<string, unknown>> }).responses[0]!;
      expect(first['PowerState']).toBe(2);
      const stack = mc.stack as unknown as MeshPowerStack;
      const call = (state: number) => new Promise<{ status: number; rv: unknown }>((resolve) => stack.RequestPowerStateChange(state, (_s, _n, r, status) => resolve({ status, rv: r?.Body['ReturnValue'] })));
      expect(await call(10)).toEqual({ status: 200, rv: 0 });
      await mesh.clock.advance(0);
      expect(mesh.device.timeline.query({ type: 'hostpower.changed' }).at(-1)!.data).toMatchObject({ reset: true, requested: 10 });
      // Busy in POST: a second action is refused until the BIOS is done.
      expect(await call(5)).toEqual({ status: 200, rv: 2 });
      await mesh.clock.advance(T.BIOS_MS);
      expect(await call(5)).toEqual({ status: 200, rv: 0 });
      await mesh.clock.advance(T.OFF_MS);
      const mid = await mc.batchEnum(['CIM_ServiceAvailableToElement']);
      expect((mid.responses['CIM_ServiceAvailableToElement'] as unknown as { responses: Array<Record<string, unknown>> }).responses[0]!['PowerState']).toBe(8);
      await mesh.clock.advance(T.CYCLE_HOLD_MS + T.BIOS_MS);
      expect(mesh.device.hostPower.state).toBe('S0');
      expect(mesh.device.hostPower.running).toBe(true);
    });
  });
});
