/**
 * `amtemu usb-setup --device ID [--data-dir DIR] FILE`: boot a stored device with a USB key that
 * holds setup.bin (seed 002 "USB-Key Setup"). The record is applied as firmware does
 * (src/device/usb-setup.ts); NVRAM is saved through the crash-safe store and the key's file is
 * rewritten with the record consumed (temp file + rename), unless it says "do not consume".
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { VirtualClock } from '../clock/virtual-clock.js';
import { AmtError } from '../common/errors.js';
import { Timeline, type TimelineEvent } from '../common/timeline.js';
import { AmtDevice } from '../device/device.js';
import { applyUsbSetup } from '../device/usb-setup.js';
import { createFactoryImage } from '../nvram/defaults.js';
import type { NvramImage } from '../nvram/image.js';
import { getProfile } from '../nvram/profiles.js';
import { refuseWhileServed } from '../nvram/data-dir-lock.js';
import { NvramStore } from '../nvram/store.js';
import { DEFAULT_DATA_DIR } from './nvram-command.js';

/** A stored device, offline (no network), whose every NVRAM change is saved by the store. */
export function openOfflineDevice(dataDir: string, deviceId: string, api: string): { device: AmtDevice; timeline: Timeline; store: NvramStore } {
  // A running fleet on this directory would overwrite what we write (src/nvram/data-dir-lock.ts).
  refuseWhileServed(dataDir, api);
  const store = new NvramStore(dataDir);
  const image = store.load(deviceId);
  const clock = new VirtualClock({ epoch: Date.now() });
  const timeline = new Timeline(clock);
  const factory = (): NvramImage => createFactoryImage({ deviceId: image.deviceId, profile: image.firmware.profile, uuid: image.uuid, macs: image.macs, hostname: image.network.hostname, firmwareVersion: image.firmware.version });
  const device = new AmtDevice({ image, profile: getProfile(image.firmware.profile), clock, timeline, factoryImage: factory, persist: (img) => store.save(img as NvramImage) });
  return { device, timeline, store };
}

export function formatEvents(events: readonly TimelineEvent[]): string {
  return events.map((e) => `${e.type}${e.code ? ` [${e.code}]` : ''} ${JSON.stringify(e.data)}\n`).join('');
}

export function registerUsbSetupCommand(program: Command, out: (s: string) => void = (s) => void process.stdout.write(s)): void {
  program
    .command('usb-setup')
    .description('apply the next record of a setup.bin USB key to a factory-state device (one-touch setup)')
    .requiredOption('--device <id>', 'device id in the data directory')
    .option('--data-dir <dir>', 'directory holding <deviceId>.nvram.json files', DEFAULT_DATA_DIR)
    .argument('<file>', 'setup.bin file')
    .action((file: string, o: { device: string; dataDir: string }) => {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new AmtError('BAD_INPUT', `${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const { device, timeline } = openOfflineDevice(o.dataDir, o.device, 'POST /api/devices/:id/usb-setup');
      const r = applyUsbSetup(device, bytes, file);
      if (r.consumed) {
        const tmp = `${file}.tmp-${process.pid}`;
        writeFileSync(tmp, r.file);
        renameSync(tmp, file);
      }
      out(formatEvents(timeline.query()));
      out(`${o.device}: record ${r.record} applied (${r.applied.length} settings${r.ignored.length ? `, ignored ${r.ignored.join(', ')}` : ''}); state ${device.state}; ${r.consumed ? `record consumed in ${file}` : 'file says do not consume'}\n`);
    });
}
