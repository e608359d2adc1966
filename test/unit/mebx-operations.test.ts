/**
 * MEBx screens as functions (issue 10 item 3; seed 002 strong-password rule and forced first
 * change; reference §0 SMB gone from 6.0, §2.1 MEBx re-opens the window, §4.1 custom hashes,
 * §5.5 partial/full unprovision).
 */
import { describe, expect, it } from 'vitest';
import {
  mebxActivateNetwork, mebxAddHash, mebxChangePassword, mebxLogin, mebxSetDomain, mebxSetHashActive, mebxSetHostname,
  mebxSetPidPps, mebxSetPkiDnsSuffix, mebxSetProvisioningMode, mebxSetProvisioningServer, mebxUnprovision,
} from '../../src/device/mebx.js';
import { makeDevice } from '../helpers/device-fixture.js';

const PW = 'Tech!2024x';
const code = (fn: () => void): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('MEBx password', () => {
  it('forces the first change of admin, with the strong-password rule; factory → setup', () => {
    const { device, timeline } = makeDevice();
    expect(code(() => mebxLogin(device, 'admin'))).toBe('NOT_PERMITTED');
    expect(code(() => mebxSetHostname(device, 'admin', 'pc7'))).toBe('NOT_PERMITTED');
    expect(code(() => mebxChangePassword(device, 'wrong', PW))).toBe('MEBX_PASSWORD_WRONG');
    for (const weak of ['short1!A', 'alllower1!', 'ALLUPPER1!', 'NoDigits!!', 'NoSymbol12', 'Ab1!']) {
      if (weak === 'short1!A') continue; // 8 chars, all classes: strong
      expect(code(() => mebxChangePassword(device, 'admin', weak)), weak).toBe('INVALID_PASSWORD');
    }
    expect(device.state).toBe('Pre');
    mebxChangePassword(device, 'admin', PW);
    expect(device.state).toBe('In');
    expect(device.nvram.mebx).toEqual({ password: PW, passwordChanged: true });
    expect(timeline.query({ type: 'mebx.refused' }).map((e) => e.code)).toContain('INVALID_PASSWORD');
    expect(code(() => mebxLogin(device, 'admin'))).toBe('MEBX_PASSWORD_WRONG');
    mebxLogin(device, PW);
  });
});

describe('MEBx settings', () => {
  function ready(profile: 'amt16' | 'amt6' | 'amt3' = 'amt16') {
    const f = makeDevice({ profile });
    mebxChangePassword(f.device, 'admin', PW);
    return f;
  }

  it('sets host name, domain, PKI DNS suffix and provisioning server with firmware validation', () => {
    const { device } = ready();
    mebxSetHostname(device, PW, 'pc-floor3');
    mebxSetDomain(device, PW, 'Corp.Example.Test.');
    mebxSetPkiDnsSuffix(device, PW, 'corp.example.test');
    mebxSetProvisioningServer(device, PW, { address: '10.0.0.5', fqdn: 'rcs.corp.example.test', port: 9972 });
    expect(device.nvram.network).toMatchObject({ hostname: 'pc-floor3', domain: 'corp.example.test' });
    expect(device.nvram.setup.pkiDnsSuffix).toBe('corp.example.test');
    expect(device.nvram.setup.provisioningServer).toEqual({ address: '10.0.0.5', fqdn: 'rcs.corp.example.test', port: 9972 });
    expect(code(() => mebxSetHostname(device, PW, 'bad_name'))).toBe('INVALID_PARAMETER');
    expect(code(() => mebxSetPkiDnsSuffix(device, PW, `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}`))).toBe('INVALID_PARAMETER');
    expect(code(() => mebxSetProvisioningServer(device, PW, { address: '10.0.0.256' }))).toBe('INVALID_PARAMETER');
    expect(code(() => mebxSetProvisioningServer(device, PW, { port: 0 }))).toBe('INVALID_PARAMETER');
    mebxSetProvisioningServer(device, PW, { address: '', fqdn: '' });
    expect(device.nvram.setup.provisioningServer).toEqual({ port: 9972 });
  });

  it('adds a custom hash (active), deactivates and reactivates it; the hash-table rules apply', () => {
    const { device } = ready();
    mebxAddHash(device, PW, { name: 'Corp Root', algorithm: 'SHA256', hash: 'ab'.repeat(32) });
    expect(device.nvram.certHashes.at(-1)).toMatchObject({ name: 'Corp Root', isDefault: false, isActive: true });
    mebxSetHashActive(device, PW, 'Corp Root', false);
    expect(device.nvram.certHashes.at(-1)!.isActive).toBe(false);
    mebxSetHashActive(device, PW, 'ab'.repeat(32), true);
    expect(device.nvram.certHashes.at(-1)!.isActive).toBe(true);
    expect(code(() => mebxAddHash(device, PW, { name: 'Old', algorithm: 'SHA1', hash: 'cd'.repeat(20) }))).toBe('HASH_ALGORITHM_BANNED');
    expect(code(() => mebxAddHash(device, PW, { name: 'Dup', algorithm: 'SHA256', hash: 'AB'.repeat(32) }))).toBe('HASH_DUPLICATE');
    expect(code(() => mebxSetHashActive(device, PW, 'nope', true))).toBe('HASH_NOT_FOUND');
  });

  it('PID/PPS only on profiles with TLS-PSK (removed in AMT 11)', () => {
    expect(code(() => mebxSetPidPps(ready('amt16').device, PW, 'ABCD-1234', 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-1111-2222'))).toBe('PSK_NOT_SUPPORTED');
    const { device } = ready('amt6');
    expect(code(() => mebxSetPidPps(device, PW, 'AB', 'x'))).toBe('INVALID_PARAMETER');
    mebxSetPidPps(device, PW, 'abcd-1234', 'aaaa-bbbb-cccc-dddd-eeee-ffff-1111-2222');
    expect(device.nvram.setup).toMatchObject({ pid: 'ABCD1234', pps: 'AAAABBBBCCCCDDDDEEEEFFFF11112222' });
    expect(device.buildHello(0).readUInt16LE(2)).toBe(2);
  });

  it('SMB exists before 6.0 only; SMB activation configures the device with the MEBx password as admin', () => {
    expect(code(() => mebxSetProvisioningMode(ready('amt6').device, PW, 'SMB'))).toBe('NOT_PERMITTED');
    const { device, timeline } = ready('amt3');
    mebxSetProvisioningMode(device, PW, 'SMB');
    device.powerOn();
    mebxActivateNetwork(device, PW);
    expect([device.state, device.controlMode]).toEqual(['Post', 'ACM']);
    expect(device.nvram.auditRecord).toMatchObject({ kind: 'manual' });
    expect(device.nvram.adminAcl.digestHash).toMatch(/^[0-9a-f]{32}$/);
    expect(timeline.query({ type: 'hello.' })).toHaveLength(0);
    expect(device.portOpen(16992, 'remote')).toBe(true);
    expect(code(() => mebxSetProvisioningMode(device, PW, 'Enterprise'))).toBe('INVALID_AMT_MODE');
  });

  it('Enterprise activation opens the hello window (24 h first, then 6 h); none without wired LAN', () => {
    // 'listen' (seed 001): no bare-metal window at power-on, so MEBx opens the first, 24 h one.
    const { device } = makeDevice({ image: (img) => { img.provisioning.trigger = 'listen'; } });
    mebxChangePassword(device, 'admin', PW);
    device.powerOn();
    expect(device.window.kind).toBe('closed');
    mebxActivateNetwork(device, PW);
    expect(device.window).toMatchObject({ kind: 'agent', lengthMs: 24 * 3_600_000 });
    expect(code(() => mebxActivateNetwork(device, PW))).toBe('INVALID_AMT_MODE');
    // 'talk': the 24 h bare-metal window opened at power-on; once closed, MEBx reopens 6 h.
    const talk = ready().device;
    talk.powerOn();
    expect(talk.window.kind).toBe('bareMetal');
    talk.closeWindow('stopped');
    mebxActivateNetwork(talk, PW);
    expect(talk.window).toMatchObject({ kind: 'agent', lengthMs: 6 * 3_600_000 });
    const w = makeDevice({ image: (img) => { img.network.wiredLan = false; img.macs = []; } }).device;
    mebxChangePassword(w, 'admin', PW);
    expect(code(() => mebxActivateNetwork(w, PW))).toBe('REMOTE_CONFIG_NEEDS_WIRED_LAN');
  });

  it('partial unprovision keeps PID/PPS and reopens 6 h; full returns to factory with admin', () => {
    const { device } = ready('amt6');
    mebxSetPidPps(device, PW, 'ABCD-1234', 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-1111-2222');
    mebxAddHash(device, PW, { name: 'Corp Root', algorithm: 'SHA256', hash: 'ab'.repeat(32) });
    device.powerOn();
    device.completeRemoteConfiguration({ kind: 'psk' });
    mebxUnprovision(device, PW, 'partial');
    expect(device.state).toBe('In');
    expect(device.nvram.setup.pid).toBe('ABCD1234');
    expect(device.window).toMatchObject({ kind: 'agent', lengthMs: 6 * 3_600_000 });
    mebxUnprovision(device, PW, 'full');
    expect(device.state).toBe('Pre');
    expect(device.nvram.mebx).toEqual({ password: 'admin', passwordChanged: false });
    expect(device.nvram.setup.pid).toBeUndefined();
    expect(device.nvram.certHashes.some((h) => !h.isDefault)).toBe(false);
    expect(code(() => mebxUnprovision(device, 'admin', 'full'))).toBe('NOT_PERMITTED');
  });
});
