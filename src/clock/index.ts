export type { Clock, TimerId } from './clock.js';
export { DEFAULT_EPOCH } from './clock.js';
export { VirtualClock } from './virtual-clock.js';
export { RealClock, ScaledClock } from './real-clock.js';
