/**
 * setup.bin strictness and the factory-state rule (seed 002 "USB-Key Setup"; issue 10 item 2).
 * Files are built here with a small writer of the documented layout (src/device/usb-setup.ts).
 */
import { describe, expect, it } from 'vitest';
import { applyUsbSetup, parseSetupBin } from '../../src/device/usb-setup.js';
import { makeDevice } from '../helpers/device-fixture.js';

const V3 = Buffer.from('a7f7f6c689c4f64793ede2e5020da51d', 'hex');
type Var = [module: number, id: number, value: Buffer | string];

function build(records: Var[][], opts: { flags?: number; consumed?: number } = {}): Buffer {
  const h = Buffer.alloc(512);
  V3.copy(h, 0);
  h.writeUInt16LE(1, 16);
  h.writeUInt16LE(46, 18);
  h[24] = 3;
  h.writeUInt16LE(opts.flags ?? 0, 26);
  h.writeUInt32LE(records.length, 28);
  h.writeUInt32LE(opts.consumed ?? 0, 32);
  h.writeUInt16LE(1, 36);
  h.writeUInt16LE(1, 40);
  h.writeUInt16LE(2, 42);
  const out = [h];
  records.forEach((vars, i) => {
    const r = Buffer.alloc(512);
    r.writeUInt32LE(1, 0);
    r.writeUInt32LE(1, 4);
    r.writeUInt16LE(1, 16);
    r.writeUInt16LE(24, 18);
    r.writeUInt32LE(i + 1, 20);
    let p = 24;
    for (const [m, id, value] of vars) {
      const b = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
      r.writeUInt16LE(m, p);
      r.writeUInt16LE(id, p + 2);
      r.writeUInt16LE(b.length, p + 4);
      b.copy(r, p + 8);
      p += 8 + Math.ceil(b.length / 4) * 4;
    }
    out.push(r);
  });
  return Buffer.concat(out);
}

const PW: Var[] = [[1, 1, 'admin'], [1, 2, 'Usb!2pass']];
const err = (fn: () => unknown): { code?: string; message: string } => {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a failure');
};

describe('setup.bin parser: damaged files give file, offset and what', () => {
  const good = build([PW]);
  it('accepts a good file', () => {
    expect(parseSetupBin(good).records[0]!.variables).toHaveLength(2);
  });
  it.each([
    ['truncated', good.subarray(0, 700), /offset 512: file length 700 is not a multiple of 512/],
    ['too short', good.subarray(0, 100), /offset 100: file is 100 bytes/],
    ['wrong GUID', Buffer.concat([Buffer.alloc(16), good.subarray(16)]), /offset 0: unknown file-type GUID/],
    ['record count', (() => { const b = Buffer.from(good); b.writeUInt32LE(3, 28); return b; })(), /offset 28: header says 3 data records, the file holds 1/],
    ['consumed > count', (() => { const b = Buffer.from(good); b.writeUInt32LE(2, 32); return b; })(), /offset 32: 2 records consumed of 1/],
    ['record number', (() => { const b = Buffer.from(good); b.writeUInt32LE(9, 512 + 20); return b; })(), /offset 532: record 1 carries record number 9/],
    ['variable overruns', (() => { const b = Buffer.from(good); b.writeUInt16LE(600, 512 + 24 + 4); return b; })(), /offset 540: record 1: variable 1.1 is 600 bytes and runs past the record/],
    ['unknown variable', build([[...PW, [2, 99, 'x']]]), /unknown variable 2\.99/],
    ['fixed size', build([[...PW, [2, 18, Buffer.from([1, 2, 3])]]]), /variable 2\.18 must be 2 bytes, got 3/],
  ])('%s', (_name, buf, re) => {
    const e = err(() => parseSetupBin(buf, 'key/setup.bin'));
    expect(e.code).toBe('SETUP_BIN_INVALID');
    expect(e.message).toMatch(/^key\/setup\.bin: /);
    expect(e.message).toMatch(re);
  });
});

describe('USB setup on a device', () => {
  it('only in factory state: INVALID_AMT_MODE in setup or configured, NVRAM untouched', () => {
    for (const state of ['In', 'Post'] as const) {
      const { device, timeline } = makeDevice({ image: (img) => { img.provisioning.state = state; } });
      const before = structuredClone(device.nvram);
      expect(err(() => applyUsbSetup(device, build([PW]))).code).toBe('INVALID_AMT_MODE');
      expect(device.nvram).toEqual(before);
      expect(timeline.query({ type: 'usb.refused' })[0]!.code).toBe('INVALID_AMT_MODE');
    }
  });

  it('wrong current password, weak new password and a bad value leave the device in factory state', () => {
    const cases: Array<[Var[], string]> = [
      [[[1, 1, 'nope'], [1, 2, 'Usb!2pass']], 'MEBX_PASSWORD_WRONG'],
      [[[1, 1, 'admin'], [1, 2, 'weakpass']], 'INVALID_PASSWORD'],
      [[...PW, [2, 3, 'not a domain!']], 'SETUP_BIN_INVALID'],
      [[...PW, [2, 8, Buffer.from([9, 1, 2])]], 'SETUP_BIN_INVALID'],
      [[[1, 2, 'Usb!2pass']], 'SETUP_BIN_INVALID'],
    ];
    for (const [vars, code] of cases) {
      const { device } = makeDevice();
      expect(err(() => applyUsbSetup(device, build([vars]))).code, code).toBe(code);
      expect(device.state).toBe('Pre');
      expect(device.nvram.mebx.passwordChanged).toBe(false);
    }
  });

  it('PID/PPS on a PSK profile (amt6) → PSK hellos; SMB record on amt3 → configured with the MEBx password as admin', () => {
    const psk = makeDevice({ profile: 'amt6' }).device;
    applyUsbSetup(psk, build([[...PW, [2, 1, 'ABCD-1234'], [2, 2, 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-1111-2222']]]));
    expect(psk.nvram.setup).toMatchObject({ pid: 'ABCD1234', pps: 'AAAABBBBCCCCDDDDEEEEFFFF11112222' });
    expect(psk.buildHello(0).readUInt16LE(2)).toBe(2);
    const smb = makeDevice({ profile: 'amt3' });
    applyUsbSetup(smb.device, build([[...PW, [2, 16, Buffer.from([2])]]]));
    expect([smb.device.state, smb.device.controlMode, smb.device.nvram.provisioning.mode]).toEqual(['Post', 'ACM', 'SMB']);
    expect(smb.device.nvram.auditRecord).toMatchObject({ kind: 'usb' });
    expect(err(() => applyUsbSetup(makeDevice({ profile: 'amt16' }).device, build([[...PW, [2, 16, Buffer.from([2])]]]))).code).toBe('SETUP_BIN_INVALID');
  });

  it('consumes the record: counter +1, valid flag cleared, next PC gets the next record', () => {
    const file = build([PW, [[1, 1, 'admin'], [1, 2, 'Usb!3pass']]]);
    const a = makeDevice({ deviceId: 'a' }).device;
    const r = applyUsbSetup(a, file);
    expect(r).toMatchObject({ record: 1, consumed: true });
    expect(r.file.readUInt32LE(32)).toBe(1);
    expect(parseSetupBin(r.file).records[0]!.valid).toBe(false);
    const b = makeDevice({ deviceId: 'b' }).device;
    applyUsbSetup(b, r.file);
    expect(b.nvram.mebx.password).toBe('Usb!3pass');
    expect(file.readUInt32LE(32)).toBe(0); // the caller's buffer is not modified in place
  });
});
