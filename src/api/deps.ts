/** What the route modules share: the running fleet and the API's own bookkeeping. */
import type { Clock } from '../clock/clock.js';
import type { VirtualClock } from '../clock/virtual-clock.js';
import type { AmtDevice } from '../device/device.js';
import type { Emulator } from '../fleet/emulator.js';
import type { FaultRules } from '../scenario/faults.js';
import { ApiError } from './errors.js';
import type { FleetObserver } from './observer.js';
import type { SnapshotStore } from './snapshots.js';
import type { EventStreams } from './sse.js';

export interface ApiDeps {
  name: string;
  emu: Emulator;
  clock: Clock;
  virtual: VirtualClock | undefined;
  faults: FaultRules;
  observer: FleetObserver;
  streams: EventStreams;
  snapshots: SnapshotStore;
}

export function deviceOr404(deps: ApiDeps, id: string): AmtDevice {
  const d = deps.emu.devices.get(id);
  if (!d) throw new ApiError(404, 'NOT_FOUND', `no device "${id}"`);
  return d;
}

export const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, description: 'device id' } },
} as const;
