/**
 * Who may use the power classes and how malformed requests are answered (in-process WS-Man,
 * requests built by @device-management-toolkit/wsman-messages).
 */
import { CIM } from '@device-management-toolkit/wsman-messages';
import { describe, expect, it } from 'vitest';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { output, WsmanHarness, type Parsed } from '../fixtures/wsman/call.js';

const cim = new CIM.Messages();
const PASS = 'Adm1n!pass';

async function harness(configured = true) {
  const t = await makeTestDevice(configured ? { image: provisionedImage(PASS) } : {});
  return { ...t, h: new WsmanHarness(t.device) };
}

describe('power classes: access', () => {
  it('the local system account may read the power state but not change it; a PKI session may do neither', async () => {
    const { h, device } = await harness();
    h.account = 'lsa';
    const g = await h.call(cim.PowerManagementService.Get());
    expect(g.status).toBe(200);
    const items = await h.enumerate(cim.ServiceAvailableToElement.Enumerate(), (c) => cim.ServiceAvailableToElement.Pull(c));
    expect(items[0]?.['PowerState']).toBe('2');
    const denied = await h.call(cim.PowerManagementService.RequestPowerStateChange(8));
    expect(denied.xml).toContain('AccessDenied');
    h.account = 'pki';
    expect((await h.call(cim.PowerManagementService.Get())).xml).toContain('AccessDenied');
    expect((await h.call(cim.PowerManagementService.RequestPowerStateChange(8))).xml).toContain('AccessDenied');
    expect(device.hostPower.transitioning).toBe(false);
  });

  it('admin on a configured device: ReturnValue 0 and the change is under way', async () => {
    const { h, device } = await harness();
    const r = output(await h.call(cim.PowerManagementService.RequestPowerStateChange(8)), 'RequestPowerStateChange');
    expect(r['ReturnValue']).toBe('0');
    expect(device.hostPower.transitioning).toBe(true);
  });
});

describe('power classes: bad input', () => {
  it('a non-numeric PowerState or a ManagedElement that is not the managed system answers 5', async () => {
    const { h, device, timeline } = await harness();
    const good = cim.PowerManagementService.RequestPowerStateChange(8);
    const notNumber = good.replace('<h:PowerState>8</h:PowerState>', '<h:PowerState>off</h:PowerState>');
    expect(output(await h.call(notNumber), 'RequestPowerStateChange')['ReturnValue']).toBe('5');
    const otherElement = good.replace('<Selector Name="Name">ManagedSystem</Selector>', '<Selector Name="Name">SomethingElse</Selector>');
    expect(output(await h.call(otherElement), 'RequestPowerStateChange')['ReturnValue']).toBe('5');
    const noElement = good.replace(/<h:ManagedElement>[\s\S]*<\/h:ManagedElement>/, '');
    expect(output(await h.call(noElement), 'RequestPowerStateChange')['ReturnValue']).toBe('5');
    expect(output(await h.call(cim.PowerManagementService.RequestPowerStateChange(99 as never)), 'RequestPowerStateChange')['ReturnValue']).toBe('5');
    expect(device.hostPower.transitioning).toBe(false);
    expect(timeline.query({ type: 'hostpower.refused' }).every((e) => e.code === 'INVALID_PARAMETER')).toBe(true);
    const assoc = (await h.call(cim.PowerManagementService.Get())).body['CIM_PowerManagementService'] as Parsed;
    expect(assoc['SystemName']).toBe('Intel(r) AMT');
  });
});
