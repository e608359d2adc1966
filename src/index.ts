/**
 * amtemu's programmatic API, for your own vitest or jest suites.
 *
 *   import { startNetwork, runScenario } from 'amtemu';
 *
 *   const net = await startNetwork({ domain: 'corp.example.test' });
 *   const pc = net.addDevice({ id: 'pc1', state: 'setup' });
 *   pc.powerOn();
 *   await net.advance('10m');
 *   expect(net.timeline.count({ deviceId: 'pc1', type: 'hello.sent' })).toBe(7);
 *   await net.expect({ device: 'pc1', window: 'bareMetal', hellos: { min: 7 } });
 *   await net.stop();
 *
 *   const result = await runScenario('scenarios/bare-metal-success.yaml');
 *   expect(result.passed).toBe(true);
 */
export { startNetwork, EmulatedNetwork, ExpectationError, type StartNetworkOptions, type DeviceOptions } from './scenario/network-api.js';
export { runScenario, runLoaded, type ScenarioResult, type StepResult, type ScenarioFailure, type RunOptions } from './scenario/runner.js';
export { loadScenarioFile, loadScenarioText, loadScenarioObject, ScenarioLoadError, formatProblem, type ScenarioProblem } from './scenario/loader.js';
export { formatResult, formatSummary, toJUnit, toJsonReport } from './scenario/report.js';
export { parseDuration, formatDuration, type DurationInput } from './scenario/duration.js';
export { FaultRules, type FaultRule, type FaultEffect, type FaultContext, type FaultKind } from './scenario/faults.js';
export type { Check } from './scenario/expect.js';
export type { Scenario, StepSpec, ExpectSpec, EventExpectation, DeviceSpecYaml, NetworkSpec, ProvisioningServerSpec, FaultSpec } from './scenario/types.js';
export { Emulator, type EmulatorOptions, type DeviceSpec } from './fleet/emulator.js';
export { AmtDevice } from './device/device.js';
export { VirtualClock } from './clock/virtual-clock.js';
export { Timeline, formatEvent, formatTimeline, type TimelineEvent, type TimelineQuery } from './common/timeline.js';
export { AmtError, isAmtError, type AmtErrorCode } from './common/errors.js';
export { OsAgent } from './provisioning/agent.js';
export { ProvisioningServer } from './provisioning/server.js';
