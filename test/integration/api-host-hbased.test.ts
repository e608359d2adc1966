/**
 * POST /api/devices/:id/host/startConfigurationHBased (reference §5.4) on a real loopback fleet:
 * body validated by schema (400 BAD_INPUT), firmware refusals as PTHI statuses, success moves the
 * device to In with a host-based window and answers the device leaf hash (hex).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFleet } from '../../src/fleet/fleet-runner.js';
import { startApiFleet, type ApiFleet } from '../helpers/api-fleet.js';

let fleet: RunningFleet;
let call: ApiFleet['call'];
let rig: ApiFleet;
const post = (url: string, body?: unknown) => call('POST', url, body);

beforeAll(async () => {
  rig = await startApiFleet({
    name: 'api-hbased',
    net: '127.94.0',
    defaults: { state: 'factory', profile: 'amt19' },
    devices: [
      { id: 'pc1', fields: { trigger: 'listen' } },
      { id: 'old', fields: { profile: 'amt12', trigger: 'listen' } },
    ],
    settle: '1m',
  });
  ({ fleet, call } = rig);
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

describe('host command startConfigurationHBased', () => {
  const hash = createHash('sha256').update('server leaf').digest('hex');
  const url = (id: string) => `/api/devices/${id}/host/startConfigurationHBased`;

  it('refuses bad bodies with 400 BAD_INPUT', async () => {
    for (const body of [{}, { serverCertHash: 'xyz' }, { serverCertHash: hash.slice(2) }, { serverCertHash: hash, algorithm: 1 }, { serverCertHash: hash, hostVpnEnable: 'yes' }, { serverCertHash: hash, extra: 1 }, { serverCertHash: hash, dnsSuffixList: [''] }]) {
      const r = await post(url('pc1'), body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe('BAD_INPUT');
    }
    expect(fleet.emu.device('pc1').state).toBe('Pre');
  });

  it('firmware refusals are PTHI statuses: hash length not fitting the algorithm, pre-CSME 14 profile', async () => {
    expect((await post(url('pc1'), { serverCertHash: hash, algorithm: 3 })).json).toMatchObject({ status: 36, statusName: 'INVALID_PARAMETER' });
    expect((await post(url('pc1'), { serverCertHash: hash, dnsSuffixList: ['not a name'] })).json).toMatchObject({ statusName: 'INVALID_PARAMETER' });
    expect((await post(url('old'), { serverCertHash: hash })).json).toMatchObject({ status: 16, statusName: 'NOT_PERMITTED' });
  });

  it('success: In with a local-only host-based window; value carries the device leaf hash; again → INVALID_AMT_MODE', async () => {
    const r = await post(url('pc1'), { serverCertHash: hash, hostVpnEnable: true, dnsSuffixList: ['corp.example.test'] });
    expect(r.json).toMatchObject({ command: 'startConfigurationHBased', status: 0, statusName: 'SUCCESS', value: { hashAlgorithm: 2 } });
    expect(r.json.value.amtCertHash).toMatch(/^[0-9a-f]{64}$/);
    const d = fleet.emu.device('pc1');
    expect(d.state).toBe('In');
    expect(d.window.hostBased).toBe(true);
    expect(d.portOpen(16993, 'remote')).toBe(false);
    expect((await post(url('pc1'), { serverCertHash: hash })).json.statusName).toBe('INVALID_AMT_MODE');
    expect((await post('/api/devices/pc1/host/stopConfiguration')).json.statusName).toBe('SUCCESS');
  });
});
