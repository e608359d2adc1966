import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Timeline } from '../../src/common/timeline.js';
import { AmtDevice } from '../../src/device/device.js';
import type { DeviceNetwork } from '../../src/device/environment.js';
import { createFactoryImage, type FactoryImageOptions } from '../../src/nvram/defaults.js';
import type { NvramImage } from '../../src/nvram/image.js';
import { getProfile } from '../../src/nvram/profiles.js';

export interface FixtureOptions extends Partial<FactoryImageOptions> {
  network?: (clock: VirtualClock) => DeviceNetwork;
  /** Mutate the factory image before the device is built (state, suffix, hashes...). */
  image?: (img: NvramImage) => void;
}

export function makeDevice(opts: FixtureOptions = {}) {
  const clock = new VirtualClock();
  const timeline = new Timeline(clock);
  const factory = () => createFactoryImage({ deviceId: opts.deviceId ?? 'pc1', seed: 'test', ...opts });
  const image = factory();
  opts.image?.(image);
  const network = opts.network?.(clock);
  const writes: NvramImage[] = [];
  const device = new AmtDevice({
    image,
    profile: getProfile(image.firmware.profile),
    clock,
    timeline,
    ...(network ? { network } : {}),
    factoryImage: factory,
    // Like NvramStore.save: write the image with its generation bumped, and return what was written.
    persist: (img) => {
      const written = { ...(structuredClone(img) as NvramImage), generation: img.generation + 1 };
      writes.push(written);
      return structuredClone(written);
    },
  });
  return { clock, timeline, device, network, writes };
}
