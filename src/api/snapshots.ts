/**
 * Snapshot and revert of the whole fleet: every device's NVRAM image, plus the clock reading.
 * Reverting writes the images back through AmtDevice.update (so a data dir persists them) and
 * power-cycles devices that were on, which is how the firmware picks up a changed NVRAM: its
 * timers (hello schedule, window end) are re-armed from the restored window counters.
 *
 * Virtual time is recorded but never rewound: timers of the whole fleet (DHCP renewals, the
 * reference server's waits) are scheduled on it, and a clock that runs backwards would fire
 * them out of order. The revert answer says so (`timeRewound: false`).
 */
import type { Clock } from '../clock/clock.js';
import type { AmtDevice } from '../device/device.js';
import type { Emulator } from '../fleet/emulator.js';
import type { NvramImage } from '../nvram/image.js';
import { ApiError } from './errors.js';

export interface Snapshot {
  id: string;
  name: string;
  t: number;
  date: string;
  images: Map<string, NvramImage>;
}

export interface SnapshotInfo {
  id: string;
  name: string;
  t: number;
  date: string;
  devices: number;
}

/** Put a whole image back into a device (the snapshot's), keeping its generation counter rising. */
export function restoreImage(device: AmtDevice, image: Readonly<NvramImage>): void {
  const wasOn = device.powered;
  if (wasOn) device.powerOff('off');
  device.update((img) => {
    const target = img as unknown as Record<string, unknown>;
    for (const k of Object.keys(target)) delete target[k];
    Object.assign(target, structuredClone(image));
  });
  device.record('nvram.restored', { generation: device.nvram.generation, state: device.state, controlMode: device.controlMode });
  if (wasOn) device.powerOn();
}

export class SnapshotStore {
  private readonly snapshots = new Map<string, Snapshot>();
  private next = 1;

  constructor(
    private readonly emu: Emulator,
    private readonly clock: Clock,
    private readonly max = 20,
  ) {}

  take(name?: string): SnapshotInfo {
    if (this.snapshots.size >= this.max) throw new ApiError(409, 'NOT_PERMITTED', `at most ${this.max} snapshots are kept; delete one first`);
    const id = `s${this.next++}`;
    const images = new Map<string, NvramImage>();
    for (const [deviceId, d] of this.emu.devices) images.set(deviceId, structuredClone(d.nvram) as NvramImage);
    const snap: Snapshot = { id, name: name ?? id, t: this.clock.now(), date: this.clock.date().toISOString(), images };
    this.snapshots.set(id, snap);
    return info(snap);
  }

  list(): SnapshotInfo[] {
    return [...this.snapshots.values()].map(info);
  }

  get(id: string): Snapshot {
    const s = this.snapshots.get(id);
    if (!s) throw new ApiError(404, 'NOT_FOUND', `no snapshot "${id}" (have: ${[...this.snapshots.keys()].join(', ') || 'none'})`);
    return s;
  }

  delete(id: string): void {
    this.get(id);
    this.snapshots.delete(id);
  }

  /** Restore every device the snapshot knows; devices added since are left as they are. */
  revert(id: string): { snapshot: SnapshotInfo; restored: string[]; untouched: string[]; timeRewound: false; now: number } {
    const s = this.get(id);
    const restored: string[] = [];
    const untouched: string[] = [];
    for (const [deviceId, d] of this.emu.devices) {
      const img = s.images.get(deviceId);
      if (!img) {
        untouched.push(deviceId);
        continue;
      }
      restoreImage(d, img);
      restored.push(deviceId);
    }
    return { snapshot: info(s), restored, untouched, timeRewound: false, now: this.clock.now() };
  }
}

function info(s: Snapshot): SnapshotInfo {
  return { id: s.id, name: s.name, t: s.t, date: s.date, devices: s.images.size };
}
