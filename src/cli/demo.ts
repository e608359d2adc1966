/**
 * The demo: bare-metal and agent-initiated remote configuration side by side, end to end on
 * real loopback sockets in scaled time. Fake DHCP and DNS, the reference provisioning server,
 * an OS agent, and two emulated PCs that both trust the demo's Client Setup root:
 *  - pc1 ships in setup state and says hello on its own at power-on (seed 000 bare metal);
 *  - pc2 ships in factory state; the OS agent writes an OTP and sends StartConfiguration,
 *    which opens the window and starts the hellos (seed 000 stage 1a, seed 001).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ScaledClock } from '../clock/real-clock.js';
import type { TimelineEvent } from '../common/timeline.js';
import type { AmtDevice } from '../device/device.js';
import { Emulator } from '../fleet/emulator.js';
import { attachListeners } from '../fleet/listeners.js';
import { startReferenceServer } from '../fleet/reference-server.js';
import { createTestPki } from '../pki/test-ca.js';
import { OsAgent } from '../provisioning/agent.js';
import { toMermaidSequence } from '../report/mermaid.js';
import { sideBySide, type Column } from '../report/side-by-side.js';

export type DemoFlow = 'bare-metal' | 'agent-initiated';

export interface DemoOptions {
  flows: DemoFlow[];
  timeScale: number;
  outDir: string;
  colour: boolean;
  /** Real-time bound for the whole run. */
  limitMs: number;
  out: (line: string) => void;
}

export interface DemoResult {
  ok: boolean;
  devices: Array<{ flow: DemoFlow; deviceId: string; state: string; controlMode: string }>;
  files: { timeline: string; mermaid: string };
  events: TimelineEvent[];
}

const DOMAIN = 'corp.example.test';
const SERVER_FQDN = `rcs.${DOMAIN}`;
const ADMIN_PASSWORD = 'Adm1n-Demo!';
const MEBX_PASSWORD = 'Mebx-Demo!1';

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  opts.out(`amtemu demo: ${opts.flows.join(' + ')} on loopback, time x${opts.timeScale}`);
  opts.out('  creating the test PKI (root, intermediate, Intel Client Setup leaf)…');
  const pki = await createTestPki({ fqdn: SERVER_FQDN, now: new Date() });
  // Virtual t=0 is now, after the key generation, so the timeline starts at power-on.
  const clock = new ScaledClock(opts.timeScale);
  const emu = await Emulator.start({
    clock,
    seed: 'demo',
    network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: DOMAIN, provisionServer: '127.0.0.1', ipBase: '127.90.0.10' },
  });
  const listeners = await attachListeners(emu, { http: 0, https: 0, redirection: null, rmcp: null });
  const ref = await startReferenceServer(emu, {
    clock,
    pki,
    helloPort: 0,
    deviceWsmanPort: listeners.ports.https,
    fqdn: SERVER_FQDN,
    adminPassword: ADMIN_PASSWORD,
    mebxPassword: MEBX_PASSWORD,
  });
  const server = ref.server;
  const devices: Array<{ flow: DemoFlow; device: AmtDevice }> = [];
  if (opts.flows.includes('bare-metal')) {
    devices.push({ flow: 'bare-metal', device: emu.addDevice({ deviceId: 'pc1', state: 'setup', helloPort: ref.helloPort, customize: ref.trustRoot }) });
  }
  if (opts.flows.includes('agent-initiated')) {
    devices.push({ flow: 'agent-initiated', device: emu.addDevice({ deviceId: 'pc2', state: 'factory', helloPort: ref.helloPort, customize: ref.trustRoot }) });
  }

  const columns = devices.map(({ flow, device }) => ({ title: `${flow} (${device.id}, ${emu.plannedAddress(device.id)})`, deviceId: device.id }));
  const live = liveTable(columns, opts);
  const unsubscribe = emu.timeline.subscribe(live);

  for (const { device } of devices) device.powerOn();
  const agentDevice = devices.find((d) => d.flow === 'agent-initiated')?.device;
  let agent: OsAgent | undefined;
  if (agentDevice) {
    // The OS boots and its agent runs once the PC has an address (StartConfigurationEx needs option 15).
    const stop = emu.timeline.subscribe((e) => {
      if (e.deviceId === agentDevice.id && e.type === 'dhcp.lease' && !agent) {
        agent = new OsAgent({ device: agentDevice, useEx: true, maxRestarts: 2 });
        agent.start();
        stop();
      }
    });
  }

  const done = (): boolean => devices.every(({ device }) => device.state === 'Post');
  const failed = (): boolean => server.records().some((r) => r.status === 'failed');
  const started = Date.now();
  while (!done() && !failed() && Date.now() - started < opts.limitMs) await new Promise((r) => setTimeout(r, 50));
  await server.idle();
  unsubscribe();
  agent?.stop();

  const events = [...emu.timeline.all()];
  mkdirSync(opts.outDir, { recursive: true });
  const files = { timeline: path.join(opts.outDir, 'demo-timeline.json'), mermaid: path.join(opts.outDir, 'demo-sequence.mmd') };
  writeFileSync(files.timeline, `${JSON.stringify({ flows: opts.flows, timeScale: opts.timeScale, events }, null, 2)}\n`);
  const labels = Object.fromEntries(devices.map(({ flow, device }) => [device.id, `${device.id} (${flow})`]));
  writeFileSync(files.mermaid, toMermaidSequence(events.filter(mermaidWorthy), { title: 'amtemu: bare-metal and agent-initiated remote configuration', labels }));

  const result: DemoResult = {
    ok: done(),
    devices: devices.map(({ flow, device }) => ({ flow, deviceId: device.id, state: device.state, controlMode: device.controlMode })),
    files,
    events,
  };
  opts.out('');
  for (const d of result.devices) {
    const good = d.state === 'Post';
    const rec = server.records().find((r) => r.deviceIp === emu.plannedAddress(d.deviceId));
    const why = good ? '' : ` — ${rec?.code ?? 'NOT_CONFIGURED'}: ${rec?.reason ?? 'did not reach configured within the time limit'}`;
    opts.out(`${good ? '✓' : '✗'} ${d.flow.padEnd(16)} ${d.deviceId}: ${stateText(d.state)} ${d.controlMode}${why}`);
  }
  opts.out(`timeline: ${files.timeline}`);
  opts.out(`sequence diagram (Mermaid): ${files.mermaid}`);
  await server.stop();
  await listeners.close();
  await emu.stop();
  return result;
}

function stateText(s: string): string {
  return s === 'Post' ? 'configured' : s === 'In' ? 'setup' : 'factory';
}

/** The diagram shows the conversation, not every DHCP renewal or HTTP detail. */
function mermaidWorthy(e: TimelineEvent): boolean {
  return !e.type.startsWith('sca.') && !e.type.startsWith('http.');
}

/** Print each event as it happens, in the column of its flow. */
function liveTable(columns: Column[], opts: DemoOptions): (e: TimelineEvent) => void {
  if (columns.length === 2) {
    const header = sideBySide([], [columns[0]!, columns[1]!], 56, opts.colour);
    opts.out(header);
    return (e) => {
      const line = sideBySide([e], [columns[0]!, columns[1]!], 56, opts.colour).split('\n').slice(2).join('\n');
      if (line) opts.out(line);
    };
  }
  const only = columns[0]!;
  opts.out(`${'time'.padEnd(15)} ${only.title}`);
  return (e) => {
    if (e.deviceId !== only.deviceId) return;
    const line = sideBySide([e], [only, { title: '', deviceId: '\u0000' }], 90, opts.colour).split('\n').slice(2).join('\n');
    if (line) opts.out(line.replace(/\s*│\s*$/, ''));
  };
}
