/**
 * setup.bin written by MeshCentral's own writer (node_modules/meshcentral/amt/amt-setupbin.js,
 * the records certoperations.js GetSetupBinFile / GetBareMetalSetupBinFile build) is read by our
 * strict parser and applied to a factory device (issue 10 item 2). MeshCentral's decoder reads the
 * file we leave after consuming a record.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { applyUsbSetup, parseSetupBin } from '../../src/device/usb-setup.js';
import { makeDevice } from '../helpers/device-fixture.js';

interface McVar { moduleid: number; varid: number; length: number; value: string | number }
interface McRecord { typeIdentifier: number; flags: number; chunkCount: number; headerByteCount: number; number: number; variables: McVar[] }
interface McSetupBin { records: McRecord[]; dataRecordsConsumed: number }
interface McStack {
  AmtSetupBinCreate(version: number, flags: number): McSetupBin;
  AmtSetupBinEncode(obj: McSetupBin): string;
  AmtSetupBinDecode(file: string): (McSetupBin & { fileType: number }) | undefined;
}

const require = createRequire(import.meta.url);
const stack = (require('meshcentral/amt/amt-setupbin.js') as () => McStack)();
const ROOT_SHA256 = '5f'.repeat(32);

/** The record GetBareMetalSetupBinFile writes (MeshCentral's variable set and encodings). */
function bareMetalRecord(oldPw: string, newPw: string, flags = 1): McRecord {
  const v = (moduleid: number, varid: number, value: string | number): McVar => ({ moduleid, varid, length: -1, value });
  return {
    typeIdentifier: 1, flags, chunkCount: 0, headerByteCount: 0, number: 0,
    variables: [
      v(1, 1, oldPw),
      v(1, 2, newPw),
      v(2, 8, String.fromCharCode(2) + Buffer.from(ROOT_SHA256, 'hex').toString('binary') + String.fromCharCode('MeshCentral'.length) + 'MeshCentral'),
      v(2, 3, 'mesh.corp.example.test'),
      v(2, 4, 'mesh.corp.example.test'),
      v(2, 17, String.fromCharCode(5, 0, 0, 10)), // 10.0.0.5, bytes reversed as certoperations.js does
      v(2, 18, 9971),
      v(2, 28, 1), // Start
    ],
  };
}

function meshSetupBin(records: McRecord[], fileFlags: number): Buffer {
  const bin = stack.AmtSetupBinCreate(3, fileFlags);
  bin.records.push(...records);
  return Buffer.from(stack.AmtSetupBinEncode(bin), 'latin1');
}

describe("MeshCentral's setup.bin writer → our parser", () => {
  it('parses the bare-metal record exactly (version 3, do-not-consume, every variable)', () => {
    const f = parseSetupBin(meshSetupBin([bareMetalRecord('admin', 'Mesh!2pass')], 1), 'mesh.bin');
    expect(f).toMatchObject({ version: 3, majorVersion: 3, doNotConsume: true, dataRecordCount: 1, dataRecordsConsumed: 0, modules: [1, 2] });
    const vars = f.records[0]!.variables.map((v) => `${v.module}.${v.id}`);
    expect(vars).toEqual(['1.1', '1.2', '2.3', '2.4', '2.8', '2.17', '2.18', '2.28']); // MeshCentral sorts them
    expect(f.records[0]!.variables.find((v) => v.id === 17)!.value).toEqual(Buffer.from([5, 0, 0, 10]));
  });

  it('applies it to a factory device: setup state, suffix, server, custom root, hellos start', () => {
    const { device, timeline } = makeDevice({ profile: 'amt16' });
    const r = applyUsbSetup(device, meshSetupBin([bareMetalRecord('admin', 'Mesh!2pass')], 1), 'mesh.bin');
    expect(device.state).toBe('In');
    expect(device.nvram.mebx).toEqual({ password: 'Mesh!2pass', passwordChanged: true });
    expect(device.nvram.setup).toMatchObject({ pkiDnsSuffix: 'mesh.corp.example.test', provisioningServer: { address: '10.0.0.5', fqdn: 'mesh.corp.example.test', port: 9971 }, provisionHalt: false });
    expect(device.nvram.certHashes.at(-1)).toMatchObject({ name: 'MeshCentral', algorithm: 'SHA256', hash: ROOT_SHA256, isDefault: false, isActive: true });
    expect(r.consumed).toBe(false); // MeshCentral sets "records will not be consumed"
    expect(timeline.query({ type: 'lifecycle.transition' })[0]!.data).toMatchObject({ from: 'Pre', to: 'In', reason: 'usbSetup' });
    device.powerOn();
    expect(device.window.kind).toBe('bareMetal');
  });

  it('GetSetupBinFile (Stop): suffix and root set, no self-started hellos', () => {
    const rec = bareMetalRecord('admin', 'Mesh!2pass');
    rec.variables = rec.variables.filter((v) => v.varid !== 4 && v.varid !== 17 && v.varid !== 18).map((v) => (v.varid === 28 ? { ...v, value: 0 } : v));
    const { device } = makeDevice();
    applyUsbSetup(device, meshSetupBin([rec], 1));
    expect(device.nvram.setup.provisionHalt).toBe(true);
    device.powerOn();
    expect(device.window.kind).toBe('closed');
  });

  it('consumes one record per PC from a multi-record, scrambled key; MeshCentral decodes what we leave', () => {
    let file = meshSetupBin([bareMetalRecord('admin', 'Pc1!mebxpw', 3), bareMetalRecord('admin', 'Pc2!mebxpw', 3)], 0);
    const pcs = [makeDevice({ deviceId: 'pc1' }).device, makeDevice({ deviceId: 'pc2' }).device];
    for (const pc of pcs) file = applyUsbSetup(pc, file).file;
    expect(pcs.map((d) => d.nvram.mebx.password)).toEqual(['Pc1!mebxpw', 'Pc2!mebxpw']);
    const mc = stack.AmtSetupBinDecode(file.toString('latin1'));
    expect(mc?.dataRecordsConsumed).toBe(2);
    const third = makeDevice({ deviceId: 'pc3' });
    expect(() => applyUsbSetup(third.device, file)).toThrow(expect.objectContaining({ code: 'SETUP_BIN_NO_RECORD' }));
    expect(third.timeline.query({ type: 'usb.refused' })[0]!.code).toBe('SETUP_BIN_NO_RECORD');
  });
});
