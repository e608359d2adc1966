/**
 * Debian's `wsl` (Dell WS-Man shell client, peers §3.3): Identify and Get with digest through
 * wget; the curl path sends Basic, which AMT answers with 401.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmtDevice } from '../../src/device/device.js';
import { PortListeners } from '../../src/network/listeners.js';
import { makeTestDevice, provisionedImage } from '../fixtures/wsman/device.js';

const PASS = 'Adm1n!pass';

function wsl(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('wsl', args, { cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

describe('wsl against an emulated device', () => {
  let device: AmtDevice;
  let listeners: PortListeners;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    device = (await makeTestDevice({ deviceId: 'wsl1', address: '127.77.5.1', profile: 'amt12', image: provisionedImage(PASS) })).device;
    listeners = new PortListeners({ lookup: (a) => (a === device.address ? device : undefined), httpPort: 0, tlsPort: 0 });
    await listeners.start();
    dir = await mkdtemp(join(tmpdir(), 'amtemu-wsl-'));
    env = { WSENDPOINT: `${device.address}:${listeners.httpPort}`, WSUSER: 'admin', WSPASS: PASS, WSNOSSL: '1' };
  });
  afterAll(async () => {
    await listeners?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('wsl id (wget) gets an IdentifyResponse from Intel Corporation', async () => {
    const r = await wsl(['id', 'check'], { ...env, USEWGET: '1' }, dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain('<b:ProductVendor>Intel Corporation</b:ProductVendor>');
    expect(r.out).toContain(`<b:ProductVersion>AMT ${device.nvram.firmware.version.split('.').slice(0, 2).join('.')}</b:ProductVersion>`);
  });

  it('wsl get (wget, digest) reads AMT_GeneralSettings by its InstanceID selector', async () => {
    // wslget's exit status greps the response for the selector's name, so give it one.
    const r = await wsl(['get', 'http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings', 'InstanceID=Intel(r) AMT: General Settings'], { ...env, USEWGET: '1' }, dir);
    expect(r.code, r.out.slice(0, 2000)).toBe(0);
    expect(r.out).toContain(`<g:DigestRealm>${device.nvram.digestRealm}</g:DigestRealm>`);
  });

  it('wsl get through curl sends Basic and gets the 401 log-on page, not SOAP', async () => {
    const before = device.timeline.query({ deviceId: device.id, type: 'http.auth-failed' }).length;
    const r = await wsl(['get', 'http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings'], env, dir);
    expect(r.out).toContain('not in SOAP format');
    expect(r.out).toContain('Log on failed');
    const failed = device.timeline.query({ deviceId: device.id, type: 'http.auth-failed' });
    expect(failed.length).toBeGreaterThan(before);
    expect(failed[failed.length - 1]?.data['reason']).toBe('Basic is not accepted');
  });
});
