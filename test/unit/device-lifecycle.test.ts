import { describe, expect, it } from 'vitest';
import { isAmtError } from '../../src/common/errors.js';
import { checkTransition, type LifecycleReason } from '../../src/device/lifecycle.js';
import type { ProvisioningState } from '../../src/nvram/image.js';
import { addHash } from '../../src/nvram/hash-table.js';
import { makeDevice } from '../helpers/device-fixture.js';

const STATES: ProvisioningState[] = ['Pre', 'In', 'Post'];
const LEGAL: Array<[LifecycleReason, ProvisioningState, ProvisioningState]> = [
  ['mebxPassword', 'Pre', 'In'],
  ['pidPps', 'Pre', 'In'],
  ['usbSetup', 'Pre', 'In'],
  ['usbSetup', 'Pre', 'Post'],
  ['startConfiguration', 'Pre', 'In'],
  ['startConfiguration', 'In', 'In'],
  ['stopConfiguration', 'In', 'Pre'],
  ['startConfigurationHBased', 'Pre', 'In'],
  ['remoteConfiguration', 'In', 'Post'],
  ['hostBasedCCM', 'Pre', 'Post'],
  ['hostBasedCCM', 'In', 'Post'],
  ['hostBasedACM', 'Pre', 'Post'],
  ['hostBasedACM', 'In', 'Post'],
  ['upgradeToAdmin', 'Post', 'Post'],
  ['partialUnprovision', 'Post', 'In'],
  ['partialUnprovision', 'In', 'In'],
  ['fullUnprovision', 'Post', 'Pre'],
  ['fullUnprovision', 'In', 'Pre'],
  ['manualSetup', 'Pre', 'Post'],
  ['manualSetup', 'In', 'Post'],
];

describe('lifecycle transition table', () => {
  it('allows exactly the legal moves and refuses every other with ILLEGAL_TRANSITION', () => {
    const reasons = [...new Set(LEGAL.map(([r]) => r))];
    for (const reason of reasons) {
      for (const from of STATES) {
        for (const to of STATES) {
          const legal = LEGAL.some(([r, f, t]) => r === reason && f === from && t === to);
          let err: unknown;
          try {
            checkTransition(from, to, reason);
          } catch (e) {
            err = e;
          }
          if (legal) expect(err, `${reason} ${from}->${to}`).toBeUndefined();
          else expect(isAmtError(err, 'ILLEGAL_TRANSITION'), `${reason} ${from}->${to}`).toBe(true);
        }
      }
    }
  });
});

describe('device lifecycle', () => {
  it('factory → setup by changing the MEBx password, recorded on the timeline', () => {
    const { device, timeline } = makeDevice();
    expect(device.state).toBe('Pre');
    device.setMebxPassword('P@ssw0rd!', 'mebx');
    expect(device.state).toBe('In');
    expect(device.nvram.mebx).toEqual({ password: 'P@ssw0rd!', passwordChanged: true });
    expect(timeline.query({ type: 'lifecycle.transition' })[0]!.data).toMatchObject({ from: 'Pre', to: 'In', reason: 'mebxPassword' });
  });

  it('factory → setup by entering PID/PPS, which are validated', () => {
    const { device } = makeDevice();
    expect(() => device.setPidPps('AB', 'x')).toThrow(expect.objectContaining({ code: 'INVALID_PARAMETER' }));
    expect(device.state).toBe('Pre');
    device.setPidPps('ABCD-1234', 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-1111-2222');
    expect(device.state).toBe('In');
    expect(device.nvram.setup.pid).toBe('ABCD1234');
  });

  it('setup → configured ACM by remote configuration; needs the MEBx password first (DATA_MISSING)', () => {
    const { device } = makeDevice({ image: (img) => { img.provisioning.state = 'In'; } });
    expect(() => device.completeRemoteConfiguration({ kind: 'pki' })).toThrow(expect.objectContaining({ code: 'DATA_MISSING' }));
    expect(device.state).toBe('In');
    device.setMebxPassword('N3w-Mebx!', 'wsman');
    const nonce = device.nvram.configurationNonce;
    device.completeRemoteConfiguration({ kind: 'pki', provServerFqdn: 'rcs.corp.example.test' });
    expect(device.state).toBe('Post');
    expect(device.controlMode).toBe('ACM');
    expect(device.nvram.auditRecord).toMatchObject({ kind: 'pki', provServerFqdn: 'rcs.corp.example.test', t: 0 });
    expect(device.nvram.configurationNonce).not.toBe(nonce);
  });

  it('refuses remote configuration of a factory device and of a configured one', () => {
    const pre = makeDevice().device;
    pre.setMebxPassword('N3w-Mebx!', 'wsman');
    expect(() => pre.completeRemoteConfiguration({ kind: 'pki' })).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
    const post = makeDevice({ image: (img) => { img.provisioning.state = 'Post'; img.provisioning.controlMode = 'ACM'; img.mebx.passwordChanged = true; } }).device;
    expect(() => post.completeRemoteConfiguration({ kind: 'pki' })).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
  });

  it('host-based CCM then upgrade to ACM; upgrade refused when not CCM', () => {
    const { device } = makeDevice();
    expect(() => device.upgradeClientToAdmin()).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
    device.completeHostBasedSetup('CCM', '0123456789abcdef0123456789abcdef');
    expect([device.state, device.controlMode]).toEqual(['Post', 'CCM']);
    expect(() => device.completeHostBasedSetup('ACM', 'ff'.repeat(16))).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
    device.upgradeClientToAdmin();
    expect(device.controlMode).toBe('ACM');
  });

  it('partial unprovision → setup: keeps PID/PPS, hashes and admin ACL, clears the profile, reopens 6 h', () => {
    const { device } = makeDevice();
    device.setPidPps('ABCD-1234', 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-1111-2222');
    device.update((img) => {
      img.certHashes = addHash(img.certHashes, device.profile, { name: 'Corp Root', algorithm: 'SHA256', hash: 'ab'.repeat(32) });
      img.tls.remote.enabled = true;
      img.tls.keyPairs.push({ instanceId: 'k1', privateKeyPem: 'x', publicKeyDer: 'y' });
    });
    device.setMebxPassword('N3w-Mebx!', 'wsman');
    device.completeRemoteConfiguration({ kind: 'pki' });
    device.update((img) => { img.adminAcl.digestHash = 'cd'.repeat(16); });
    const hashes = device.nvram.certHashes;
    device.powerOn();
    device.unprovision('partial');
    expect([device.state, device.controlMode]).toEqual(['In', 'none']);
    expect(device.nvram.setup.pid).toBe('ABCD1234');
    expect(device.nvram.certHashes).toEqual(hashes);
    expect(device.nvram.adminAcl.digestHash).toBe('cd'.repeat(16));
    expect(device.nvram.tls.remote.enabled).toBe(false);
    expect(device.nvram.tls.keyPairs).toEqual([]);
    expect(device.window).toMatchObject({ kind: 'agent', lengthMs: 6 * 3600_000 });
  });

  it('full unprovision → factory: clears credentials, restores default hashes and the MEBx password', () => {
    const { device } = makeDevice();
    const defaults = device.nvram.certHashes;
    device.setMebxPassword('N3w-Mebx!', 'mebx');
    device.update((img) => {
      img.certHashes = addHash(img.certHashes, device.profile, { name: 'Corp Root', algorithm: 'SHA256', hash: 'ab'.repeat(32) });
      img.certHashes[0]!.isActive = false;
      img.setup.pkiDnsSuffix = 'corp.example.test';
      img.adminAcl.digestHash = 'cd'.repeat(16);
    });
    device.completeHostBasedSetup('CCM', 'ee'.repeat(16));
    const uuid = device.nvram.uuid;
    device.unprovision('full');
    expect([device.state, device.controlMode]).toEqual(['Pre', 'none']);
    expect(device.nvram.certHashes).toEqual(defaults);
    expect(device.nvram.mebx).toEqual({ password: 'admin', passwordChanged: false });
    expect(device.nvram.adminAcl.digestHash).toBeUndefined();
    expect(device.nvram.setup.pkiDnsSuffix).toBe('');
    expect(device.nvram.uuid).toBe(uuid);
    expect(device.nvram.auditRecord?.kind).toBe('hostBasedCCM');
  });

  it('refuses unprovision of a factory device (ILLEGAL_TRANSITION), never a silent no-op', () => {
    const { device, writes } = makeDevice();
    const before = writes.length;
    expect(() => device.unprovision('full')).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
    expect(() => device.unprovision('partial')).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));
    expect(writes.length).toBe(before);
  });

  it('persists every change through the store with an increasing generation', () => {
    const { device, writes } = makeDevice();
    device.setMebxPassword('N3w-Mebx!', 'mebx');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    const gens = writes.map((w) => w.generation);
    expect(gens).toEqual([...gens].sort((a, b) => a - b));
    expect(writes.at(-1)).toEqual(device.nvram);
  });

  it('a failed NVRAM write during a hello is a coded event, not a crash; the schedule goes on', async () => {
    const { MemoryNetwork } = await import('../helpers/memory-network.js');
    const { AmtError } = await import('../../src/common/errors.js');
    const f = makeDevice({ image: (img) => { img.provisioning.state = 'In'; img.mebx.passwordChanged = true; } });
    const net = new MemoryNetwork(f.clock);
    net.zone.set('provisionserver.corp.example.test', ['127.0.0.1']);
    let diskFull = false;
    const device = new (f.device.constructor as typeof import('../../src/device/device.js').AmtDevice)({
      image: structuredClone(f.device.nvram) as import('../../src/nvram/image.js').NvramImage,
      profile: f.device.profile,
      clock: f.clock,
      timeline: f.timeline,
      network: net,
      factoryImage: () => structuredClone(f.device.nvram) as import('../../src/nvram/image.js').NvramImage,
      persist: () => { if (diskFull) throw new AmtError('NVRAM_IO', 'write pc1.nvram.json: ENOSPC'); },
    });
    device.powerOn();
    await f.clock.advance(90_000);
    expect(net.hellos).toHaveLength(2);
    diskFull = true;
    await f.clock.advance(60_000);
    expect(f.timeline.query({ type: 'nvram.write-failed' })[0]).toMatchObject({ code: 'NVRAM_IO' });
    diskFull = false;
    await f.clock.advance(3 * 60_000);
    expect(net.hellos.length).toBeGreaterThanOrEqual(4);
  });

  it('keeps the last good image when the store fails to write', () => {
    const f = makeDevice();
    const before = structuredClone(f.device.nvram);
    let fail = true;
    const device = new (f.device.constructor as typeof import('../../src/device/device.js').AmtDevice)({
      image: structuredClone(before) as import('../../src/nvram/image.js').NvramImage,
      profile: f.device.profile,
      clock: f.clock,
      timeline: f.timeline,
      factoryImage: () => structuredClone(before) as import('../../src/nvram/image.js').NvramImage,
      persist: () => { if (fail) throw new Error('ENOSPC'); },
    });
    expect(() => device.setMebxPassword('N3w-Mebx!', 'mebx')).toThrow('ENOSPC');
    expect(device.nvram).toEqual(before);
    fail = false;
    device.setMebxPassword('N3w-Mebx!', 'mebx');
    expect(device.state).toBe('In');
  });
});
