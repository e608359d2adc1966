/**
 * AMT_RedirectionService, CIM_KVMRedirectionSAP, IPS_KVMRedirectionSettingData and IPS_OptInService
 * driven by the real @device-management-toolkit/wsman-messages builders through the WS-Man service.
 */
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { describe, expect, it } from 'vitest';
import { configuredDefaults } from '../../src/device/user-consent.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';
import { output, WsmanHarness, type Parsed } from '../fixtures/wsman/call.js';

const amt = new AMT.Messages();
const ips = new IPS.Messages();
const cim = new CIM.Messages();
const PASS = 'Adm1n!pass';

/** A device configured through a real transition, so the firmware defaults are in NVRAM. */
async function configured(mode: 'ACM' | 'CCM') {
  const t = await makeTestDevice({ profile: 'amt16', image: provisionedImage(PASS, mode) });
  // provisionedImage sets Post directly; write the defaults a finished setup writes.
  t.device.update((img) => Object.assign(img, configuredDefaults(mode, 'amt16')));
  return { ...t, h: new WsmanHarness(t.device) };
}

describe('AMT_RedirectionService', () => {
  it('RequestStateChange and Put ListenerEnabled change NVRAM; Get shows it', async () => {
    const { h, device } = await configured('ACM');
    const g = (await h.call(amt.RedirectionService.Get())).body['AMT_RedirectionService'] as Parsed;
    expect(g['EnabledState']).toBe('32771');
    expect(g['ListenerEnabled']).toBe('false');
    expect(output(await h.call(amt.RedirectionService.RequestStateChange(32769)), 'RequestStateChange')['ReturnValue']).toBe('0');
    expect(device.nvram.redirection?.enabledState).toBe(32769);
    expect(output(await h.call(amt.RedirectionService.RequestStateChange(2 as never)), 'RequestStateChange')['ReturnValue']).toBe('5');
    const put = await h.call(amt.RedirectionService.Put({ ...g, ListenerEnabled: true, EnabledState: 32771 } as never));
    expect(put.status).toBe(200);
    const g2 = (await h.call(amt.RedirectionService.Get())).body['AMT_RedirectionService'] as Parsed;
    expect(g2['ListenerEnabled']).toBe('true');
    expect(g2['EnabledState']).toBe('32771');
    expect(device.nvram.redirection?.listenerEnabled).toBe(true);
  });

  it('is refused before configuration', async () => {
    const t = await makeTestDevice({ profile: 'amt16' });
    const h = new WsmanHarness(t.device);
    expect(output(await h.call(amt.RedirectionService.RequestStateChange(32771)), 'RequestStateChange')['ReturnValue']).toBe('16');
  });
});

describe('CIM_KVMRedirectionSAP and IPS_KVMRedirectionSettingData', () => {
  it('KVM is off after configuration; RequestStateChange(2) enables it', async () => {
    const { h, device } = await configured('ACM');
    const g = (await h.call(cim.KVMRedirectionSAP.Get())).body['CIM_KVMRedirectionSAP'] as Parsed;
    expect(g['EnabledState']).toBe('3');
    expect(output(await h.call(cim.KVMRedirectionSAP.RequestStateChange(2)), 'RequestStateChange')['ReturnValue']).toBe('0');
    expect(device.nvram.redirection?.kvmEnabled).toBe(true);
    const g2 = (await h.call(cim.KVMRedirectionSAP.Get())).body['CIM_KVMRedirectionSAP'] as Parsed;
    expect(g2['EnabledState']).toBe('6'); // enabled but offline: the listener is still off
    expect(g2['RequestedState']).toBe('2');
  });

  it('Put stores Is5900PortEnabled and a valid RFBPassword (never read back); a weak password is refused', async () => {
    const { h, device } = await configured('ACM');
    const g = (await h.call(ips.KVMRedirectionSettingData.Get())).body['IPS_KVMRedirectionSettingData'] as Parsed;
    expect(g['Is5900PortEnabled']).toBe('false');
    const ok = await h.call(ips.KVMRedirectionSettingData.Put({ ...g, Is5900PortEnabled: true, RFBPassword: 'Aa1!bcde' } as never));
    expect(ok.status).toBe(200);
    expect(device.nvram.redirection?.rfbPassword).toBe('Aa1!bcde');
    const g2 = (await h.call(ips.KVMRedirectionSettingData.Get())).body['IPS_KVMRedirectionSettingData'] as Parsed;
    expect(g2['Is5900PortEnabled']).toBe('true');
    expect(g2['RFBPassword'] ?? '').toBe('');
    expect((await h.call(ips.KVMRedirectionSettingData.Put({ ...g, RFBPassword: 'password' } as never))).status).toBe(400);
  });
});

describe('IPS_OptInService', () => {
  it('ACM: Put OptInRequired changes the policy; CCM: turning consent off is refused', async () => {
    const acm = await configured('ACM');
    const g = (await acm.h.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed;
    expect(g['OptInRequired']).toBe('1');
    expect(g['OptInState']).toBe('0');
    const put = await acm.h.call(ips.OptInService.Put({ IPS_OptInService: { ...g, OptInRequired: 0 } } as never));
    expect(put.status).toBe(200);
    expect(acm.device.nvram.userConsent?.optInRequired).toBe(0);

    const ccm = await configured('CCM');
    const c = (await ccm.h.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed;
    expect(c['OptInRequired']).toBe('4294967295');
    const refused = await ccm.h.call(ips.OptInService.Put({ IPS_OptInService: { ...c, OptInRequired: 0 } } as never));
    expect(refused.status).toBe(400);
    expect(refused.xml).toContain('AccessDenied');
    const c2 = (await ccm.h.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed;
    expect(c2['OptInRequired']).toBe('4294967295');
    // OptInCodeTimeout stays writable in CCM; out of range is a fault.
    expect((await ccm.h.call(ips.OptInService.Put({ IPS_OptInService: { ...c, OptInCodeTimeout: 300 } } as never))).status).toBe(200);
    expect(ccm.device.nvram.userConsent?.optInCodeTimeout).toBe(300);
    expect((await ccm.h.call(ips.OptInService.Put({ IPS_OptInService: { ...c, OptInCodeTimeout: 30 } } as never))).status).toBe(400);
  });

  it('StartOptIn → code on the timeline → SendOptInCode: wrong code 2054, right code 0, OptInState 3', async () => {
    const { h, timeline } = await configured('CCM');
    expect(output(await h.call(ips.OptInService.StartOptIn()), 'StartOptIn')['ReturnValue']).toBe('0');
    const code = String(timeline.query({ type: 'consent.code-displayed' }).at(-1)?.data['code']);
    expect(((await h.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed)['OptInState']).toBe('2');
    const wrong = (Number(code) + 1) % 1_000_000;
    expect(output(await h.call(ips.OptInService.SendOptInCode(wrong)), 'SendOptInCode')['ReturnValue']).toBe('2054');
    expect(output(await h.call(ips.OptInService.SendOptInCode(Number(code))), 'SendOptInCode')['ReturnValue']).toBe('0');
    expect(((await h.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed)['OptInState']).toBe('3');
    expect(output(await h.call(ips.OptInService.CancelOptIn()), 'CancelOptIn')['ReturnValue']).toBe('0');
    expect(((await h.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed)['OptInState']).toBe('0');
  });

  it('the local system account may read but not start consent', async () => {
    const { h } = await configured('CCM');
    h.account = 'lsa';
    expect((await h.call(ips.OptInService.Get())).status).toBe(200);
    const r = await h.call(ips.OptInService.StartOptIn());
    expect(r.status).toBe(400);
    expect(r.xml).toContain('AccessDenied');
  });
});
