import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAmtError } from '../../src/common/errors.js';
import { registerNvramCommands } from '../../src/cli/nvram-command.js';
import { NvramStore } from '../../src/nvram/store.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'amtemu-cli-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `amtemu <args> --data-dir <tmp>` in-process; returns stdout, stderr and the thrown error. */
async function run(...args: string[]): Promise<{ out: string; err: string; error?: unknown }> {
  let out = '';
  let err = '';
  const program = new Command('amtemu')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerNvramCommands(program, { out: (s) => (out += s) });
  try {
    await program.parseAsync(['node', 'amtemu', ...args, '--data-dir', dir]);
    return { out, err };
  } catch (error) {
    return { out, err, error };
  }
}

const codeOf = (r: { error?: unknown }): string => (isAmtError(r.error) ? r.error.code : r.error instanceof CommanderError ? `commander:${r.error.code}` : String(r.error));

describe('amtemu nvram', () => {
  it('init creates a factory image; show summarises it; --json prints the file', async () => {
    const init = await run('nvram', 'init', 'pc-1', '--profile', 'amt11', '--mac', '00-1A-2B-3C-4D-5E', '--seed', 'x');
    expect(init.error).toBeUndefined();
    expect(init.out).toMatch(/^created .*pc-1\.nvram\.json: amt11 11\.8\.50\.3425, uuid [0-9a-f-]{36}, 19 default hashes\n$/);
    const show = await run('nvram', 'show', 'pc-1');
    expect(show.out).toContain('state       Pre / control mode none');
    expect(show.out).toContain('macs        00:1a:2b:3c:4d:5e');
    expect(show.out).toContain('server      (DNS: provisionserver.<domain>) port 9971');
    expect(show.out).toMatch(/0 +VeriSign Class 3 Primary CA-G1 +SHA256 +yes +yes +e7685634/);
    const json = JSON.parse((await run('nvram', 'show', 'pc-1', '--json')).out);
    expect(json.generation).toBe(1);
    expect(json.firmware.profile).toBe('amt11');
  });

  it('set macs refuses an empty list and a MAC listed twice, leaving the image as it was', async () => {
    await run('nvram', 'init', 'pc-1', '--mac', '00-1A-2B-3C-4D-5E');
    const empty = await run('nvram', 'set', 'pc-1', 'macs', '');
    expect(codeOf(empty)).toBe('BAD_INPUT');
    expect(String((empty.error as Error).message)).toMatch(/at least one MAC/);
    const twice = await run('nvram', 'set', 'pc-1', 'macs', '00:1a:2b:3c:4d:5e,00-1A-2B-3C-4D-5E');
    expect(String((twice.error as Error).message)).toMatch(/listed twice/);
    expect((await run('nvram', 'show', 'pc-1')).out).toContain('macs        00:1a:2b:3c:4d:5e');
  });

  it('init refuses to overwrite without --force, and bad profile / uuid / id', async () => {
    await run('nvram', 'init', 'pc-1');
    expect(codeOf(await run('nvram', 'init', 'pc-1'))).toBe('BAD_INPUT');
    expect((await run('nvram', 'init', 'pc-1', '--force')).error).toBeUndefined();
    expect(codeOf(await run('nvram', 'init', 'pc-2', '--profile', 'amt7'))).toBe('commander:commander.invalidArgument');
    expect(codeOf(await run('nvram', 'init', 'pc-2', '--uuid', 'not-a-uuid'))).toBe('BAD_INPUT');
    expect(codeOf(await run('nvram', 'init', '../etc'))).toBe('BAD_INPUT');
  });

  it('set changes whitelisted fields with firmware rules', async () => {
    await run('nvram', 'init', 'pc-1');
    expect((await run('nvram', 'set', 'pc-1', 'setup.pkiDnsSuffix', 'Corp.Example.Test')).out).toBe('pc-1: setup.pkiDnsSuffix = "Corp.Example.Test" (generation 2)\n');
    await run('nvram', 'set', 'pc-1', 'setup.provisioningServer.address', '192.0.2.10');
    await run('nvram', 'set', 'pc-1', 'setup.provisioningServer.port', '9972');
    await run('nvram', 'set', 'pc-1', 'provisioning.mode', 'smb');
    await run('nvram', 'set', 'pc-1', 'provisioning.remoteConfigTimerHours', '0');
    const img = new NvramStore(dir).load('pc-1');
    expect(img.setup.pkiDnsSuffix).toBe('corp.example.test');
    expect(img.setup.provisioningServer).toEqual({ port: 9972, address: '192.0.2.10' });
    expect(img.provisioning.mode).toBe('SMB');
    expect(img.provisioning.remoteConfigTimerHours).toBe(0);
  });

  it.each([
    ['setup.pkiDnsSuffix', 'a'.repeat(60) + '.' + 'b'.repeat(60) + '.' + 'c'.repeat(60) + '.' + 'd'.repeat(60), 'at most 223'],
    ['setup.pkiDnsSuffix', 'bad_suffix!', 'not a DNS name'],
    ['setup.provisioningServer.port', '0', 'out of range 1-65535'],
    ['setup.provisioningServer.port', '70000', 'out of range 1-65535'],
    ['setup.provisioningServer.port', '99x', 'not a whole number'],
    ['setup.provisioningServer.address', '192.0.2.300', 'not an IPv4 address'],
    ['provisioning.trigger', 'shout', 'not one of talk, listen'],
    ['provisioning.remoteConfigTimerHours', '256', 'out of range 0-255'],
    ['network.hostname', 'bad_host', 'not a host name'],
    ['uuid', 'x', 'cannot be set'],
  ])('set %s %s → BAD_INPUT (%s)', async (field, value, why) => {
    await run('nvram', 'init', 'pc-1');
    const r = await run('nvram', 'set', 'pc-1', field, value);
    expect(codeOf(r)).toBe('BAD_INPUT');
    expect((r.error as Error).message).toContain(why);
    expect(new NvramStore(dir).load('pc-1').generation).toBe(1); // nothing written
  });

  it('hash add / deactivate / rm / restore-defaults with firmware codes', async () => {
    await run('nvram', 'init', 'pc-1', '--profile', 'amt16');
    const h = 'ab'.repeat(32);
    expect((await run('nvram', 'hash', 'add', 'pc-1', 'Corp Root', h)).out).toBe("pc-1: added SHA256 hash 'Corp Root' (25 entries)\n");
    expect(codeOf(await run('nvram', 'hash', 'add', 'pc-1', 'Again', h))).toBe('HASH_DUPLICATE');
    expect(codeOf(await run('nvram', 'hash', 'add', 'pc-1', 'Old', 'cd'.repeat(20)))).toBe('HASH_ALGORITHM_BANNED');
    expect(codeOf(await run('nvram', 'hash', 'add', 'pc-1', 'x', 'cd'.repeat(20), '--algorithm', 'SHA256'))).toBe('HASH_WRONG_LENGTH');
    expect(codeOf(await run('nvram', 'hash', 'add', 'pc-1', 'x', 'cd'.repeat(21)))).toBe('BAD_INPUT');
    expect(codeOf(await run('nvram', 'hash', 'rm', 'pc-1', 'Go Daddy Class 2 CA'))).toBe('HASH_DEFAULT_UNDELETABLE');
    await run('nvram', 'hash', 'deactivate', 'pc-1', 'Go Daddy Class 2 CA');
    let img = new NvramStore(dir).load('pc-1');
    expect(img.certHashes.find((e) => e.name === 'Go Daddy Class 2 CA')!.isActive).toBe(false);
    await run('nvram', 'hash', 'rm', 'pc-1', 'Corp Root');
    expect(codeOf(await run('nvram', 'hash', 'rm', 'pc-1', 'Corp Root'))).toBe('HASH_NOT_FOUND');
    await run('nvram', 'hash', 'restore-defaults', 'pc-1');
    img = new NvramStore(dir).load('pc-1');
    expect(img.certHashes.every((e) => e.isActive && e.isDefault)).toBe(true);
  });

  it('missing and damaged images give clear codes naming the file; list marks damage', async () => {
    const missing = await run('nvram', 'show', 'ghost');
    expect(codeOf(missing)).toBe('NVRAM_NOT_FOUND');
    expect((missing.error as Error).message).toContain(join(dir, 'ghost.nvram.json'));
    await run('nvram', 'init', 'pc-1');
    writeFileSync(join(dir, 'pc-2.nvram.json'), '{"schemaVersion":1,');
    const r = await run('nvram', 'show', 'pc-2');
    expect(codeOf(r)).toBe('NVRAM_CORRUPT');
    expect((r.error as Error).message).toContain('pc-2.nvram.json');
    const list = await run('nvram', 'list');
    expect(list.out).toMatch(/pc-1 +amt16 +Pre\/none/);
    expect(list.out).toMatch(/pc-2 +\? +DAMAGED .*NVRAM_CORRUPT/);
    expect((await run('nvram', 'rm', 'pc-1')).out).toContain('removed');
    expect(codeOf(await run('nvram', 'rm', 'pc-1'))).toBe('NVRAM_NOT_FOUND');
  });
});
