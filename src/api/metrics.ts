/**
 * Prometheus text exposition (format 0.0.4) of the fleet: devices per provisioning state and
 * control mode, hellos sent/failed, PKI-CH accepted/rejected by code, timeline events per area
 * and failures per code, virtual time. Label values are from fixed vocabularies (states, error
 * codes, event areas), so series stay bounded however large the fleet.
 */
import type { Clock } from '../clock/clock.js';
import type { Emulator } from '../fleet/emulator.js';
import type { FleetObserver } from './observer.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Exposition {
  private readonly lines: string[] = [];
  metric(name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Record<string, string>, number]>): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
  }
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export function renderMetrics(emu: Emulator, clock: Clock, observer: FleetObserver, extra: { sseClients: number }): string {
  const byState = new Map<string, number>();
  let powered = 0;
  for (const d of emu.devices.values()) {
    const key = `${d.state}|${d.controlMode}`;
    byState.set(key, (byState.get(key) ?? 0) + 1);
    if (d.powered) powered++;
  }
  const x = new Exposition();
  const states: Array<[Record<string, string>, number]> = [];
  for (const state of ['Pre', 'In', 'Post']) {
    for (const mode of ['none', 'CCM', 'ACM']) {
      const n = byState.get(`${state}|${mode}`) ?? 0;
      if (n > 0 || mode === 'none') states.push([{ state, control_mode: mode }, n]);
    }
  }
  x.metric('amtemu_devices', 'gauge', 'Emulated devices by provisioning state (Pre/In/Post) and control mode.', states);
  x.metric('amtemu_devices_powered', 'gauge', 'Devices powered on.', [[{}, powered]]);
  x.metric('amtemu_hellos_total', 'counter', 'Provisioning hellos by result.', [
    [{ result: 'sent' }, observer.hellos.sent],
    [{ result: 'failed' }, observer.hellos.failed],
  ]);
  x.metric('amtemu_pkich_total', 'counter', 'PKI-CH (remote configuration certificate) verdicts; rejections by code.', [
    [{ result: 'accepted', code: '' }, observer.pkich.accepted],
    ...[...observer.pkich.rejected].sort().map(([code, n]): [Record<string, string>, number] => [{ result: 'rejected', code }, n]),
  ]);
  x.metric('amtemu_timeline_events_total', 'counter', 'Timeline events by area (the part of the type before the first dot).',
    [...observer.byArea].sort().map(([area, n]) => [{ area }, n]));
  x.metric('amtemu_timeline_failures_total', 'counter', 'Timeline events that carry an error code, by code.',
    [...observer.failures].sort().map(([code, n]) => [{ code }, n]));
  x.metric('amtemu_timeline_retained', 'gauge', 'Timeline events held in memory (at most the capacity).', [[{}, emu.timeline.length]]);
  x.metric('amtemu_timeline_capacity', 'gauge', 'Timeline events kept before the oldest tenth is dropped.', [[{}, emu.timeline.capacity]]);
  x.metric('amtemu_timeline_dropped_total', 'counter', 'Oldest timeline events dropped because the timeline was full.', [[{}, emu.timeline.dropped]]);
  x.metric('amtemu_clock_ms', 'gauge', "Milliseconds on the fleet's clock since start (virtual or scaled).", [[{}, Math.round(clock.now())]]);
  x.metric('amtemu_sse_clients', 'gauge', 'Open live event streams.', [[{}, extra.sseClients]]);
  return x.toString();
}
