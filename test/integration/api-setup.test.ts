/**
 * Manual setup through the control API (issue 10 items 2–3): MEBx screens and USB one-touch on a
 * running fleet, with the firmware's validation and coded refusals. The setup.bin is written by
 * MeshCentral's own writer (node_modules/meshcentral/amt/amt-setupbin.js), as a user would bring it.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFleet } from '../../src/fleet/fleet-runner.js';
import { startApiFleet, type ApiFleet } from '../helpers/api-fleet.js';

interface McVar { moduleid: number; varid: number; length: number; value: string | number }
interface McRecord { typeIdentifier: number; flags: number; chunkCount: number; headerByteCount: number; number: number; variables: McVar[] }
interface McStack {
  AmtSetupBinCreate(version: number, flags: number): { records: McRecord[] };
  AmtSetupBinEncode(obj: { records: McRecord[] }): string;
  AmtSetupBinDecode(file: string): { dataRecordsConsumed: number } | undefined;
}
const require = createRequire(import.meta.url);
const mesh = (require('meshcentral/amt/amt-setupbin.js') as () => McStack)();

/** One record: MEBx password change, PKI DNS suffix, start configuration; consumed on use (file flags 0). */
function setupBin(oldPw: string, newPw: string): Buffer {
  const v = (moduleid: number, varid: number, value: string | number): McVar => ({ moduleid, varid, length: -1, value });
  const bin = mesh.AmtSetupBinCreate(3, 0);
  bin.records.push({ typeIdentifier: 1, flags: 1, chunkCount: 0, headerByteCount: 0, number: 0, variables: [v(1, 1, oldPw), v(1, 2, newPw), v(2, 3, 'usb.corp.example.test'), v(2, 28, 1)] });
  return Buffer.from(mesh.AmtSetupBinEncode(bin), 'latin1');
}

let fleet: RunningFleet;
let call: ApiFleet['call'];
let rig: ApiFleet;

beforeAll(async () => {
  rig = await startApiFleet({
    name: 'api-setup',
    net: '127.97.0',
    defaults: { state: 'factory', profile: 'amt16' },
    devices: [{ id: 'tech', fields: {} }, { id: 'usb', fields: {} }, { id: 'old', fields: { profile: 'amt3' } }, { id: 'done', fields: { state: 'configured' } }],
    settle: '1m',
  });
  ({ fleet, call } = rig);
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

describe('MEBx through the API', () => {
  it('forces the first password change, then sets the PKI DNS suffix; refusals carry the firmware code', async () => {
    const before = await call('POST', '/api/devices/tech/mebx/pki-dns-suffix', { password: 'admin', suffix: 'corp.example.test' });
    expect(before).toMatchObject({ status: 409, json: { error: { code: 'NOT_PERMITTED' } } });
    expect((await call('POST', '/api/devices/tech/mebx/password', { password: 'admin', newPassword: 'weakpass' })).json.error.code).toBe('INVALID_PASSWORD');
    expect((await call('POST', '/api/devices/tech/mebx/password', { password: 'nope', newPassword: 'Tech!2024x' })).status).toBe(403);
    const changed = await call('POST', '/api/devices/tech/mebx/password', { password: 'admin', newPassword: 'Tech!2024x' });
    expect(changed).toMatchObject({ status: 200, json: { id: 'tech', state: 'In' } });
    expect((await call('POST', '/api/devices/tech/mebx/pki-dns-suffix', { password: 'Tech!2024x', suffix: 'Corp.Example.Test.' })).status).toBe(200);
    const nv = await call('GET', '/api/devices/tech/nvram');
    expect(nv.json.setup.pkiDnsSuffix).toBe('corp.example.test');
    const refused = await call('GET', '/api/timeline?deviceId=tech&type=mebx.refused');
    expect(refused.json.events.map((e: { code: string }) => e.code)).toEqual(['NOT_PERMITTED', 'INVALID_PASSWORD', 'MEBX_PASSWORD_WRONG']);
  });

  it('validates parameters with the route schema before the screen runs', async () => {
    expect((await call('POST', '/api/devices/tech/mebx/mode', { password: 'Tech!2024x', mode: 'Home' })).json.error.code).toBe('BAD_INPUT');
    expect((await call('POST', '/api/devices/tech/mebx/hostname', { password: 'Tech!2024x' })).json.error.code).toBe('BAD_INPUT');
    expect((await call('POST', '/api/devices/tech/mebx/hostname', { password: 'Tech!2024x', hostname: 'pc', extra: 1 })).json.error.code).toBe('BAD_INPUT');
    expect((await call('POST', '/api/devices/tech/mebx/provisioning-server', { password: 'Tech!2024x', server: 'prov.test', port: 0 })).status).toBe(400);
    expect((await call('POST', '/api/devices/nobody/mebx/activate', { password: 'x' })).status).toBe(404);
  });

  it('refuses PID/PPS on a profile without TLS-PSK and accepts it on AMT 3', async () => {
    expect((await call('POST', '/api/devices/tech/mebx/pid-pps', { password: 'Tech!2024x', pid: 'ABCD-1234', pps: 'A'.repeat(32) })).json.error.code).toBe('PSK_NOT_SUPPORTED');
    expect((await call('POST', '/api/devices/old/mebx/password', { password: 'admin', newPassword: 'Old!2pass' })).status).toBe(200);
    expect((await call('POST', '/api/devices/old/mebx/mode', { password: 'Old!2pass', mode: 'SMB' })).status).toBe(200);
    const done = await call('POST', '/api/devices/old/mebx/activate', { password: 'Old!2pass' });
    expect(done.json).toMatchObject({ state: 'Post' });
  });

  it('documents every MEBx route and the USB route in the OpenAPI document', async () => {
    const doc = await call('GET', '/openapi.json');
    const paths = Object.keys(doc.json.paths);
    for (const op of ['password', 'hostname', 'domain', 'pki-dns-suffix', 'provisioning-server', 'pid-pps', 'hash-add', 'hash-activate', 'hash-deactivate', 'mode', 'activate', 'unprovision']) {
      expect(paths).toContain(`/api/devices/{id}/mebx/${op}`);
    }
    expect(paths).toContain('/api/devices/{id}/usb-setup');
  });
});

describe('USB one-touch through the API', () => {
  it('applies a MeshCentral setup.bin sent as raw bytes, and hands back the consumed file', async () => {
    const r = await call('POST', '/api/devices/usb/usb-setup', setupBin('admin', 'Usb!2pass'), 'application/octet-stream');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ device: { id: 'usb', state: 'In' }, record: 1, consumed: true });
    expect(r.json.applied).toContain('2.3 PKI DNS suffix');
    const left = mesh.AmtSetupBinDecode(Buffer.from(r.json.setupBin, 'base64').toString('latin1'));
    expect(left?.dataRecordsConsumed).toBe(1);
    // The same file again: the device is no longer in factory state.
    const again = await call('POST', '/api/devices/usb/usb-setup', { setupBin: setupBin('admin', 'Usb!2pass').toString('base64'), fileName: 'stick.bin' });
    expect(again).toMatchObject({ status: 409, json: { error: { code: 'INVALID_AMT_MODE' } } });
  });

  it('refuses damaged or malformed uploads with one line and a code, and the device is untouched', async () => {
    const truncated = setupBin('admin', 'Usb!2pass').subarray(0, 700);
    // The file is read before the state is looked at, as the BIOS reads the stick first.
    const factory = await call('POST', '/api/devices/done/usb-setup', truncated, 'application/octet-stream');
    expect(factory.json.error.code).toBe('SETUP_BIN_INVALID');
    expect(factory.json.error.message).not.toContain('\n');
    expect((await call('POST', '/api/devices/done/usb-setup', { setupBin: '***' })).json.error.code).toBe('BAD_INPUT');
    expect((await call('POST', '/api/devices/done/usb-setup', { file: 'x' })).json.error.code).toBe('BAD_INPUT');
    expect((await call('GET', '/api/devices/done')).json.state).toBe('Post');
  });
});
