import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AmtError, isAmtError } from '../../src/common/errors.js';
import { createFactoryImage, deriveMac, deriveUuid } from '../../src/nvram/defaults.js';
import { parseImage, validateNvramImage } from '../../src/nvram/schema.js';
import { NvramStore } from '../../src/nvram/store.js';
import { FIRMWARE_PROFILE_IDS } from '../../src/nvram/profiles.js';

function caught(fn: () => unknown): AmtError {
  try {
    fn();
  } catch (e) {
    if (isAmtError(e)) return e;
    throw e;
  }
  throw new Error('expected an AmtError');
}

describe('factory image', () => {
  it.each(FIRMWARE_PROFILE_IDS)('%s factory image validates and has the factory settings', (profile) => {
    const img = createFactoryImage({ deviceId: 'pc-1', profile, seed: 's' });
    expect(() => validateNvramImage(img, 'mem')).not.toThrow();
    expect(img.provisioning).toMatchObject({ state: 'Pre', controlMode: 'none', mode: 'Enterprise', trigger: 'talk', remoteConfigTimerHours: 24, zeroTouchEnabled: true });
    expect(img.provisioning.window).toEqual({ kind: 'closed', elapsedMs: 0, lengthMs: 0, hellosSent: 0, bareMetalUsed: false });
    expect(img.mebx).toEqual({ password: 'admin', passwordChanged: false });
    expect(img.adminAcl).toEqual({ username: 'admin' });
    expect(img.localSystemAccount.username).toBe('$$OsAdmin');
    expect(img.digestRealm).toMatch(/^Digest:[0-9A-F]{32}$/);
    expect(Buffer.from(img.configurationNonce, 'base64')).toHaveLength(20);
    expect(img.setup.provisioningServer).toEqual({ port: 9971 });
    expect(img.certHashes.every((h) => h.isDefault && h.isActive)).toBe(true);
    expect(img.auditRecord).toBeNull();
    expect(img.generation).toBe(0);
  });

  it('SHA-1 defaults only before amt11', () => {
    expect(createFactoryImage({ deviceId: 'a', profile: 'amt6' }).certHashes.every((h) => h.algorithm === 'SHA1')).toBe(true);
    expect(createFactoryImage({ deviceId: 'a', profile: 'amt11' }).certHashes.some((h) => h.algorithm === 'SHA1')).toBe(false);
  });

  it('is deterministic with a seed, different without', () => {
    const a = createFactoryImage({ deviceId: 'pc-7', seed: 'fleet-1' });
    expect(createFactoryImage({ deviceId: 'pc-7', seed: 'fleet-1' })).toEqual(a);
    expect(createFactoryImage({ deviceId: 'pc-7', seed: 'fleet-2' }).configurationNonce).not.toBe(a.configurationNonce);
    expect(createFactoryImage({ deviceId: 'pc-7' }).localSystemAccount.password).not.toBe(createFactoryImage({ deviceId: 'pc-7' }).localSystemAccount.password);
    // identity follows the device id, so a fleet re-created from its spec keeps UUIDs and MACs
    expect(a.uuid).toBe(deriveUuid('pc-7'));
    expect(a.macs).toEqual([deriveMac('pc-7')]);
    expect(deriveUuid('pc-8')).not.toBe(a.uuid);
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(a.macs[0]!.slice(0, 2), 16) & 0x03).toBe(0x02); // unicast, locally administered
  });

  it('older releases use the short zero-padded realm, 16+ a random one', () => {
    expect(createFactoryImage({ deviceId: 'a', profile: 'amt11', seed: 'x' }).digestRealm).toMatch(/^Digest:[0-9A-F]{4}0{28}$/);
    expect(createFactoryImage({ deviceId: 'a', profile: 'amt16', seed: 'x' }).digestRealm).not.toMatch(/0{28}$/);
  });

  it('refuses bad identity options', () => {
    expect(caught(() => createFactoryImage({ deviceId: '../x' })).code).toBe('BAD_INPUT');
    expect(caught(() => createFactoryImage({ deviceId: 'a', uuid: 'nope' })).code).toBe('BAD_INPUT');
    expect(caught(() => createFactoryImage({ deviceId: 'a', macs: ['00:11:22'] })).code).toBe('BAD_INPUT');
    expect(caught(() => createFactoryImage({ deviceId: 'a', profile: 'amt7' as 'amt6' })).code).toBe('BAD_INPUT');
    expect(createFactoryImage({ deviceId: 'a', macs: ['00-1A-2B-3C-4D-5E'] }).macs).toEqual(['00:1a:2b:3c:4d:5e']);
  });
});

describe('parseImage errors', () => {
  const good = JSON.stringify(createFactoryImage({ deviceId: 'pc-1', seed: 's' }), null, 2);

  it('round-trips a valid image', () => {
    expect(parseImage(good, 'f.json')).toEqual(JSON.parse(good));
  });

  it('truncated file → NVRAM_CORRUPT naming the file and position', () => {
    const e = caught(() => parseImage(good.slice(0, 200), '/d/pc-1.nvram.json'));
    expect(e.code).toBe('NVRAM_CORRUPT');
    expect(e.message).toMatch(/^\/d\/pc-1\.nvram\.json: file ends in the middle of the JSON \(truncated write\?\) at line \d+ column \d+/);
  });

  it('garbage bytes and empty files → NVRAM_CORRUPT', () => {
    const e = caught(() => parseImage('\u0000\u00ff\u0013garbage', 'g.json'));
    expect(e.code).toBe('NVRAM_CORRUPT');
    expect(e.message).toContain('g.json: not valid JSON');
    expect(e.message).toContain('line 1 column 1');
    expect(caught(() => parseImage('', 'e.json')).message).toBe('e.json: file is empty (truncated write?)');
  });

  it('syntax error in the middle gives line and column', () => {
    const broken = good.replace('"generation": 0', '"generation": 0,');
    const e = caught(() => parseImage(broken, 'b.json'));
    expect(e.code).toBe('NVRAM_CORRUPT');
    const lines = broken.split('\n');
    expect(e.message).toContain(`line ${lines.length} column 1`); // last line: the '}' after the trailing comma
  });

  it('wrong field type → NVRAM_INVALID with the JSON pointer', () => {
    const img = JSON.parse(good);
    img.setup.provisioningServer.port = '9971';
    const e = caught(() => parseImage(JSON.stringify(img), 'w.json'));
    expect(e.code).toBe('NVRAM_INVALID');
    expect(e.message).toBe('w.json: field /setup/provisioningServer/port must be integer');
  });

  it('missing field, unknown field, bad enum, bad format', () => {
    const cases: Array<[(o: any) => void, string]> = [
      [(o) => delete o.provisioning.window.hellosSent, 'x.json: field /provisioning/window/hellosSent is missing'],
      [(o) => (o.network.colour = 'blue'), 'x.json: field /network/colour is not a known field'],
      [(o) => (o.provisioning.state = 'Done'), 'x.json: field /provisioning/state must be one of "Pre", "In", "Post"'],
      [(o) => (o.macs[0] = 'zz'), 'x.json: field /macs/0 does not match the expected format'],
      [(o) => (o.certHashes[0].hash = o.certHashes[0].hash.slice(0, 40)), 'x.json: field /certHashes/0/hash must be 64 hex characters for SHA256, got 40'],
    ];
    for (const [mutate, expected] of cases) {
      const o = JSON.parse(good);
      mutate(o);
      const e = caught(() => parseImage(JSON.stringify(o), 'x.json'));
      expect(e.code).toBe('NVRAM_INVALID');
      expect(e.message.startsWith(expected)).toBe(true);
    }
  });

  it('schemaVersion mismatch says which version is supported', () => {
    const o = JSON.parse(good);
    o.schemaVersion = 2;
    expect(caught(() => parseImage(JSON.stringify(o), 'v.json')).message).toBe(
      'v.json: schemaVersion 2 is not supported (this amtemu reads schemaVersion 1)',
    );
  });
});

describe('NvramStore', () => {
  let dir: string;
  let store: NvramStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'amtemu-nvram-'));
    store = new NvramStore(join(dir, 'data'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('save → load round trip, generation bumped, list and remove', () => {
    const img = createFactoryImage({ deviceId: 'pc-1', seed: 's' });
    const saved = store.save(img);
    expect(saved.generation).toBe(1);
    expect(store.load('pc-1')).toEqual(saved);
    expect(store.save(saved).generation).toBe(2);
    store.save(createFactoryImage({ deviceId: 'pc-0', seed: 's' }));
    expect(store.list()).toEqual(['pc-0', 'pc-1']);
    store.remove('pc-0');
    expect(store.list()).toEqual(['pc-1']);
    expect(caught(() => store.remove('pc-0')).code).toBe('NVRAM_NOT_FOUND');
    expect(readdirSync(join(dir, 'data')).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('missing image → NVRAM_NOT_FOUND; bad id → BAD_INPUT', () => {
    expect(caught(() => store.load('ghost')).code).toBe('NVRAM_NOT_FOUND');
    for (const id of ['..', '.', 'a/b', '', 'x'.repeat(65), 'sp ace']) expect(caught(() => store.path(id)).code).toBe('BAD_INPUT');
  });

  it('never persists an invalid image', () => {
    const img = createFactoryImage({ deviceId: 'pc-1' });
    expect(caught(() => store.save({ ...img, uuid: 'bad' })).code).toBe('NVRAM_INVALID');
    expect(store.exists('pc-1')).toBe(false);
  });

  it('a damaged file is reported, not replaced', () => {
    store.save(createFactoryImage({ deviceId: 'pc-1' }));
    writeFileSync(store.path('pc-1'), '{"schemaVersion": 1, "deviceId": "pc-1", "uu');
    const e = caught(() => store.load('pc-1'));
    expect(e.code).toBe('NVRAM_CORRUPT');
    expect(e.message).toContain(store.path('pc-1'));
    expect(caught(() => store.load('pc-1')).code).toBe('NVRAM_CORRUPT'); // still damaged: not silently reset
  });

  it('a file whose deviceId disagrees with its name is invalid', () => {
    const saved = store.save(createFactoryImage({ deviceId: 'pc-1' }));
    writeFileSync(store.path('pc-2'), JSON.stringify(saved));
    expect(caught(() => store.load('pc-2')).message).toContain('field /deviceId');
  });

  it('leftover temp files from a dead writer are ignored and cleaned; a live writer\'s are kept', () => {
    const saved = store.save(createFactoryImage({ deviceId: 'pc-1' }));
    const dead = `${store.path('pc-1')}.tmp-999999999-1`;
    const live = `${store.path('pc-1')}.tmp-${process.pid}-77`;
    writeFileSync(dead, '{"half a wri');
    writeFileSync(live, '{"in progress');
    expect(store.load('pc-1')).toEqual(saved);
    expect(store.list()).toEqual(['pc-1']);
    const left = readdirSync(join(dir, 'data'));
    expect(left).not.toContain('pc-1.nvram.json.tmp-999999999-1');
    expect(left).toContain(`pc-1.nvram.json.tmp-${process.pid}-77`);
  });
});
