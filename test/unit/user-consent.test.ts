/**
 * The consent state machine in virtual time (src/device/user-consent.ts): code display and its
 * timeout, wrong codes and the lockout, the idle timeout after consent, sessions holding the
 * consent, and the defaults a fresh configuration writes.
 */
import { describe, expect, it } from 'vitest';
import { configuredDefaults, consentRequiredFor, consentSettings, featureEnabled, OPT_IN_RV, OPT_IN_STATE, userConsentFor } from '../../src/device/user-consent.js';
import { makeDevice } from '../helpers/device-fixture.js';

function configured(mode: 'ACM' | 'CCM', profile: 'amt6' | 'amt16' = 'amt16') {
  const f = makeDevice({ deviceId: `consent-${mode}-${profile}`, profile });
  f.device.powerOn();
  f.device.transition('Post', 'manualSetup', mode);
  return { ...f, consent: userConsentFor(f.device) };
}

function shownCode(f: ReturnType<typeof configured>): string {
  const ev = f.timeline.query({ type: 'consent.code-displayed' }).at(-1);
  return String(ev?.data['code']);
}

describe('user consent state machine', () => {
  it('StartOptIn shows a 6-digit code on the timeline; the right code gives consent (state 2 → 3)', () => {
    const f = configured('CCM');
    expect(f.consent.state).toBe(OPT_IN_STATE.NOT_STARTED);
    expect(f.consent.start()).toBe(OPT_IN_RV.SUCCESS);
    expect(f.consent.state).toBe(OPT_IN_STATE.DISPLAYED);
    const code = shownCode(f);
    expect(code).toMatch(/^\d{6}$/);
    expect(f.consent.code).toBe(code);
    expect(f.consent.start()).toBe(OPT_IN_RV.NOT_READY); // a second console cannot replace the code
    expect(f.consent.sendCode(code)).toBe(OPT_IN_RV.SUCCESS);
    expect(f.consent.state).toBe(OPT_IN_STATE.RECEIVED);
    expect(f.consent.code).toBeUndefined();
  });

  it('the code disappears after OptInDisplayTimeout (300 s default) and is then refused', async () => {
    const f = configured('CCM');
    f.consent.start();
    const code = shownCode(f);
    await f.clock.advance(299_000);
    expect(f.consent.state).toBe(OPT_IN_STATE.DISPLAYED);
    await f.clock.advance(1_000);
    expect(f.consent.state).toBe(OPT_IN_STATE.NOT_STARTED);
    expect(f.consent.sendCode(code)).toBe(OPT_IN_RV.NOT_READY);
  });

  it('wrong codes answer 2054; the third withdraws the code so the right one no longer works', () => {
    const f = configured('CCM');
    f.consent.start();
    const code = shownCode(f);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(f.consent.sendCode(wrong)).toBe(OPT_IN_RV.INVALID_PASSWORD);
    expect(f.consent.sendCode(wrong)).toBe(OPT_IN_RV.INVALID_PASSWORD);
    expect(f.consent.state).toBe(OPT_IN_STATE.DISPLAYED);
    expect(f.consent.sendCode(wrong)).toBe(OPT_IN_RV.INVALID_PASSWORD);
    expect(f.consent.state).toBe(OPT_IN_STATE.NOT_STARTED);
    expect(f.consent.sendCode(code)).toBe(OPT_IN_RV.NOT_READY);
    expect(f.consent.sendCode('1234567')).toBe(OPT_IN_RV.INVALID_PARAMETER);
    expect(f.timeline.query({ type: 'consent.code-rejected' }).map((e) => e.data['locked'])).toEqual([false, false, true]);
  });

  it('a session holds the consent (3 → 4 → 3); with no session it expires after OptInCodeTimeout (120 s)', async () => {
    const f = configured('CCM');
    f.consent.start();
    f.consent.sendCode(shownCode(f));
    await f.clock.advance(100_000);
    f.consent.sessionOpened();
    expect(f.consent.state).toBe(OPT_IN_STATE.IN_SESSION);
    await f.clock.advance(600_000); // in session: no idle expiry
    expect(f.consent.state).toBe(OPT_IN_STATE.IN_SESSION);
    f.consent.sessionClosed();
    expect(f.consent.state).toBe(OPT_IN_STATE.RECEIVED);
    await f.clock.advance(119_000);
    expect(f.consent.granted).toBe(true);
    await f.clock.advance(1_000);
    expect(f.consent.state).toBe(OPT_IN_STATE.NOT_STARTED);
  });

  it('CancelOptIn withdraws a displayed code; power loss forgets a received consent', () => {
    const f = configured('CCM');
    expect(f.consent.cancel()).toBe(OPT_IN_RV.NOT_READY);
    f.consent.start();
    expect(f.consent.cancel()).toBe(OPT_IN_RV.SUCCESS);
    expect(f.consent.state).toBe(OPT_IN_STATE.NOT_STARTED);
    f.consent.start();
    f.consent.sendCode(shownCode(f));
    f.device.powerOff('loss');
    expect(f.consent.state).toBe(OPT_IN_STATE.NOT_STARTED);
  });
});

describe('configuration defaults and policy', () => {
  it('a fresh configuration writes the firmware defaults: listener off, SOL+IDER on, KVM off', () => {
    const f = configured('ACM');
    expect(f.device.nvram.redirection).toEqual(configuredDefaults('ACM', 'amt16').redirection);
    expect(f.device.nvram.redirection?.listenerEnabled).toBe(false);
    expect(featureEnabled(f.device.nvram, 'SOL ')).toBe(true);
    expect(featureEnabled(f.device.nvram, 'KVMR')).toBe(false);
  });

  it('ACM defaults to KVM-only consent; CCM forces all (KVM only on AMT 6)', () => {
    const acm = configured('ACM');
    expect(consentSettings(acm.device.nvram).optInRequired).toBe(1);
    expect(consentRequiredFor(acm.device.nvram, 'SOL ')).toBe(false);
    expect(consentRequiredFor(acm.device.nvram, 'KVMR')).toBe(true);
    const ccm = configured('CCM');
    expect(consentSettings(ccm.device.nvram).optInRequired).toBe(4294967295);
    expect(consentRequiredFor(ccm.device.nvram, 'SOL ')).toBe(true);
    // Even a stored "none" does not switch consent off in CCM.
    ccm.device.update((img) => {
      img.userConsent = { ...img.userConsent!, optInRequired: 0 };
    });
    expect(consentRequiredFor(ccm.device.nvram, 'IDER')).toBe(true);
    expect(consentSettings(configured('CCM', 'amt6').device.nvram).optInRequired).toBe(1);
  });

  it('both unprovisions remove the settings (full unprovision too, although Object.assign keeps keys)', () => {
    const f = configured('ACM');
    f.device.unprovision('full');
    expect(f.device.nvram.redirection).toBeUndefined();
    expect(f.device.nvram.userConsent).toBeUndefined();
    const g = configured('CCM');
    g.device.unprovision('partial');
    expect(g.device.nvram.redirection).toBeUndefined();
  });
});
