/**
 * A scaled or real clock reads fractions of a millisecond (performance.now() × scale), and the
 * NVRAM image counts window uptime in whole milliseconds (schema: integer). These tests run a
 * device whose clock reads fractional times through a real NvramStore in a temp directory: every
 * write must be an image the store accepts, and a write the store refuses must leave the old
 * file, become a coded timeline event and never escape from a timer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Timeline } from '../../src/common/timeline.js';
import { AmtDevice } from '../../src/device/device.js';
import { withWindow } from '../../src/device/nvram-draft.js';
import { createFactoryImage } from '../../src/nvram/defaults.js';
import type { NvramImage } from '../../src/nvram/image.js';
import { getProfile } from '../../src/nvram/profiles.js';
import { NvramStore } from '../../src/nvram/store.js';
import { MemoryNetwork } from '../helpers/memory-network.js';

/**
 * A clock like ScaledClock at --time-scale 60: its readings are fractional milliseconds.
 * Built on a VirtualClock (so the test is deterministic) whose time is moved in steps that are
 * not whole milliseconds; now() adds the sub-millisecond phase a performance.now() reading has.
 */
class FractionalClock extends VirtualClock {
  override now(): number {
    return super.now() + 0.371;
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function storedSetupDevice(persistVia?: (store: NvramStore, img: NvramImage) => NvramImage) {
  const dir = mkdtempSync(join(tmpdir(), 'amtemu-frac-'));
  dirs.push(dir);
  const store = new NvramStore(dir);
  const clock = new FractionalClock();
  const timeline = new Timeline(clock);
  const net = new MemoryNetwork(clock);
  net.zone.set('provisionserver.corp.example.test', ['127.0.0.1']);
  const factory = (): NvramImage => createFactoryImage({ deviceId: 'pc1', seed: 'frac' });
  const first = factory();
  first.provisioning.state = 'In';
  first.mebx.passwordChanged = true;
  const image = store.save(first);
  const device = new AmtDevice({
    image,
    profile: getProfile(image.firmware.profile),
    clock,
    timeline,
    network: net,
    factoryImage: factory,
    persist: (img) => (persistVia ? persistVia(store, img as NvramImage) : store.save(img as NvramImage)),
  });
  return { dir, store, clock, timeline, net, device };
}

describe('NVRAM writes on a clock with fractional milliseconds', () => {
  it('writes whole-millisecond window uptime that the store accepts, and loses no time to rounding', async () => {
    const { store, clock, timeline, net, device } = storedSetupDevice();
    await clock.advance(0.25);
    device.powerOn();
    // 10 minutes in 2,345 steps of 255.86 ms: every hello, power-off and power-on writes NVRAM.
    for (let i = 0; i < 2345; i++) await clock.advance(255.86);
    expect(net.hellos.length).toBeGreaterThanOrEqual(6);
    device.powerOff();
    expect(timeline.query({ type: 'nvram.write-failed' })).toEqual([]);
    const onDisk = store.load('pc1');
    expect(onDisk.generation).toBe(device.nvram.generation);
    const w = onDisk.provisioning.window;
    expect(Number.isInteger(w.elapsedMs)).toBe(true);
    // Uptime from power-on to power-off, to the millisecond (fractions carried, not dropped).
    expect(w.elapsedMs).toBe(Math.floor(2345 * 255.86));
    device.powerOn();
    device.extendWindow(2);
    const extended = store.load('pc1').provisioning.window;
    expect(Number.isInteger(extended.lengthMs)).toBe(true);
    expect(Number.isInteger(extended.elapsedMs)).toBe(true);
  });

  it('a write the store refuses keeps the old file, is a coded event and does not escape the hello timer', async () => {
    let refuse = false;
    // The store validates before it writes: an image with fractional uptime is NVRAM_INVALID.
    const { store, clock, timeline, net, device } = storedSetupDevice((s, img) => {
      const w = img.provisioning.window;
      return s.save(refuse ? withWindow(img, { ...w, elapsedMs: w.elapsedMs + 0.5 }) : img);
    });
    device.powerOn();
    await clock.advance(90_000);
    expect(net.hellos).toHaveLength(2);
    const good = store.load('pc1');
    refuse = true;
    await clock.advance(60_000); // the third hello's write is refused
    const failed = timeline.query({ type: 'nvram.write-failed' });
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({ code: 'NVRAM_INVALID' });
    expect(failed[0]!.data['message']).toMatch(/pc1\.nvram\.json: field \/provisioning\/window\/elapsedMs must be integer/);
    expect(store.load('pc1')).toEqual(good);
    // The device goes on: the hello still went out, and the next good write catches NVRAM up.
    expect(net.hellos).toHaveLength(3);
    refuse = false;
    await clock.advance(60_000);
    expect(net.hellos).toHaveLength(4);
    expect(store.load('pc1').provisioning.window.hellosSent).toBe(4);
  });

  it('power-off and the bare-metal window opening survive a refused write', () => {
    let refuse = true;
    const { store, timeline, device } = storedSetupDevice((s, img) => {
      if (refuse) return s.save({ ...img, network: { ...img.network, hostname: 'not a host name' } });
      return s.save(img);
    });
    const before = store.load('pc1');
    expect(() => device.powerOn()).not.toThrow();
    expect(device.powered).toBe(true);
    expect(device.window.kind).toBe('closed');
    expect(() => device.powerOff()).not.toThrow();
    expect(device.powered).toBe(false);
    expect(timeline.query({ type: 'nvram.write-failed' })[0]).toMatchObject({ code: 'NVRAM_INVALID' });
    expect(store.load('pc1')).toEqual(before);
    refuse = false;
    device.powerOn();
    expect(device.window.kind).toBe('bareMetal');
    expect(store.load('pc1').provisioning.window.kind).toBe('bareMetal');
  });
});
