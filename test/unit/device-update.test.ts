/**
 * AmtDevice.update(): the callback mutates a deep copy (the draft), persist gets the whole new
 * image, and a failed persist leaves the old image — whatever copy method update() uses.
 */
import { describe, expect, it } from 'vitest';
import { AmtDevice } from '../../src/device/device.js';
import type { NvramImage } from '../../src/nvram/image.js';
import { getProfile } from '../../src/nvram/profiles.js';
import { makeDevice } from '../helpers/device-fixture.js';

describe('AmtDevice.update', () => {
  it('hands the callback a deep copy: nested objects and arrays of the old image never change', () => {
    const { device } = makeDevice();
    const before = device.nvram;
    const snapshot = structuredClone(before);
    let draft: NvramImage | undefined;
    device.update((img) => {
      draft = img;
      img.certHashes[0]!.isActive = !img.certHashes[0]!.isActive;
      img.certHashes.push({ name: 'x', algorithm: 'SHA256', hash: 'ab'.repeat(32), isDefault: false, isActive: true });
      img.tls.remote.trustedCn.push('cn.example.test');
      img.provisioning.window.hellosSent += 1;
      img.setup.otp = 'ABCD';
    });
    expect(before).toEqual(snapshot);
    expect(draft).not.toBe(before);
    for (const k of Object.keys(before) as Array<keyof NvramImage>) {
      const v = before[k];
      if (typeof v === 'object' && v !== null) expect(draft![k], k).not.toBe(v);
    }
    expect(device.nvram.certHashes).toHaveLength(snapshot.certHashes.length + 1);
    expect(device.nvram.tls.remote.trustedCn).toEqual(['cn.example.test']);
    expect(device.nvram.setup.otp).toBe('ABCD');
  });

  it('keeps keys whose value is undefined, and an own "__proto__" key stays data', () => {
    const { device } = makeDevice();
    device.update((img) => {
      img.setup.otp = undefined;
      Object.defineProperty(img.network, '__proto__', { value: { odd: true }, enumerable: true, writable: true, configurable: true });
    });
    device.update(() => undefined);
    expect(Object.keys(device.nvram.setup)).toContain('otp');
    expect(Object.getPrototypeOf(device.nvram.network)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(device.nvram.network, '__proto__')?.value).toEqual({ odd: true });
  });

  it('persist gets the whole new image; a failed persist keeps the old one', () => {
    const f = makeDevice();
    const seen: NvramImage[] = [];
    let fail = false;
    const device = new AmtDevice({
      image: structuredClone(f.device.nvram),
      profile: getProfile(f.device.nvram.firmware.profile),
      clock: f.clock,
      timeline: f.timeline,
      factoryImage: () => structuredClone(f.device.nvram),
      persist: (img) => {
        if (fail) throw new Error('ENOSPC');
        seen.push(img as NvramImage);
      },
    });
    const old = device.nvram;
    device.update((img) => {
      img.network.hostname = 'renamed';
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({ ...old, network: { ...old.network, hostname: 'renamed' } });
    expect(device.nvram.generation).toBe(old.generation + 1);
    const good = device.nvram;
    fail = true;
    expect(() => device.update((img) => { img.network.hostname = 'lost'; })).toThrow('ENOSPC');
    expect(device.nvram).toBe(good);
    expect(device.nvram.network.hostname).toBe('renamed');
  });
});
