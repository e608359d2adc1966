/**
 * `amtemu mebx …` and `amtemu usb-setup …` on a data directory: NVRAM is saved through the store,
 * the key's record is consumed in the file, and refusals are coded AmtErrors (one line in main.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerMebxCommands } from '../../src/cli/mebx-command.js';
import { registerUsbSetupCommand } from '../../src/cli/usb-setup-command.js';
import { createFactoryImage } from '../../src/nvram/defaults.js';
import { NvramStore } from '../../src/nvram/store.js';

const dir = mkdtempSync(join(tmpdir(), `amtemu-mebx-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): string {
  let out = '';
  const p = new Command('amtemu').exitOverride();
  registerMebxCommands(p, (s) => (out += s));
  registerUsbSetupCommand(p, (s) => (out += s));
  p.parse(['node', 'amtemu', ...args, '--data-dir', dir]);
  return out;
}

function setupBin(records: number): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from('a7f7f6c689c4f64793ede2e5020da51d', 'hex').copy(h);
  h.writeUInt16LE(1, 16); h.writeUInt16LE(44, 18); h[24] = 3; h.writeUInt32LE(records, 28); h.writeUInt16LE(1, 36); h.writeUInt16LE(1, 40);
  const recs = Array.from({ length: records }, (_, i) => {
    const r = Buffer.alloc(512);
    r.writeUInt32LE(1, 0); r.writeUInt32LE(1, 4); r.writeUInt16LE(1, 16); r.writeUInt16LE(24, 18); r.writeUInt32LE(i + 1, 20);
    let p = 24;
    for (const [id, v] of [[1, 'admin'], [2, `Cli!${i}pass`]] as const) {
      r.writeUInt16LE(1, p); r.writeUInt16LE(id, p + 2); r.writeUInt16LE(v.length, p + 4); r.write(v, p + 8, 'latin1');
      p += 8 + Math.ceil(v.length / 4) * 4;
    }
    return r;
  });
  return Buffer.concat([h, ...recs]);
}

describe('amtemu mebx / usb-setup', () => {
  const store = new NvramStore(dir);
  store.save(createFactoryImage({ deviceId: 'm1', seed: 't', profile: 'amt6' }));
  store.save(createFactoryImage({ deviceId: 'u1', seed: 't' }));

  it('mebx: forced password change, then settings; state and values persist in the image', () => {
    expect(() => run('mebx', 'hostname', 'x1', '--device', 'm1', '--password', 'admin')).toThrow(expect.objectContaining({ code: 'NOT_PERMITTED' }));
    expect(run('mebx', 'password', 'Tech!2024x', '--device', 'm1', '--password', 'admin')).toMatch(/lifecycle.transition .*"to":"In"/);
    run('mebx', 'pki-dns-suffix', 'corp.example.test', '--device', 'm1', '--password', 'Tech!2024x');
    run('mebx', 'provisioning-server', '10.1.2.3', '9972', '--device', 'm1', '--password', 'Tech!2024x');
    expect(() => run('mebx', 'mode', 'SMB', '--device', 'm1', '--password', 'Tech!2024x')).toThrow(expect.objectContaining({ code: 'NOT_PERMITTED' }));
    const img = store.load('m1');
    expect(img.provisioning.state).toBe('In');
    expect(img.setup).toMatchObject({ pkiDnsSuffix: 'corp.example.test', provisioningServer: { address: '10.1.2.3', port: 9972 } });
  });

  it('usb-setup: applies record 1, rewrites the key with it consumed; a configured device is refused', () => {
    const key = join(dir, 'setup.bin');
    writeFileSync(key, setupBin(2));
    expect(run('usb-setup', '--device', 'u1', key)).toMatch(/record 1 applied .* state In; record consumed/);
    expect(store.load('u1').mebx.password).toBe('Cli!0pass');
    expect(readFileSync(key).readUInt32LE(32)).toBe(1);
    expect(() => run('usb-setup', '--device', 'u1', key)).toThrow(expect.objectContaining({ code: 'INVALID_AMT_MODE' }));
    expect(readFileSync(key).readUInt32LE(32)).toBe(1);
  });
});
