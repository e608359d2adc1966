/**
 * Debian's amtterm against a CCM device configured with the firmware defaults: SOL is refused
 * while the redirection listener is off, while SOL is disabled, and while user consent is pending;
 * after enabling it over WS-Man (real wsman-messages builders) and sending the code the device
 * "displayed" (timeline `consent.code-displayed`), the SOL session works and holds the consent.
 * Only the amtterm children this test spawned are stopped, by pid.
 */
import { AMT, IPS } from '@device-management-toolkit/wsman-messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5hex } from '../../src/device/redirection/auth.js';
import { OPT_IN_STATE, userConsentFor } from '../../src/device/user-consent.js';
import { makeDevice } from '../helpers/device-fixture.js';
import { output, WsmanHarness, type Parsed } from '../fixtures/wsman/call.js';
import { startAmttermRig, type AmttermRig } from '../helpers/amtterm-rig.js';
import { until } from '../helpers/until.js';

const PASS = 'Amt#Term1';
const ADDR = `127.${100 + (process.pid % 100)}.${((process.pid >> 8) % 250) + 1}.37`;
const amt = new AMT.Messages();
const ips = new IPS.Messages();

const f = makeDevice({ deviceId: 'amtterm-consent-pc', profile: 'amt11' });
f.device.powerOn();
f.device.transition('Post', 'manualSetup', 'CCM'); // writes the configuration defaults
f.device.update((img) => {
  img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
});
const wsman = new WsmanHarness(f.device);
let rig: AmttermRig;

beforeAll(async () => {
  rig = await startAmttermRig(f.device, ADDR);
});
afterAll(async () => {
  await rig?.stop();
});

const refusals = (reason: string) => f.timeline.query({ type: 'redirection.refused' }).filter((e) => e.data['reason'] === reason).length;

describe('amtterm against redirection enablement and user consent (CCM)', () => {
  it('refuses SOL while the listener is off, SOL is disabled, or consent is pending; works after consent', async () => {
    // 1. Fresh configuration: ListenerEnabled false → the connection is closed.
    let run = rig.run(PASS);
    await until(() => run.io.exited, 'amtterm exit (listener off)');
    expect(run.io.err).not.toContain('serial-over-lan redirection ok');
    expect(refusals('listener disabled')).toBe(1);

    // 2. Listener on, SOL off (IDER only) → StartRedirectionSessionReply fails.
    const g = (await wsman.call(amt.RedirectionService.Get())).body['AMT_RedirectionService'] as Parsed;
    expect((await wsman.call(amt.RedirectionService.Put({ ...g, ListenerEnabled: true } as never))).status).toBe(200);
    expect(output(await wsman.call(amt.RedirectionService.RequestStateChange(32769)), 'RequestStateChange')['ReturnValue']).toBe('0');
    run = rig.run(PASS);
    await until(() => run.io.exited, 'amtterm exit (SOL disabled)');
    expect(run.io.err).toContain('redirection session start failed');
    expect(refusals('feature disabled')).toBe(1);

    // 3. SOL on, consent requested but the code not sent → StartSOLRedirection fails after authentication.
    expect(output(await wsman.call(amt.RedirectionService.RequestStateChange(32771)), 'RequestStateChange')['ReturnValue']).toBe('0');
    expect(output(await wsman.call(ips.OptInService.StartOptIn()), 'StartOptIn')['ReturnValue']).toBe('0');
    run = rig.run(PASS);
    await until(() => run.io.exited, 'amtterm exit (consent pending)');
    expect(run.io.err).toContain('serial-over-lan redirection failed');
    expect(refusals('user consent required')).toBe(1);

    // 4. Send the code shown on the host screen → SOL works and the consent is "in session".
    const code = Number(f.timeline.query({ type: 'consent.code-displayed' }).at(-1)?.data['code']);
    expect(output(await wsman.call(ips.OptInService.SendOptInCode(code)), 'SendOptInCode')['ReturnValue']).toBe('0');
    run = rig.run(PASS);
    await until(() => run.io.err.includes('serial-over-lan redirection ok') || run.io.exited, 'amtterm SOL start');
    expect(run.io.err).toContain('serial-over-lan redirection ok');
    expect(userConsentFor(f.device).state).toBe(OPT_IN_STATE.IN_SESSION);
    expect(((await wsman.call(ips.OptInService.Get())).body['IPS_OptInService'] as Parsed)['OptInState']).toBe('4');

    process.kill(run.child.pid!, 'SIGTERM');
    await until(() => run.io.exited, 'amtterm exit');
    await until(() => userConsentFor(f.device).state === OPT_IN_STATE.RECEIVED, 'consent back to received');
    // No session for OptInCodeTimeout (120 s, virtual) → consent gone; the next SOL is refused again.
    await f.clock.advance(120_000);
    expect(userConsentFor(f.device).state).toBe(OPT_IN_STATE.NOT_STARTED);
  });
});
