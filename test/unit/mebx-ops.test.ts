/**
 * The MEBx operation table shared by the CLI, the control API and scenario steps: parameters are
 * checked before any screen runs (BAD_INPUT), firmware refusals keep their own codes.
 */
import { describe, expect, it } from 'vitest';
import { MEBX_OP_NAMES, runMebxOperation } from '../../src/device/mebx-ops.js';
import { makeDevice } from '../helpers/device-fixture.js';

const PW = 'Tech!2024x';
const failure = (fn: () => void): { code?: string; message?: string } => {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return {};
};

describe('runMebxOperation', () => {
  it('names every MEBx screen the issue lists', () => {
    expect([...MEBX_OP_NAMES].sort()).toEqual(
      ['activate', 'domain', 'hash-activate', 'hash-add', 'hash-deactivate', 'hostname', 'mode', 'password', 'pid-pps', 'pki-dns-suffix', 'provisioning-server', 'unprovision'],
    );
  });

  it('runs an operation with named parameters and changes NVRAM', () => {
    const { device } = makeDevice();
    runMebxOperation(device, 'password', 'admin', { newPassword: PW });
    runMebxOperation(device, 'provisioning-server', PW, { server: '127.0.0.9', port: '9972' });
    expect(device.nvram.setup.provisioningServer).toMatchObject({ address: '127.0.0.9', port: 9972 });
    runMebxOperation(device, 'mode', PW, { mode: 'enterprise' });
    expect(device.nvram.provisioning.mode).toBe('Enterprise');
    runMebxOperation(device, 'hostname', PW, { hostname: 1234 });
    expect(device.nvram.network.hostname).toBe('1234');
  });

  it('refuses bad input before the screen runs, one line naming the parameter', () => {
    const { device } = makeDevice();
    expect(failure(() => runMebxOperation(device, 'reboot', 'admin', {}))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining("unknown operation 'reboot'") });
    expect(failure(() => runMebxOperation(device, 'password', 'admin', {}))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('missing newPassword') });
    expect(failure(() => runMebxOperation(device, 'hostname', 'admin', { hostname: 'pc', color: 'red' }))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('unknown parameter color') });
    expect(failure(() => runMebxOperation(device, 'provisioning-server', 'admin', { server: 'x.test', port: 70000 }))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('port 1-65535') });
    expect(failure(() => runMebxOperation(device, 'unprovision', 'admin', { kind: 'half' }))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining("'half' is not one of partial, full") });
    expect(failure(() => runMebxOperation(device, 'hostname', 'admin', { hostname: ['a'] }))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('a list') });
    expect(device.nvram.mebx.passwordChanged).toBe(false);
  });

  it('keeps the firmware refusal codes', () => {
    const { device } = makeDevice();
    expect(failure(() => runMebxOperation(device, 'hostname', 'admin', { hostname: 'pc7' })).code).toBe('NOT_PERMITTED');
    expect(failure(() => runMebxOperation(device, 'password', 'admin', { newPassword: 'weak' })).code).toBe('INVALID_PASSWORD');
  });
});
